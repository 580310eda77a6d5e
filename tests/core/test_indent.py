"""Lisp indentation (gerbil_lsp.core.indent): Gerbil's layout, only leading whitespace ever changes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gerbil_lsp.core.indent import (
    apply,
    body_position,
    indent_line,
    reindent,
    signature_body_position,
)
from gerbil_lsp.core.reader import read_source

# Written for these tests in the layout of Gerbil's own sources.
WELL_INDENTED = """\
(import :std/sugar
        :std/iter)
(export
  count-words
  (struct-out point))

;;; Section heading, left where it is
(defstruct point (x y)
  final: #t)

(def (count-words text (sep #\\space))
  ;; a comment is indented as the code around it
  (let ((table (make-hash-table))
        (words (string-split text sep)))
    (for (word words)
      (hash-update! table word 1+ 0))
    (if (zero? (hash-length table))
      #f
      table)))

(def (sum xs)
  (let loop ((rest xs) (acc 0))
    (match rest
      ([x . more]
       (loop more (+ acc x)))
      ([] acc))))

(def (describe p)
  (cond
   ((point? p)
    (string-append "point " (number->string (point-x p))))
   (else
    (error "not a point" p))))

(def (safely thunk)
  (try
   (thunk)
   (catch (e)
     (displayln "failed: " (error-message e))
     #f)))

(def (call-many f)
  (list (f 1)
        (f 2)
        (apply f
               '(3 4))))

(def table
  #(1 2 3
      4 5 6))

(defrules swap! ()
  ((_ a b)
   (let (tmp a)
     (set! a b)
     (set! b tmp))))

(def (with-options)
  (when-let (x (getenv "HOME"))
    (with-lock mutex
      (lambda ()
        (set! home
          x)))
    (unless x
      (make-point x: 1
                  y: 2))))
"""


def flattened(text: str) -> str:
    return "\n".join(line.lstrip() for line in text.split("\n"))


def reindented(text: str, **options) -> str:
    result = read_source(text)
    assert not result.errors
    return apply(result, reindent(result, **options))


def test_gerbil_layout_is_left_as_it_is():
    result = read_source(WELL_INDENTED)
    assert reindent(result) == []
    # line by line too (each computed from its own top-level form only, as a newline or a range does)
    lines = WELL_INDENTED.split("\n")
    assert [n for n, line in enumerate(lines) if line.strip() and indent_line(result, n) is not None] == []
    assert reindent(result, first=10, last=20) == []


def test_flattened_code_gets_gerbil_layout_back():
    text = flattened(WELL_INDENTED)
    assert text != WELL_INDENTED
    # the section heading was at column 0 already; everything else is recomputed
    assert reindented(text) == WELL_INDENTED


def test_code_over_indented_comes_back():
    shifted = "\n".join("        " + line if line.strip() else line for line in WELL_INDENTED.split("\n"))
    expected = WELL_INDENTED.replace(";;; Section", "        ;;; Section")  # a ;;; heading is never moved
    assert reindented(shifted) == expected


def test_only_leading_whitespace_changes_and_strings_and_block_comments_stay():
    text = '(def (usage)\n"first line\n      second line\n  third"\n#| kept\n        as is |#\n(display\n"x"))\n'
    out = reindented(text)
    assert '"first line\n      second line\n  third"' in out
    assert "#| kept\n        as is |#" in out
    assert out.split("\n")[-3] == '  (display'
    assert [line.strip() for line in out.split("\n")] == [line.strip() for line in text.split("\n")]


def test_tabs_are_measured_and_written_when_asked():
    # two columns per tab: `(foo` is at column 2 and `a` at 7, where `b` is
    text = "(def (f)\n\t(foo a\n\t\t\t b))\n"
    assert reindent(read_source(text), tab_size=2, tabs=True) == []
    # as spaces: the tabs are replaced, the columns stay
    assert reindented(text, tab_size=2) == "(def (f)\n  (foo a\n       b))\n"
    assert reindented("(def (f)\n(foo a\nb))\n", tab_size=4, tabs=True) == "(def (f)\n  (foo a\n\t   b))\n"


def test_a_macro_body_found_by_its_pattern_or_signature():
    pattern = read_source("(_ table body ...)").forms[0].children[1:]
    assert body_position(pattern) == 1
    assert body_position(read_source("(_ a b . body)").forms[0].children[1:]) == 2
    assert signature_body_position("(for/fold <iv-bind> <bind> body ...)") == 2
    assert signature_body_position("(hash-get hash key) -> any") is None
    text = "(with-table t\n(display t))\n(try\n(work))\n"
    # what the file knows of with-table gives it a body; try stays a call, as Gerbil's sources lay it out
    assert reindented(text, known={"with-table": 1, "try": 0}.get) == "(with-table t\n  (display t))\n(try\n (work))\n"
    assert reindented(text) == "(with-table t\n  (display t))\n(try\n (work))\n"  # with-...: a body anyway
    assert reindented("(table-do t\n(display t))\n", known={"table-do": 1}.get) == "(table-do t\n  (display t))\n"
    assert reindented("(table-do t\n(display t))\n") == "(table-do t\n          (display t))\n"


def test_a_line_opened_in_an_unfinished_form():
    def new_line(text: str) -> int:
        change = indent_line(read_source(text), text.count("\n"))
        return 0 if change is None else change.new

    assert new_line("(def (foo x)\n") == 2
    assert new_line("(def (foo x)\n  (let ((a 1)\n") == 8  # another binding
    assert new_line("(def (foo x)\n  (let ((a 1))\n") == 4  # the body
    assert new_line("(foo bar\n") == 5
    assert new_line("(def (f x)\n  (bar x))\n") == 0


# ---------------------------------------------------------------------------------------------- properties

ATOMS = ["x", "def", "let", "lambda", "when", "if", "cond", "match", "foo", "1", "#t", "key:", '"s"', '"a\n  b"',
         "'q", "#\\space"]


@st.composite
def forms(draw, depth: int = 0) -> str:
    if depth > 3 or draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(ATOMS))
    opening, closing = draw(st.sampled_from([("(", ")"), ("[", "]"), ("#(", ")"), ("'(", ")")]))
    parts = draw(st.lists(forms(depth + 1), max_size=5))
    gaps = draw(st.lists(st.sampled_from([" ", "\n", "\n   ", " ;; c\n", "\n\t "]), min_size=len(parts),
                         max_size=len(parts)))
    return opening + "".join(gap + part if i else part for i, (gap, part) in enumerate(zip(gaps, parts, strict=True))) + closing


@settings(max_examples=150, deadline=None)
@given(st.lists(forms(), min_size=1, max_size=4))
def test_reindenting_keeps_every_datum_and_is_stable(parts):
    text = "\n".join(parts) + "\n"
    result = read_source(text)
    assert not result.errors
    out = apply(result, reindent(result))
    again = read_source(out)
    # same data, same comments; only the whitespace starting a line changed
    assert [(n.kind, n.value) for f in again.forms for n in f.walk() if not n.children] == \
        [(n.kind, n.value) for f in result.forms for n in f.walk() if not n.children]
    assert [line.lstrip(" \t") for line in out.split("\n")] == [line.lstrip(" \t") for line in text.split("\n")]
    assert reindent(again) == []
