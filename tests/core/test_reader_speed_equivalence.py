"""The reader's fast paths give the same trees as its general ones.

The token regex has groups for the commonest tokens (plain symbols, ``(`` and
``)``) that skip classification, and a closed list goes straight into the list
that was current when it opened.  These tests pin the edge cases where a fast
path could disagree with the general rules.
"""

from __future__ import annotations

import bisect

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gerbil_lsp.core.reader import Node, NodeKind, read_source

K = NodeKind


def shape(node: Node) -> tuple:
    """Kind, offsets, text, value, delimiter, closed and children, recursively."""
    return (
        node.kind,
        node.start,
        node.end,
        node.text,
        node.value,
        node.delimiter,
        node.closed,
        tuple(shape(c) for c in node.children),
    )


@pytest.mark.parametrize(
    ("src", "kind", "value"),
    [
        ("foo", K.SYMBOL, "foo"),
        (":", K.SYMBOL, ":"),  # one colon is a symbol, not a keyword
        ("::", K.KEYWORD, ":"),
        ("a:", K.KEYWORD, "a"),
        ("a:b", K.SYMBOL, "a:b"),
        (":std/iter", K.SYMBOL, ":std/iter"),
        ("1+", K.SYMBOL, "1+"),
        ("-1+", K.SYMBOL, "-1+"),
        ("->", K.SYMBOL, "->"),
        ("...", K.SYMBOL, "..."),
        ("+", K.SYMBOL, "+"),
        ("1.", K.NUMBER, 1.0),
        ("+i", K.NUMBER, 1j),
        ("1+2I", K.NUMBER, 1 + 2j),
        ("+inf.0", K.NUMBER, float("inf")),
        ("1:", K.KEYWORD, "1"),
        ("λ", K.SYMBOL, "λ"),
        ("a#b", K.SYMBOL, "a#b"),
    ],
)
def test_atom_classification(src: str, kind: NodeKind, value: object) -> None:
    r = read_source(f"(f {src})")
    assert r.ok
    node = r.forms[0].children[1]
    assert (node.kind, node.value, node.text) == (kind, value, src)
    assert (node.start, node.end) == (3, 3 + len(src))


@pytest.mark.parametrize(
    "src",
    [
        "'(a (b c)) d",
        "(a '(b) c)",
        "(a #;(b (c)) d)",
        "#;(a) (b)",
        "(a . (b c))",
        "[a (b) c]",
        "{a [b] (c d)}",
        "#0=(a #1=(b) #1#)",
        "(a #(1 (2)) #u8(1 2))",
        "(a ,@(b) `(c ,(d)))",
        "((((a))))",
    ],
)
def test_lists_land_where_the_general_rules_put_them(src: str) -> None:
    # The same datum read alone, at top level, inside a list and after a quote
    # has the same shape, shifted by its offset.
    alone = read_source(src)
    nested = read_source(f"(x {src})")
    assert alone.ok and nested.ok

    def shift(s: tuple, by: int) -> tuple:
        return (s[0], s[1] + by, s[2] + by, *s[3:7], tuple(shift(c, by) for c in s[7]))

    got = [shift(shape(f), -3) for f in nested.forms[0].children[1:]]
    assert got == [shape(f) for f in alone.forms]


def test_closed_list_goes_to_the_quote_waiting_for_it() -> None:
    r = read_source("('(a) b)")
    assert r.ok
    outer = r.forms[0]
    quote, b = outer.children
    assert quote.kind is K.QUOTE and quote.delimiter == "'"
    assert (quote.start, quote.end) == (1, 5)
    assert quote.children[0].kind is K.LIST and quote.children[0].children[0].value == "a"
    assert b.value == "b"


def test_mismatched_closer_closes_the_inner_list_and_reading_goes_on() -> None:
    r = read_source("(a [b (c] d) e")
    assert [(e.code, e.message) for e in r.errors] == [
        ("mismatched-closer", "']' does not match '(' opened at 1:7")
    ]
    outer, e = r.forms
    assert (outer.start, outer.end, outer.closed, len(outer.children)) == (0, 12, True, 3)
    assert e.value == "e"
    bracket = outer.children[1]
    assert (bracket.delimiter, bracket.closed, bracket.start, bracket.end) == ("[", True, 3, 9)
    paren = bracket.children[1]
    assert (paren.delimiter, paren.closed, paren.start, paren.end) == ("(", False, 6, 8)
    assert outer.children[2].value == "d"


