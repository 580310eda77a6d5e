"""Cookbook parsing: recipes, double-escaped code, malformed and deprecated records, bad UTF-8."""

from __future__ import annotations

from pathlib import Path

from gerbil_lsp.data.sources import Sink
from gerbil_lsp.data.sources.cookbooks import decode_escaped, from_cookbook

FIXTURES = Path(__file__).parent / "fixtures"


def _collect() -> Sink:
    sink = Sink()
    from_cookbook(FIXTURES / "cookbook", sink)
    return sink


def test_recipes_become_entries_with_provenance_and_imports():
    sink = _collect()
    greet = next(e for e in sink.entries if e.provenance.group == "cookbook:greet-with-format")
    assert greet.provenance.file == "cookbooks.json"
    assert greet.provenance.line == 2  # the line the record starts on
    assert greet.provenance.gerbil_version == "v0.18.1-173"
    assert greet.code[0].imports == (":std/format",)
    answer = greet.messages[-1].content
    assert "```scheme\n(import :std/format)" in answer and "`:std/format`" in answer
    assert [m.role for m in greet.messages] == ["system", "user", "assistant"]


def test_double_escaped_code_is_decoded():
    sink = _collect()
    entry = next(e for e in sink.entries if e.provenance.group == "cookbook:escaped-twice")
    code = entry.code[0].code
    assert "\\n" not in code and code.count("\n") == 3
    assert '(displayln "total: " (sum [1 2 3]))' in code
    assert "decoded-escapes" in entry.tags


def test_decode_leaves_real_escapes_alone():
    one_line = '(display "hi\\n")'
    assert decode_escaped(one_line) == (one_line, False)  # bare quote: not a JSON string body
    multi = '(def x 1)\n(display "a\\n")'
    assert decode_escaped(multi) == (multi, False)  # has real newlines already


def test_malformed_recipe_warns_with_line_and_the_rest_goes_on():
    sink = _collect()
    warning = next(w for w in sink.warnings if "no-code-here" in w.message)
    assert warning.file == "cookbooks.json" and warning.line == 36
    assert "code" in warning.message
    assert sink.dropped["malformed recipe"] == 1
    assert sink.dropped["deprecated recipe"] == 1
    assert sink.dropped["test placeholder record"] == 1
    sources = {e.provenance.source for e in sink.entries}
    assert {"cookbook", "error-fixes", "security-rules", "resources"} <= sources


def test_invalid_utf8_resource_is_warned_with_its_line_and_read():
    sink = _collect()
    warning = next(w for w in sink.warnings if w.file == "resources/loops.md")
    assert warning.line == 14 and "UTF-8" in warning.message
    loops = [e for e in sink.entries if e.provenance.source == "resources"]
    assert loops and loops[0].provenance.line == 3
    assert "(loop (+ i 1))" in loops[0].code[0].code


def test_error_fix_keeps_wrong_and_right_code():
    sink = _collect()
    fix = next(e for e in sink.entries if e.provenance.source == "error-fixes")
    assert "(car '())" in fix.messages[1].content
    assert [b.role for b in fix.code] == ["question", "answer"]
