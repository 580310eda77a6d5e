"""Which symbols are uses of a name: quoted data, case datums and hash keys are not (in process)."""

from __future__ import annotations

from gerbil_lsp.core.reader import read_source
from gerbil_lsp.server.occurrences import symbols_named


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
