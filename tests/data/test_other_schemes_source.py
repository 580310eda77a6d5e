"""Entries from the table of other Schemes' names: asked with the other name, answered with Gerbil's."""

from __future__ import annotations

from gerbil_lsp.core.index import SymbolIndex, default_index
from gerbil_lsp.core.other_schemes import table
from gerbil_lsp.data.checks.identifiers import IdentifierCheck
from gerbil_lsp.data.sources import Sink
from gerbil_lsp.data.sources.other_schemes import from_other_schemes


def test_each_name_is_asked_about_and_answered_with_names_the_index_has():
    index = default_index()
    sink = Sink()
    from_other_schemes(index, sink, version="0.18")
    assert len(sink.entries) == len(table()) and not sink.dropped  # the bundled index has an answer for each
    checker = IdentifierCheck(index)
    by_name = {}
    for entry in sink.entries:
        question, answer = entry.messages[1].content, entry.messages[2].content
        other = next(name for name in table() if f"`{name}`" in question)
        assert f"`{other}`" not in answer  # answers never show the other Scheme's name
        assert checker.check(entry).ok and entry.claims
        assert entry.provenance.group == f"other-schemes:{other}" and entry.provenance.gerbil_version == "0.18"
        by_name[other] = answer
    assert by_name["string->jsexpr"].startswith("In Gerbil, use `string->json-object`:")
    assert "from `(import :std/text/json)`" in by_name["string->jsexpr"]
    assert "`hash-ref` or `hash-get`" in by_name["hash-table-ref"] and "in the prelude" in by_name["hash-table-ref"]


def test_a_name_the_index_cannot_answer_is_dropped_with_its_reason():
    sink = Sink()
    from_other_schemes(SymbolIndex(), sink)
    assert sink.entries == []
    assert sink.dropped == {"other-schemes: no Gerbil name for it in the index": len(table())}
