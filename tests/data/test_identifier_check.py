"""The identifier check against an index whose prelude is complete (built from a source tree)."""

from __future__ import annotations

from pathlib import Path

from gerbil_lsp.core.index import build_index
from gerbil_lsp.data.checks.identifiers import IdentifierCheck, IdentifierVerdict
from gerbil_lsp.data.entries import CodeBlock

INDEX_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "index"


def unresolved(code: str) -> list[str]:
    index = build_index(INDEX_FIXTURES / "docs", INDEX_FIXTURES / "gerbil-src")
    assert index.prelude_complete()
    verdict = IdentifierVerdict()
    IdentifierCheck(index).check_block(CodeBlock(code), verdict)
    return verdict.unresolved


def test_gambit_primitives_pass_and_invented_names_do_not():
    assert unresolved("(begin (##current-time))") == []  # Gambit's runtime: no Gerbil module lists it
    assert unresolved("(begin (hash-get (hash-table-ref 1 2) 3))") == ["hash-table-ref"]
