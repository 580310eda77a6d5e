"""Semantic tokens through a real `gerbil-lsp serve` process over stdio (pytest-lsp)."""

from __future__ import annotations

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from gerbil_lsp.core.index import build_index
from tests.server.test_lsp_features import FIXTURE_SRC

# Written for these tests.
TEXT = """(import :std/iter (only-in :std/sugar try))
(defrules over (in) ((_ t body ...) (let ((x t)) body ...)))
(def (total xs (start 0))
  (let ((sum 'data))
    (over xs (hash-get xs sum) (undefined-thing start))))
(defstruct point (x y))
(def origin (point 0 0))
(defmethod {norm point} (lambda (self) {norm self}))
"""


def decoded(data: list[int], legend: types.SemanticTokensLegend) -> list[tuple[int, str, str, set[str]]]:
    """(line, text, type, modifiers) of each token, undoing LSP's relative encoding."""
    lines = TEXT.split("\n")
    out, line, character = [], 0, 0
    for i in range(0, len(data), 5):
        delta_line, delta_character, length, kind, modifiers = data[i:i + 5]
        line += delta_line
        character = character + delta_character if delta_line == 0 else delta_character
        names = {name for bit, name in enumerate(legend.token_modifiers) if modifiers & (1 << bit)}
        out.append((line, lines[line][character:character + length], legend.token_types[kind], names))
    return out


@pytest.mark.parametrize("index", ["bundled", "built from a Gerbil tree"])
async def test_names_are_coloured_by_what_they_are_bound_to(client: LanguageClient, tmp_path, index):
    options = {}
    if index != "bundled":  # its prelude names carry the module that defines them (:gerbil/core/syntax...)
        build_index(None, FIXTURE_SRC).save(tmp_path / "index.json.gz")
        options = {"index": {"path": str(tmp_path / "index.json.gz")}}
    init = await client.initialize_session(types.InitializeParams(
        capabilities=types.ClientCapabilities(), root_uri=tmp_path.as_uri(), initialization_options=options))
    provider = init.capabilities.semantic_tokens_provider
    assert provider.full and provider.range
    uri = (tmp_path / "main.ss").as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="gerbil", version=1, text=TEXT)))
    result = await client.text_document_semantic_tokens_full_async(
        types.SemanticTokensParams(text_document=types.TextDocumentIdentifier(uri=uri)))
    tokens = decoded(result.data, provider.legend)
    seen = {(line, text): (kind, modifiers) for line, text, kind, modifiers in tokens}

    assert seen[(0, ":std/iter")] == ("namespace", set()) and seen[(0, ":std/sugar")] == ("namespace", set())
    assert seen[(2, "def")] == ("keyword", {"defaultLibrary"})  # the prelude's syntax
    assert seen[(1, "over")] == ("macro", {"declaration"}) and seen[(4, "over")] == ("macro", set())
    assert seen[(1, "...")] == ("keyword", {"defaultLibrary"})
    assert seen[(2, "total")] == ("function", {"declaration"})
    assert seen[(2, "xs")] == ("variable", set()) and seen[(4, "start")] == ("variable", set())
    assert seen[(4, "hash-get")] == ("function", {"defaultLibrary"})
    assert seen[(5, "point")] == ("class", {"declaration"}) and seen[(6, "point")] == ("class", set())
    assert seen[(6, "origin")] == ("variable", {"declaration"})
    methods = [(text, kind) for line, text, kind, _ in tokens if line == 7 and text != "defmethod"]
    # both norms are the method (a defmethod's and a call's); the type is the struct, self a parameter
    assert methods == [("norm", "method"), ("point", "class"), ("lambda", "keyword"), ("self", "variable"),
                       ("norm", "method"), ("self", "variable")]
    texts = [text for _, text, _, _ in tokens]
    assert "data" not in texts  # quoted data is no name
    assert "undefined-thing" not in texts  # nor is an unbound one: its diagnostic says so
    assert [line for line, *_ in tokens] == sorted(line for line, *_ in tokens)

    ranged = await client.text_document_semantic_tokens_range_async(types.SemanticTokensRangeParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=types.Range(start=types.Position(line=5, character=0), end=types.Position(line=6, character=0))))
    lines = {line for line, *_ in decoded(ranged.data, provider.legend)}
    assert lines == {5, 6}  # the forms over the range, whole: (defstruct ...) and (def origin ...)
