"""Tests for the Gerbil reader: lexical forms, positions, recovery, robustness."""

from __future__ import annotations

import math
import time
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gerbil_lsp.core.reader import (
    LineIndex,
    Node,
    NodeKind,
    Pos,
    ReadError,
    ReadResult,
    Span,
    read_file,
    read_source,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "reader"
K = NodeKind


def one(src: str) -> Node:
    """The single form of an error-free text."""
    r = read_source(src)
    assert r.errors == [], r.errors
    assert len(r.forms) == 1, r.forms
    return r.forms[0]


def codes(r: ReadResult) -> list[tuple[str, int, int]]:
    return [(e.code, e.span.start.line, e.span.start.character) for e in r.errors]


def check_tree(r: ReadResult) -> None:
    """Structural invariants every result must satisfy, whatever the input."""
    n = len(r.text)
    prev_end = -1
    for form in r.forms:
        assert form.start >= prev_end
        prev_end = form.end
    for form in r.forms:
        for node in form.walk():
            assert 0 <= node.start <= node.end <= n
            if node.kind in (K.LIST, K.VECTOR, K.QUOTE):
                last = node.start
                for child in node.children:
                    assert node.start <= child.start <= child.end <= node.end
                    assert child.start >= last
                    last = child.end
            else:
                assert len(node.children) == 0
                assert node.text == r.text[node.start : node.end]
    for e in r.errors:
        assert 0 <= e.span.start.offset <= e.span.end.offset <= n
        assert isinstance(e.code, str) and e.message
    for c in r.comments:
        assert 0 <= c.start.offset <= c.end.offset <= n


# ---------------------------------------------------------------------------
# Atoms


@pytest.mark.parametrize(
    "src, kind, value",
    [
        ("foo", K.SYMBOL, "foo"),
        ("set!", K.SYMBOL, "set!"),
        ("|odd sym|", K.SYMBOL, "odd sym"),
        (r"|a\|b|", K.SYMBOL, "a|b"),
        ("||", K.SYMBOL, ""),
        (":std/iter", K.SYMBOL, ":std/iter"),
        (":", K.SYMBOL, ":"),
        ("name:", K.KEYWORD, "name"),
        ("transparent:", K.KEYWORD, "transparent"),
        ("|odd key|:", K.KEYWORD, "odd key"),
        ("::", K.KEYWORD, ":"),  # Gambit: any token longer than 1 ending in ':'
        ("@list", K.SYMBOL, "@list"),
        ("@method", K.SYMBOL, "@method"),
        ("@", K.SYMBOL, "@"),
        ("##car", K.SYMBOL, "##car"),
        ("#%app", K.SYMBOL, "#%app"),
        ("#:gensym", K.SYMBOL, "gensym"),
        ("...", K.SYMBOL, "..."),
        ("1+", K.SYMBOL, "1+"),
        ("1-", K.SYMBOL, "1-"),
        ("->", K.SYMBOL, "->"),
        ("-", K.SYMBOL, "-"),
        ("+", K.SYMBOL, "+"),
        ("a.b", K.SYMBOL, "a.b"),
        ("a#b", K.SYMBOL, "a#b"),
        ("./base", K.SYMBOL, "./base"),
        ("λ", K.SYMBOL, "λ"),
        ("1/0", K.SYMBOL, "1/0"),
        ("#t", K.BOOLEAN, True),
        ("#f", K.BOOLEAN, False),
        ("#true", K.BOOLEAN, True),
        ("#false", K.BOOLEAN, False),
        ("#T", K.BOOLEAN, True),
        ("#!eof", K.SPECIAL, "#!eof"),
        ("#!void", K.SPECIAL, "#!void"),
        ("#!optional", K.SPECIAL, "#!optional"),
        ("#!rest", K.SPECIAL, "#!rest"),
        ("#!key", K.SPECIAL, "#!key"),
        ("#!default", K.SPECIAL, "#!default"),
        ("#!unbound", K.SPECIAL, "#!unbound"),
    ],
)
def test_symbols_keywords_booleans_specials(src, kind, value):
    # A leading form keeps '#!' from being taken as a script line.
    r = read_source("x " + src)
    assert r.errors == []
    node = r.forms[1]
    assert node.kind is kind
    assert node.value == value
    assert node.text == src
    assert (node.start, node.end) == (2, 2 + len(src))


@pytest.mark.parametrize(
    "src, value",
    [
        ("0", 0),
        ("42", 42),
        ("-7", -7),
        ("+5", 5),
        ("3.14", 3.14),
        (".5", 0.5),
        ("-.5", -0.5),
        ("1.", 1.0),
        ("1e3", 1000.0),
        ("-2.5e-3", -0.0025),
        ("1/2", Fraction(1, 2)),
        ("-3/6", Fraction(-1, 2)),
        ("4/2", 2),
        ("#x1F", 31),
        ("#XfF", 255),
        ("#x-10", -16),
        ("#b101", 5),
        ("#o17", 15),
        ("#d10", 10),
        ("#e1.5", Fraction(3, 2)),
        ("#e1e2", 100),
        ("#i1/2", 0.5),
        ("#i3", 3.0),
        ("#x#e10", 16),
        ("#e#x10", 16),
        ("#x1/2", Fraction(1, 2)),
        ("+inf.0", math.inf),
        ("-inf.0", -math.inf),
        ("1+2i", complex(1, 2)),
        ("-i", complex(0, -1)),
        ("1@0", complex(1, 0)),
    ],
)
def test_numbers(src, value):
    node = one(src)
    assert node.kind is K.NUMBER
    assert node.value == value
    assert type(node.value) is type(value)


def test_nan_and_huge_numbers():
    for src in ("+nan.0", "-nan.0"):
        node = one(src)
        assert node.kind is K.NUMBER and math.isnan(node.value)
    huge = "9" * 5000  # more digits than int() converts by default: kept as text
    node = one(huge)
    assert node.kind is K.NUMBER and node.value == huge
    node = one("#e1e99999999")  # never computes a 10**99999999
    assert node.kind is K.NUMBER and node.value == "#e1e99999999"


@pytest.mark.parametrize(
    "src, value",
    [
        ('"abc"', "abc"),
        ('""', ""),
        (r'"a\nb\tc"', "a\nb\tc"),
        (r'"q\"q"', 'q"q'),
        (r'"back\\slash"', "back\\slash"),
        (r'"\a\b\v\f\r\0"', "\a\b\v\f\r\0"),
        (r'"\x41;\x3bb;"', "Aλ"),
        (r'"\u00e9\U0001F600"', "é😀"),
        (r'"\101\60"', "A0"),
        (r'"\|\?\' "', "|?' "),
        ('"multi\nline"', "multi\nline"),
        ('"line \\\n      continued"', "line continued"),
        ('"crlf \\\r\n  continued"', "crlf continued"),
        ('"emoji 😀"', "emoji 😀"),
    ],
)
def test_strings(src, value):
    node = one(src)
    assert node.kind is K.STRING
    assert node.value == value
    assert node.text == src


@pytest.mark.parametrize(
    "src, value",
    [
        (r"#\a", "a"),
        (r"#\A", "A"),
        (r"#\space", " "),
        (r"#\newline", "\n"),
        (r"#\linefeed", "\n"),
        (r"#\tab", "\t"),
        (r"#\nul", "\0"),
        (r"#\null", "\0"),
        (r"#\alarm", "\a"),
        (r"#\backspace", "\b"),
        (r"#\return", "\r"),
        (r"#\escape", "\x1b"),
        (r"#\delete", "\x7f"),
        (r"#\x41", "A"),
        (r"#\x3bb", "λ"),
        (r"#\u03BB", "λ"),
        (r"#\x", "x"),
        (r"#\u", "u"),
        (r"#\(", "("),
        (r"#\)", ")"),
        (r"#\[", "["),
        (r"#\;", ";"),
        (r"#\"", '"'),
        (r"#\'", "'"),
        (r"#\|", "|"),
        (r"#\#", "#"),
        ("#\\\\", "\\"),
        (r"#\λ", "λ"),
        ("#\\😀", "😀"),
        ("#\\ ", " "),
    ],
)
def test_chars(src, value):
    node = one(src)
    assert node.kind is K.CHAR
    assert node.value == value
    assert node.text == src


def test_char_followed_by_delimiter():
    node = one(r"(#\a)")
    assert [c.value for c in node.children] == ["a"]
    r = read_source(r"(list #\( #\))")
    assert r.ok and [c.value for c in r.forms[0].children[1:]] == ["(", ")"]


# ---------------------------------------------------------------------------
# Compound forms


def test_lists_with_each_delimiter():
    r = read_source("(a b) [c d] {e f}")
    assert r.ok
    assert [f.delimiter for f in r.forms] == ["(", "[", "{"]
    assert all(f.kind is K.LIST and f.closed for f in r.forms)
    assert [f.head for f in r.forms] == ["a", "c", "e"]
    assert r.forms[0].text == ""  # compound nodes carry no text ...
    assert r.text_of(r.forms[1]) == "[c d]"  # ... ask the result for it


def test_nested_and_empty():
    node = one("(define (f x) (g (h x) []))")
    assert node.head == "define"
    inner = node.children[2]
    assert inner.head == "g"
    assert inner.children[2].children == []
    assert one("()").children == []


@pytest.mark.parametrize(
    "src, delim, values",
    [
        ('#(1 a "s")', "#(", [1, "a", "s"]),
        ("#()", "#(", []),
        ("#u8(0 127 255)", "#u8(", [0, 127, 255]),
        ("#s8(-128 127)", "#s8(", [-128, 127]),
        ("#u16(65535)", "#u16(", [65535]),
        ("#s32(-1)", "#s32(", [-1]),
        ("#u64(1)", "#u64(", [1]),
        ("#f32(1.5)", "#f32(", [1.5]),
        ("#f64(1.5 -2.)", "#f64(", [1.5, -2.0]),
    ],
)
def test_vectors(src, delim, values):
    node = one(src)
    assert node.kind is K.VECTOR
    assert node.delimiter == delim
    assert [c.value for c in node.children] == values


@pytest.mark.parametrize("prefix", ["'", "`", ",", ",@", "#'", "#`", "#,", "#,@", "#&"])
def test_quote_forms(prefix):
    node = one(prefix + "(a b)")
    assert node.kind is K.QUOTE
    assert node.delimiter == prefix
    assert node.value is None
    assert len(node.children) == 1
    assert node.children[0].kind is K.LIST
    assert (node.start, node.end) == (0, len(prefix) + 5)


def test_nested_quotes_and_quasiquote():
    node = one("`(a ,b ,@c #,d ',e)")
    kids = node.children[0].children
    assert [k.delimiter for k in kids] == ["", ",", ",@", "#,", "'"]
    assert kids[4].children[0].delimiter == ","
    node = one("''x")
    assert node.children[0].children[0].value == "x"


def test_unquote_splicing_vs_unquote_at_symbol():
    r = read_source(",@x , @y")
    assert r.ok
    assert r.forms[0].delimiter == ",@" and r.forms[0].children[0].value == "x"
    assert r.forms[1].delimiter == "," and r.forms[1].children[0].value == "@y"


def test_dotted_pairs():
    node = one("(a . b)")
    assert [c.kind for c in node.children] == [K.SYMBOL, K.DOT, K.SYMBOL]
    assert node.children[1].text == "."
    node = one("(a b . (c))")
    assert [c.kind for c in node.children] == [K.SYMBOL, K.SYMBOL, K.DOT, K.LIST]
    node = one("[x . y]")
    assert node.children[1].kind is K.DOT
    node = one("(lambda (a . rest) rest)")
    assert node.children[1].children[1].kind is K.DOT
    # '.' at the head of a list reads as the symbol '.' (Gambit allows it)
    node = one("(. a)")
    assert node.children[0].is_symbol(".")
    # .5 and ... are not dots
    node = one("(a .5 ...)")
    assert [c.kind for c in node.children] == [K.SYMBOL, K.NUMBER, K.SYMBOL]


def test_labels_and_serial_numbers():
    r = read_source("#0=(a . #0#) #42")
    assert r.ok
    label = r.forms[0]
    assert label.kind is K.QUOTE and label.delimiter == "#0="
    assert label.children[0].children[2].value == "#0#"
    assert r.forms[1].kind is K.SPECIAL and r.forms[1].value == "#42"


# ---------------------------------------------------------------------------
# Comments, script lines, #lang, here-strings


def test_line_and_block_comments():
    src = "; one\n(a ; two\n b) #| block #| nested |# still |# c"
    r = read_source(src)
    assert r.ok
    assert [f.text or f.head for f in r.forms] == ["a", "c"]
    texts = [src[c.start.offset : c.end.offset] for c in r.comments]
    assert texts == ["; one", "; two", "#| block #| nested |# still |#"]


def test_block_comment_corner_cases():
    r = read_source("#|| a ||# x #|#|a|#|# y")
    assert r.ok
    assert [f.value for f in r.forms] == ["x", "y"]


def test_datum_comments():
    src = "#;(x y) z (a #;b c) #;#;d e f '#;g h"
    r = read_source(src)
    assert r.ok
    assert [f.value or f.head for f in r.forms[:2]] == ["z", "a"]
    assert [c.value for c in r.forms[1].children] == ["a", "c"]
    assert r.forms[2].value == "f"
    assert r.forms[3].kind is K.QUOTE and r.forms[3].children[0].value == "h"
    texts = [src[c.start.offset : c.end.offset] for c in r.comments]
    assert texts == ["#;(x y)", "#;b", "#;#;d e", "#;d", "#;g"]


def test_shebang_line():
    r = read_source("#!/usr/bin/env gxi\n(main)")
    assert r.ok
    assert r.forms[0].head == "main"
    assert r.comments[0].start.offset == 0 and r.comments[0].end.offset == 18
    # Gerbil: at the very start, '#!' always starts a script line
    assert read_source("#!eof").forms == []
    # elsewhere it is the #! object syntax
    assert read_source("(x)\n#!eof").forms[1].value == "#!eof"


def test_fold_case_directives_are_ignored():
    r = read_source("x #!fold-case y #!no-fold-case")
    assert r.ok and [f.value for f in r.forms] == ["x", "y"]


def test_here_string():
    src = '(c-declare #<<END-C\nint x = 1; /* "q" ) */\n  END-C\nEND-C\n)\n(next)'
    r = read_source(src)
    assert r.ok
    s = r.forms[0].children[1]
    assert s.kind is K.STRING
    assert s.value == 'int x = 1; /* "q" ) */\n  END-C'
    assert s.text == src[s.start : s.end] and s.text.endswith("\nEND-C")
    assert r.forms[1].head == "next"
    assert one("#<<X\nX").value == ""


def test_lang_line():
    r = read_source("#lang :tutorial/my-lang\n(def x 1)\n")
    assert r.ok and r.lang == ":tutorial/my-lang" and not r.foreign
    assert r.forms[0].head == "def"
    # a prelude with its own surface syntax: nothing to report, no bogus forms
    r = read_file(FIXTURES / "lang_grammar.ss")
    assert r.lang == ":std/parser/grammar" and r.foreign
    assert r.ok and r.forms == []
    # the standard preludes are s-expressions: errors stay errors
    r = read_source("#lang :gerbil/polydactyl\n(def x")
    assert not r.foreign and codes(r) == [("unclosed", 1, 0)]


def test_bom_is_skipped():
    r = read_source("\ufeff(a)")
    assert r.ok and r.forms[0].start == 1
    r = read_source("\ufeff#!/bin/sh\n(a)")
    assert r.ok and r.forms[0].head == "a"


# ---------------------------------------------------------------------------
# Positions


def test_positions_multiline():
    src = "(define (f x)\n  (+ x 1))\n\n  bar"
    r = read_source(src)
    plus = r.forms[0].children[2]
    assert plus.span.start == Pos(16, 1, 2)
    assert plus.span.end == Pos(23, 1, 9)
    bar = r.forms[1]
    assert bar.span == Span(Pos(28, 3, 2), Pos(31, 3, 5))
    assert r.forms[0].span.end == Pos(24, 1, 10)


def test_utf16_columns_with_astral_chars():
    src = '(display "😀") foo\n"🎉🎉" é bar'
    r = read_source(src)
    foo = r.forms[1]
    assert foo.start == 14  # str offset: the emoji is one code point ...
    assert foo.span.start == Pos(14, 0, 15)  # ... but two UTF-16 units
    bar = r.forms[4]
    assert bar.span.start.line == 1
    assert bar.span.start.character == len('"🎉🎉" é '.encode("utf-16-le")) // 2
    string = r.forms[0].children[1]
    assert string.span.end.character - string.span.start.character == 4


def test_line_index_round_trip():
    src = "ab😀c\r\nx\ry\n\n🎉🎉z\n"
    idx = LineIndex(src)
    for off in range(len(src) + 1):
        p = idx.pos(off)
        assert p.offset == off
        assert idx.offset(p.line, p.character) == off or src[off - 1 : off + 1] == "\r\n"
        # the UTF-16 column agrees with an encode of the line prefix
        line_start = idx.line_start(p.line)
        assert p.character == len(src[line_start:off].encode("utf-16-le")) // 2
    assert idx.line_count == 6
    assert idx.pos(3) == Pos(3, 0, 4)  # after the emoji
    assert idx.pos(6) == Pos(6, 1, 0)  # \r\n is one terminator
    assert idx.pos(8) == Pos(8, 2, 0)  # a lone \r ends a line too


def test_line_index_clamps():
    src = "ab😀c\nxy"
    idx = LineIndex(src)
    assert idx.offset(-1, 5) == 0
    assert idx.offset(0, -3) == 0
    assert idx.offset(0, 99) == 4  # end of line 0 content, before the newline
    assert idx.offset(99, 0) == len(src)
    assert idx.offset(0, 3) == 2  # inside the surrogate pair: snap to the char
    assert idx.offset(0, 4) == 3
    assert idx.pos(-5) == Pos(0, 0, 0)
    assert idx.pos(999) == Pos(len(src), 1, 2)
    assert LineIndex("").pos(0) == Pos(0, 0, 0)
    assert LineIndex("").offset(3, 3) == 0


def test_error_positions_and_messages_are_one_based():
    r = read_source("(ok)\n(a\n  (b c)\n")
    assert codes(r) == [("unclosed", 1, 0)]
    assert r.errors[0].message == "unclosed '(' opened at 2:1"
    assert isinstance(r.errors[0], ReadError)
    assert r.errors[0].span == Span(Pos(5, 1, 0), Pos(6, 1, 1))


def test_span_is_lazy_and_cached():
    r = read_source("(a b)")
    node = r.forms[0]
    assert node.span is node.span
    assert node.span == r.lines.span(0, 5)


# ---------------------------------------------------------------------------
# Malformed input: every error has a code and a position, and reading goes on

MALFORMED = [
    # (source, expected [(code, line, character)], text of the last top-level form or None)
    ("(a b\n", [("unclosed", 0, 0)], None),
    ("(ok)\n(a\n  (b c)", [("unclosed", 1, 0)], None),
    (")\n(ok)", [("stray-closer", 0, 0)], "(ok)"),
    ("(a]\n(ok)", [("mismatched-closer", 0, 2)], "(ok)"),
    ("(a [b)\n(ok)", [("mismatched-closer", 0, 5)], "(ok)"),
    ("(a {b [c)\n(ok)", [("unclosed", 0, 3), ("mismatched-closer", 0, 8)], "(ok)"),
    ('(ok) "abc', [("unterminated-string", 0, 5)], '"abc'),
    ("(ok) #| never closed", [("unterminated-comment", 0, 5)], "(ok)"),
    ("(a #foo b)\n(ok)", [("bad-hash-syntax", 0, 3)], "(ok)"),
    ("(a #\\bogus b)\n(ok)", [("bad-char", 0, 3)], "(ok)"),
    ("(a #\\xD800)\n(ok)", [("bad-char", 0, 3)], "(ok)"),
    ("(a ')\n(ok)", [("missing-datum", 0, 3)], "(ok)"),
    ("(ok) '", [("missing-datum", 0, 5)], "'"),
    ("(ok) #;", [("missing-datum", 0, 5)], "(ok)"),
    ("(a . )\n(ok)", [("missing-datum", 0, 3)], "(ok)"),
    ("(a . b c)\n(ok)", [("bad-dot", 0, 7)], "(ok)"),
    ("(a . b . c)\n(ok)", [("bad-dot", 0, 7)], "(ok)"),
    (". a\n(ok)", [("bad-dot", 0, 0)], "(ok)"),
    ("#(a . b)\n(ok)", [("bad-dot", 0, 4)], "(ok)"),
    ('"bad \\q escape"\n(ok)', [("bad-escape", 0, 5)], "(ok)"),
    ('"\\x41"\n(ok)', [("bad-escape", 0, 1)], "(ok)"),
    ('"\\x110000;"\n(ok)', [("bad-escape", 0, 1)], "(ok)"),
    ("(ok) |unterminated sym", [("unterminated-symbol", 0, 5)], "|unterminated sym"),
    (
        "#u8(256 a -1)\n(ok)",
        [("bad-vector-element", 0, 4), ("bad-vector-element", 0, 8), ("bad-vector-element", 0, 10)],
        "(ok)",
    ),
    ("#f64(1)\n(ok)", [("bad-vector-element", 0, 5)], "(ok)"),
    ("#x1G\n(ok)", [("bad-number", 0, 0)], "(ok)"),
    ("#e+inf.0\n(ok)", [("bad-number", 0, 0)], "(ok)"),
    ("(a \x01 b)\n(ok)", [("illegal-char", 0, 3)], "(ok)"),
    ("#.(+ 1 2)\n(ok)", [("bad-hash-syntax", 0, 0)], "(ok)"),
    ("(ok) #<<END\nno terminator", [("unterminated-string", 0, 5)], None),
    ("(x)\n#!bogus\n(ok)", [("bad-hash-syntax", 1, 0)], "(ok)"),
    ("(x) \\y\n(ok)", [("unsupported-syntax", 0, 4)], "(ok)"),
    ("#: x\n(ok)", [("bad-hash-syntax", 0, 0)], "(ok)"),
    ("#<foo>\n(ok)", [("bad-hash-syntax", 0, 0)], "(ok)"),
    ("(x)\n#lang :foo\n(ok)", [("bad-hash-syntax", 1, 0)], "(ok)"),
    ("#\\", [("bad-char", 0, 0)], None),
    ("(a {b]\n(ok)", [("mismatched-closer", 0, 5), ("unclosed", 0, 0)], None),
]


@pytest.mark.parametrize("src, expected, last", MALFORMED)
def test_malformed_input_recovers(src, expected, last):
    r = read_source(src)
    assert sorted(codes(r), key=lambda t: (t[1], t[2])) == sorted(
        expected, key=lambda t: (t[1], t[2])
    )
    assert not r.ok
    check_tree(r)
    if last is not None:
        assert r.text_of(r.forms[-1]) == last


def test_at_least_twenty_malformed_cases():
    assert len(MALFORMED) >= 20
    assert len({code for _, exp, _ in MALFORMED for code, _, _ in exp}) >= 15


def test_unclosed_list_keeps_children_and_spans_to_end():
    r = read_source("(def (f x)\n  (g x")
    outer = r.forms[0]
    assert not outer.closed and outer.end == len(r.text)
    assert [c.head or c.value for c in outer.children] == ["def", "f", "g"]
    assert not outer.children[2].closed
    assert [e.code for e in r.errors] == ["unclosed", "unclosed"]
    assert r.errors[0].message == "unclosed '(' opened at 1:1"
    assert r.errors[1].message == "unclosed '(' opened at 2:3"


def test_mismatched_closer_message():
    r = read_source("(let ((a 1]) a)")
    assert codes(r) == [("mismatched-closer", 0, 10)]
    assert r.errors[0].message == "']' does not match '(' opened at 1:7"
    # the bracket closed the innermost list, the structure stays intact
    assert r.forms[0].head == "let" and r.forms[0].closed


def test_unterminated_string_spans_to_end():
    r = read_source('(display "oops)\n(next)')
    s = r.forms[0].children[1]
    assert s.kind is K.STRING and not s.closed and s.end == len(r.text)
    assert s.value == "oops)\n(next)"
    assert {e.code for e in r.errors} == {"unterminated-string", "unclosed"}


def test_broken_fixture():
    r = read_file(FIXTURES / "broken.ss")
    assert codes(r) == [
        ("mismatched-closer", 2, 13),
        ("stray-closer", 5, 0),
        ("bad-char", 6, 7),
        ("bad-hash-syntax", 7, 14),
        ("unclosed", 8, 0),
        ("unclosed", 8, 5),
    ]
    heads = [f.children[1].head or f.children[1].value for f in r.forms]
    assert heads == ["good-1", "bad-1", "good-2", "s", "good-3", "unclosed"]
    check_tree(r)


# ---------------------------------------------------------------------------
# Never raises


SCHEME_ALPHABET = st.sampled_from(
    list("()[]{}#\\|\"';`,@.:abcxeiu0123456789+-/ \n\t\r")
    + ["#|", "|#", "#;", "#\\", "#!", "#(", "#u8(", ",@", "#'", "\\x41;", "#<<E\n", "\nE\n"]
    + ["😀", "λ", "é", "\x00", "\x0b", "#t", "#f", "#!eof", "1/2", "#x", " . ", "\ufeff"]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(SCHEME_ALPHABET, max_size=60).map("".join))
def test_never_raises_on_scheme_ish_text(text):
    r = read_source(text)
    check_tree(r)
    for off in (0, len(text) // 2, len(text)):
        path = r.node_at(off)
        for parent, child in zip(path, path[1:], strict=False):
            assert child in parent.children
        for node in path:
            assert node.start <= off <= node.end


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=80))
def test_never_raises_on_any_text(text):
    r = read_source(text)
    check_tree(r)
    for e in r.errors:
        assert e.span.start.line < r.lines.line_count


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=60))
def test_read_file_never_raises_on_bytes(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("bytes") / "f.ss"
    path.write_bytes(data)
    r = read_file(path)
    check_tree(r)


def test_well_formed_text_round_trips_through_positions():
    r = read_file(FIXTURES / "kitchen_sink.ss")
    for form in r.forms:
        for node in form.walk():
            s = node.span.start
            assert r.lines.offset(s.line, s.character) == node.start


# ---------------------------------------------------------------------------
# Scale


def test_deep_nesting_10000():
    depth = 10_000
    r = read_source("(" * depth + "x" + ")" * depth)
    assert r.ok
    node = r.forms[0]
    levels = sum(1 for n in node.walk() if n.kind is K.LIST)
    assert levels == depth
    assert repr(node).startswith("Node(list")
    path = r.node_at(depth)
    assert len(path) == depth + 1 and path[-1].value == "x"


def test_deep_nesting_unclosed_and_mismatched():
    r = read_source("(" * 10_000)
    assert len(r.errors) == 10_000 and {e.code for e in r.errors} == {"unclosed"}
    r = read_source("[" * 5000 + ")" * 5000)
    assert len(r.errors) == 5000
    assert {e.code for e in r.errors} == {"mismatched-closer"}
    r = read_source("'" * 10_000 + "x")
    assert r.ok
    assert sum(1 for _ in r.forms[0].walk()) == 10_001


def test_error_count_is_capped():
    r = read_source(")" * 20_000)
    assert len(r.errors) == 10_001
    assert r.errors[-1].code == "too-many-errors"


def test_long_single_line_is_linear():
    unit = '(define (f x) (g "s" #\\a 1.5 x)) '
    text = unit * (1_000_000 // len(unit))
    t0 = time.perf_counter()
    r = read_source(text)
    elapsed = time.perf_counter() - t0
    assert r.ok and len(r.forms) == 1_000_000 // len(unit)
    last = r.forms[-1]
    assert last.span.start == Pos(last.start, 0, last.start)
    assert elapsed < 30  # generous: a quadratic reader would take hours


@pytest.mark.parametrize(
    "src",
    ['"' + "a" * 1_000_000, "#|" + "a" * 1_000_000, "|" + "a" * 1_000_000, "(" + "a " * 200_000],
)
def test_long_unterminated_constructs(src):
    r = read_source(src)
    assert not r.ok
    check_tree(r)


@pytest.mark.slow
def test_ten_megabyte_line():
    unit = '(a b (c d) "str" 42) '
    text = unit * (10_000_000 // len(unit))
    r = read_source(text)
    assert r.ok
    assert r.forms[-1].span.end.line == 0


# ---------------------------------------------------------------------------
# node_at and Node conveniences


def test_node_at():
    src = "(define (foo x) (+ x 1))\n\n(bar)"
    r = read_source(src)
    path = r.node_at(src.index("foo") + 1)
    assert [n.head or n.value for n in path] == ["define", "foo", "foo"]
    # just after a symbol still finds it (completion position)
    path = r.node_at(src.index("foo") + 3)
    assert path[-1].value == "foo"
    path = r.node_at(src.index("1))"))
    assert path[-1].value == 1 and path[-2].head == "+"
    assert r.node_at(src.index("\n\n") + 1) == []
    path = r.node_at(len(src) - 1)  # on the ')' right after 'bar'
    assert path[0].head == "bar" and path[-1].value == "bar"
    assert r.node_at(-5) == [] and r.node_at(10_000) == []


def test_node_at_unclosed_form_reaches_cursor_at_end():
    src = "(define (f x)\n  (g "
    r = read_source(src)
    path = r.node_at(len(src))
    assert [n.head for n in path] == ["define", "g"]


def test_walk_head_is_symbol():
    node = one("(a (b c) 'd)")
    assert [n.value or n.head or n.delimiter for n in node.walk()] == [
        "a",
        "a",
        "b",
        "b",
        "c",
        "'",
        "d",
    ]
    assert node.children[0].is_symbol() and node.children[0].is_symbol("a")
    assert not node.children[0].is_symbol("b")
    assert not node.is_symbol()
    assert one("((a) b)").head is None
    assert one("x").head is None


def test_node_constructor_and_identity():
    span = Span(Pos(0, 0, 0), Pos(3, 0, 3))
    node = Node(kind=K.SYMBOL, span=span, text="foo", value="foo", children=[], delimiter="")
    assert node.span is span and (node.start, node.end) == (0, 3) and node.closed
    other = Node(K.SYMBOL, span, "foo", "foo", [], "")
    assert node != other and node == node
    assert node.is_symbol("foo")


# ---------------------------------------------------------------------------
# Files


def test_kitchen_sink_fixture_reads_clean():
    r = read_file(FIXTURES / "kitchen_sink.ss")
    assert r.errors == []
    assert [f.head for f in r.forms] == ["import", "export", "defstruct", "def", "def"]
    kinds = {n.kind for f in r.forms for n in f.walk()}
    assert kinds == set(NodeKind)
    assert len(r.comments) == 5


def test_unicode_fixture_positions():
    r = read_file(FIXTURES / "unicode.ss")
    assert r.ok
    text = r.text
    sym = next(n for f in r.forms for n in f.walk() if n.is_symbol("after-emoji"))
    line_start = text.rfind("\n", 0, sym.start) + 1
    expected = len(text[line_start : sym.start].encode("utf-16-le")) // 2
    assert sym.span.start.character == expected
    assert expected == sym.start - line_start + 2  # two astral characters before it


def test_read_file_invalid_utf8():
    r = read_file(FIXTURES / "invalid_utf8.ss")
    assert [e.code for e in r.errors] == ["invalid-utf8"]
    err = r.errors[0].span.start
    assert (err.line, err.character) == (1, 13)
    assert r.text[err.offset] == "\ufffd"
    assert [f.children[1].value for f in r.forms] == ["ok", "bad", "after"]


def test_read_file_bom_and_crlf(tmp_path):
    r = read_file(FIXTURES / "bom.ss")
    assert r.ok and r.forms[0].start == 0 and not r.text.startswith("\ufeff")
    crlf = tmp_path / "crlf.ss"
    crlf.write_bytes(b'; crlf\r\n(def a 1)\r\n(def b\r\n  "two")\r\n')
    r = read_file(crlf)
    assert r.ok
    two = r.forms[1].children[2]
    assert two.value == "two" and two.span.start == Pos(two.start, 3, 2)
    assert r.comments[0].end.character == 6  # the comment stops before \r


def test_read_file_missing_raises_oserror(tmp_path):
    with pytest.raises(OSError):
        read_file(tmp_path / "nope.ss")


def test_read_result_shape():
    r = read_source("(a) ; c")
    assert isinstance(r, ReadResult) and r.ok
    assert r.text == "(a) ; c"
    assert isinstance(r.lines, LineIndex)
    assert r.comments == [Span(Pos(4, 0, 4), Pos(7, 0, 7))]
    assert r.lang is None and r.foreign is False


@pytest.mark.parametrize("src", ["ab😀c\r\nx\ry\n\n🎉🎉z\n", "ab😀c\nx\n\n🎉🎉z\n", "one line", "", "\n\n", "a\nb"])
def test_line_columns_are_the_numbers_of_span(src):
    idx = LineIndex(src)
    for start in range(-1, len(src) + 2):
        for end in (start, start + 1, len(src), len(src) + 3):
            span = idx.span(start, end)
            assert idx.line_columns(start, end) == (span.start.line, span.start.character,
                                                    span.end.line, span.end.character)


def test_line_table_of_lf_text_matches_every_newline():
    for src in ("", "x", "\n", "a\n", "a\nbc\n\nd", "\n\nz"):
        idx = LineIndex(src)
        assert [idx.line_start(line) for line in range(idx.line_count)] == \
            [0] + [i + 1 for i, c in enumerate(src) if c == "\n"]


def test_node_line_columns_agree_with_its_span_before_and_after_it_is_built():
    r = read_source('(def (f x)\n  "😀" (g x))\n[a\r\n b]')
    nodes = [n for form in r.forms for n in form.walk()]
    before = [n.line_columns() for n in nodes]
    spans = [(n.span.start.line, n.span.start.character, n.span.end.line, n.span.end.character) for n in nodes]
    assert before == spans == [n.line_columns() for n in nodes]
