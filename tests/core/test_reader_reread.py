"""Re-reading an edited text from the previous result: node for node what a whole read gives.

``read_source(text, previous)`` keeps the top-level forms outside the edit and
reads the rest; every test compares it with ``read_source(text)`` on every
field of every node (offsets, kinds, values, lazily built spans), the errors,
the comments and ``lang``, over hand-picked edits that must fall back to a
whole read and over random edit sequences.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from gerbil_lsp.core.reader import read_source
from tests.edits import edited_versions

BASE = """\
(import :std/sugar)
;; a comment between forms
(def (f x) ; trailing
  (let ((s "a string (with parens)"))
    (string-append s "\\n")))

#;(def (gone) 1)
(def g '(quoted list) )
#| block
   comment |#
(def h `(a ,b ,@c))
[vector #(1 2 3) #u8(4 5)]
(def (k) #\\( #\\) |sym bol| key: 1.5 -3/4)
last-atom
"""


def node_fields(node) -> tuple:
    value = node.value
    if isinstance(value, float) and math.isnan(value):
        value = "nan"
    span = node.span
    return (node.kind, node.start, node.end, node.text, type(node.value).__name__, repr(value), node.delimiter,
            node.closed, len(node.children), span.start.line, span.start.character, span.end.line,
            span.end.character)


def snapshot(result) -> tuple:
    nodes = []
    stack = list(reversed(result.forms))
    while stack:
        node = stack.pop()
        nodes.append(node_fields(node))
        stack.extend(reversed(node.children))
    errors = [(e.code, e.message, e.span.start.offset, e.span.end.offset) for e in result.errors]
    comments = [(c.start.offset, c.start.line, c.start.character, c.end.offset, c.end.line, c.end.character)
                for c in result.comments]
    return result.text, len(result.forms), nodes, errors, comments, result.lang, result.foreign


def check_versions(texts: list[str]) -> list:
    previous = read_source(texts[0])
    results = [previous]
    for text in texts[1:]:
        again = read_source(text, previous)
        assert snapshot(again) == snapshot(read_source(text)), text
        results.append(again)
        previous = again
    return results


def test_an_edit_inside_one_form_keeps_the_other_forms_nodes():
    first = read_source(BASE)
    kept_before, kept_after = first.forms[0], first.forms[-1]
    text = BASE.replace("(quoted list)", "(quoted longer list)")
    second = read_source(text, first)
    assert snapshot(second) == snapshot(read_source(text))
    assert second.forms[0] is kept_before and second.forms[-1] is kept_after  # reused, moved
    assert first.taken


def test_a_result_is_taken_over_once():
    first = read_source(BASE)
    read_source(BASE.replace("(f x)", "(f y)"), first)
    text = BASE.replace("(f x)", "(f z)")
    assert snapshot(read_source(text, first)) == snapshot(read_source(text))  # a whole read: first was taken


def test_edits_that_change_how_the_rest_reads():
    check_versions([BASE, BASE.replace("(def g", '(def g "'), BASE])  # an open string swallows the rest
    check_versions([BASE, BASE.replace("(def g", "#| (def g"), BASE])  # so does a block comment
    check_versions([BASE, BASE.replace("(def g", "#;(def g"), BASE])  # a datum comment takes the next form
    check_versions([BASE, BASE.replace("(def h", "'(def h"), BASE])  # a quote makes it another datum
    check_versions([BASE, BASE.replace("last-atom", "last-atomx"), BASE + "more"])  # an atom grows at the end
    check_versions([BASE, "#lang :std/foo\n" + BASE, BASE, "#!/usr/bin/env gxi\n" + BASE, BASE])
    check_versions([BASE, BASE + "\n#!eof\n(after the end)", BASE])
    check_versions([BASE, BASE.replace("(def (k)", "(def (k"), BASE])  # unbalanced: errors, then healed
    check_versions([BASE, BASE.replace("(def (f x)", ")(def (f x)"), BASE])  # a stray closer


PIECES = st.sampled_from(["x", " ", "\n", "(", ")", "[", "]", '"', "'", "`", ",", ";", "#;", "#|", "|#", "|",
                          "#\\", "(def (q) 1)", "\n(new form)\n", "1.5", "key:", "#(", "#u8(", ".", "#!eof"])


@settings(max_examples=300, deadline=None)
@given(edits=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 8), PIECES), min_size=1, max_size=15))
def test_random_edit_sequences_read_as_whole_reads(edits):
    texts = edited_versions(BASE, edits)
    check_versions(texts)
