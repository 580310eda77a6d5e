"""Entries made in code for the format, dedupe and validate tests (no reader or index needed)."""

from __future__ import annotations

import pytest

from gerbil_lsp.data.entries import CodeBlock, Entry, FimParts, Provenance, chat


def make_chat(question: str, answer: str, *, group: str = "g", source: str = "cookbook", line: int = 1) -> Entry:
    return chat(question, answer, Provenance(source, f"{group}.json", line, None, group))


def make_fim(prefix: str, middle: str, suffix: str, **kw) -> Entry:
    return Entry(kind="fim", provenance=Provenance("gerbil-src", "a.ss", 0, None, "src:a.ss"),
                 fim=FimParts(prefix, middle, suffix, **kw), code=(CodeBlock(prefix + middle + suffix),))


@pytest.fixture
def sample_entries() -> list[Entry]:
    return [
        make_chat("How do I add two numbers in Gerbil?", "Use `+`:\n\n```scheme\n(+ 1 2)\n```", group="a"),
        make_chat("How do I print a line?", "Use `displayln`:\n\n```scheme\n(displayln \"hi\")\n```", group="b"),
        make_fim("(def (f x)\n  ", "(* x x)", ")\n"),
        make_fim("(def (g y) ", "(+ y 1)", ")\n", path="lib/g.ss", repo_name="demo",
                 context_files=(("lib/h.ss", "(def (h) 1)\n"),)),
    ]