def test_mismatched_and_stray_closers() -> None:
    r = read_source("(a [b) c] d))(e")
    assert [e.code for e in r.errors] == (
        ["mismatched-closer"] + ["stray-closer"] * 3 + ["unclosed"]
    )
    assert [(f.kind, f.start, f.end, f.closed) for f in r.forms] == [
        (K.LIST, 0, 6, True),
        (K.SYMBOL, 7, 8, True),
        (K.SYMBOL, 10, 11, True),
        (K.LIST, 13, 15, False),
    ]


def test_dotted_tail_list_then_more() -> None:
    r = read_source("((a . (b c)) (d))")
    assert r.ok
    dotted, d = r.forms[0].children
    assert [c.kind for c in dotted.children] == [K.SYMBOL, K.DOT, K.LIST]
    assert (d.start, d.end, d.children[0].value) == (13, 16, "d")


def test_deep_nesting_and_many_closers() -> None:
    depth = 20_000
    r = read_source("(" * depth + ")" * (depth + 3))
    assert [e.code for e in r.errors] == ["stray-closer"] * 3
    node = r.forms[0]
    for _ in range(depth - 1):
        assert node.closed and len(node.children) == 1
        node = node.children[0]
    assert node.children == []


# Texts of parens, brackets, quotes, dots, datum comments and short symbols; no strings,
# chars or |symbols|, whose contents a space would change.
_PAREN_HEAVY = st.text(alphabet="((()))[]{}'`,@#;. \nab:1", max_size=60)


@settings(max_examples=400, deadline=None)
@given(_PAREN_HEAVY)
def test_a_paren_and_its_head_or_a_run_of_closers_reads_as_separate_tokens(src: str) -> None:
    # One scanner match takes '(' with the symbol at its head, and a run of ')'. The same
    # text with a space after every paren has no such matches: it must read the same,
    # every offset shifted by the spaces before it. A datum's end counts only the spaces
    # before its last character; a comment, and a list left open (with the quotes around
    # it), run on over the ones after, to the next token.
    spaced = "".join(c + " " if c in "()" else c for c in src)
    inserted = [i + 1 for i, c in enumerate(src) if c in "()"]  # a space goes in at each of these

    def at_start(o: int) -> int:
        return o + bisect.bisect_right(inserted, o)

    def at_end(o: int) -> int:
        return o + bisect.bisect_left(inserted, o)

    def runs_on(s: tuple) -> bool:
        return not s[6] or (s[0] is K.QUOTE and bool(s[7]) and runs_on(s[7][-1]))

    def moved(s: tuple) -> tuple:
        end = at_start(s[2]) if runs_on(s) else at_end(s[2])
        return (s[0], at_start(s[1]), end, *s[3:7], tuple(moved(c) for c in s[7]))

    fast, slow = read_source(src), read_source(spaced)
    assert [moved(shape(f)) for f in fast.forms] == [shape(f) for f in slow.forms]
    assert [(e.code, at_start(e.span.start.offset), at_end(e.span.end.offset)) for e in fast.errors] == \
        [(e.code, e.span.start.offset, e.span.end.offset) for e in slow.errors]
    assert len(fast.comments) == len(slow.comments)
    for mine, theirs in zip(fast.comments, slow.comments, strict=True):
        start, end = mine.start.offset, mine.end.offset
        # a line comment runs on to the line's end; a #; comment ends where its datum does,
        # which may be a list left open (the oracle cannot tell which, so both are fine)
        ends = {at_start(end)} if src.startswith(";", start) else {at_start(end), at_end(end)}
        assert at_start(start) == theirs.start.offset and theirs.end.offset in ends


@pytest.mark.parametrize(
    "src",
    ["('(a (b)))", "(a . (b)))", "(x #;(a (b))) y", "(a [b (c)))", "(a)))", "(a:b c)", "(a: c)", "(1+ x)",
     "(. a)", "(a ,(b (c))) d", "'((a)) (b)"],
)
def test_closer_runs_and_heads_in_the_slow_cases(src: str) -> None:
    spaced = "".join(c + " " if c in "()" else c for c in src)
    assert [(e.code, e.message.split(" at ")[0]) for e in read_source(src).errors] == \
        [(e.code, e.message.split(" at ")[0]) for e in read_source(spaced).errors]
    assert [f.kind for f in read_source(src).forms] == [f.kind for f in read_source(spaced).forms]
