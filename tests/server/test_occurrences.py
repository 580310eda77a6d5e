"""Which symbols are uses of a name: quoted data, case datums and hash keys are not (in process)."""

from __future__ import annotations

from gerbil_lsp.core.reader import read_source
from gerbil_lsp.server.occurrences import spelled_in, symbols_named


def uses(text: str, name: str = "x") -> list[int]:
    """Offsets of the uses of ``name`` in ``text``."""
    return [node.start for form in read_source(text).forms for node in symbols_named(form, {name})]


def marked(marks: str) -> list[int]:
    return [i for i, char in enumerate(marks) if char == "^"]


def test_quoted_data_is_not_a_use_but_an_unquote_and_a_syntax_template_are():
    text = "(f x 'x (quote x) `(x ,x ,@(g x)) #'x)"
    marks = "   ^                   ^      ^     ^ "
    assert uses(text) == marked(marks)


def test_case_datums_and_hash_keys_are_data_their_bodies_are_not():
    text = "(case x ((x y) x) (else (h x)))"
    marks = "      ^        ^           ^   "
    assert uses(text) == marked(marks)
    text = "(hash (x x) (y (f x)))"
    marks = "         ^        ^   "
    assert uses(text) == marked(marks)


def test_a_quasiquote_inside_an_unquote_counts_again():
    text = "`(a ,(list `(x ,x)))"
    marks = "                ^   "
    assert uses(text) == marked(marks)


def test_a_search_reads_the_files_that_spell_the_name_as_a_whole_symbol():
    may_use = spelled_in("error")
    for text in ("(error \"no\")", "error", "(f\terror)", "[error]", "{error x}", "(list ,@error)", "#'error",
                 "(f |error|)", "(g error;why\n)", "'(a . error)"):
        assert may_use(text), text
    for text in ("(raise-io-error x)", "(error-message e)", "(f error?)", "(f error: 1)", "(f errors)", ""):
        assert not may_use(text), text
    # (prefix-in :std/error e:) makes e:error, which spells it inside a longer symbol
    assert spelled_in("error")("(import (prefix-in :std/error e:))\n(e:error 1)")
    assert spelled_in("a.b")("(f a.b)") and not spelled_in("a.b")("(f axb)")  # the name is no pattern
