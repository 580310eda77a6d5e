"""The Gerbil reader: source text -> syntax tree with exact positions and errors.

One reader for everything (server, data pipeline, harvester, eval), so it is
built to be simple to call, fast, and impossible to crash:

* One compiled regex does the lexing (``_TOKEN_RE``); a flat loop with an
  explicit stack does the parsing, so 10,000 nested parens or a 10 MB line cost
  no recursion and no quadratic time.
* Positions are offsets internally (``Node.start`` / ``Node.end``); the LSP
  ``Span`` (line, UTF-16 character) of a node is computed on first access from
  the shared ``LineIndex``.
* Bad input never raises: every problem becomes a ``ReadError`` with a span and
  a stable ``code``, and reading carries on after it.

The lexical syntax follows Gambit's reader with Gerbil's readtable (``[]`` and
``{}`` are lists, ``#!`` at the very start is a script line), so a file Gerbil
reads cleanly reads here with no errors.  Compound nodes have ``text == ""``;
use ``ReadResult.text_of(node)`` for their source.
"""

from __future__ import annotations

import enum
import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from os import PathLike

from gerbil_lsp.core import collector
from gerbil_lsp.core.positions import LineIndex, Pos, Span, make_span

__all__ = [
    "LineIndex",
    "Node",
    "NodeKind",
    "Pos",
    "ReadError",
    "ReadResult",
    "Span",
    "read_file",
    "read_source",
]

MAX_ERRORS = 10_000
"""Errors recorded per text; past this one ``too-many-errors`` closes the list."""


class NodeKind(enum.StrEnum):
    """What a node is; compound kinds carry ``children`` and a ``delimiter``."""

    SYMBOL = "symbol"
    KEYWORD = "keyword"
    STRING = "string"
    CHAR = "char"
    NUMBER = "number"
    BOOLEAN = "boolean"
    SPECIAL = "special"  # #!eof #!void #!optional #!rest #!key, #42, #0# ...
    LIST = "list"  # () [] {} ; .delimiter tells which
    VECTOR = "vector"  # #( ) #u8( ) ... ; .delimiter = "#(" / "#u8(" ...
    QUOTE = "quote"  # ' ` , ,@ #' #` #, #,@ and #& (box), #0= (label)
    DOT = "dot"  # the . in (a . b)


SYMBOL = NodeKind.SYMBOL
KEYWORD = NodeKind.KEYWORD
STRING = NodeKind.STRING
CHAR = NodeKind.CHAR
NUMBER = NodeKind.NUMBER
BOOLEAN = NodeKind.BOOLEAN
SPECIAL = NodeKind.SPECIAL
LIST = NodeKind.LIST
VECTOR = NodeKind.VECTOR
QUOTE = NodeKind.QUOTE
DOT = NodeKind.DOT

_COMPOUND = frozenset((LIST, VECTOR, QUOTE))


# ---------------------------------------------------------------------------
# Tree


class Node:
    """One datum of the tree.

    ``start``/``end`` are str offsets (end exclusive); ``span`` is the same range
    as LSP positions, computed on first use.  ``text`` is the exact source of
    an atom and ``""`` for compound nodes.  ``value`` is the decoded datum:
    SYMBOL name (bars removed), KEYWORD name without the colon, STRING decoded,
    CHAR the character, NUMBER int/float/Fraction/complex (or the text if it
    cannot be represented), BOOLEAN bool, SPECIAL its spelling; None otherwise.
    ``children`` is the list of a compound node's sub-nodes; the reader gives every
    atom the same empty tuple. Nodes compare by identity.
    """

    __slots__ = (
        "kind",
        "start",
        "end",
        "text",
        "value",
        "children",
        "delimiter",
        "closed",
        "_loc",
    )

    def __init__(
        self,
        kind: NodeKind,
        span: Span,
        text: str = "",
        value: object = None,
        children: list[Node] | tuple[()] | None = None,
        delimiter: str = "",
        closed: bool = True,
    ) -> None:
        self.kind = kind
        self.start = span.start.offset
        self.end = span.end.offset
        self.text = text
        self.value = value
        self.children = [] if children is None else children
        self.delimiter = delimiter
        self.closed = closed
        # The Span, or until first asked for, the LineIndex to build it from.
        self._loc: Span | LineIndex = span

    @property
    def span(self) -> Span:
        """LSP range of the node (built on first access from the text's LineIndex)."""
        loc = self._loc
        if loc.__class__ is Span:
            return loc  # type: ignore[return-value]
        span = self._loc = loc.span(self.start, self.end)  # type: ignore[union-attr]
        return span

    def line_columns(self) -> tuple[int, int, int, int]:
        """``(line, character, end line, end character)``: the numbers of ``span``, without building one."""
        loc = self._loc
        if loc.__class__ is Span:
            return loc.start.line, loc.start.character, loc.end.line, loc.end.character  # type: ignore[union-attr]
        return loc.line_columns(self.start, self.end)  # type: ignore[union-attr]

    @span.setter
    def span(self, value: Span) -> None:
        self._loc = value
        self.start = value.start.offset
        self.end = value.end.offset

    @property
    def head(self) -> str | None:
        """Name of the first child when this is a LIST whose first child is a symbol."""
        if self.kind is LIST and self.children:
            first = self.children[0]
            if first.kind is SYMBOL:
                return first.value  # type: ignore[return-value]
        return None

    def is_symbol(self, name: str | None = None) -> bool:
        """True for a SYMBOL node (named ``name`` when given)."""
        return self.kind is SYMBOL and (name is None or self.value == name)

    def walk(self) -> Iterator[Node]:
        """Pre-order traversal, self included; iterative (deep trees are fine)."""
        stack = [self]
        pop = stack.pop
        extend = stack.extend
        while stack:
            node = pop()
            yield node
            if node.children:
                extend(reversed(node.children))

    def __repr__(self) -> str:
        # Never recurses: trees can be 10,000 deep.
        extra = f" {self.text!r}" if self.text else f" {self.delimiter!r} [{len(self.children)}]"
        flag = "" if self.closed else " unclosed"
        return f"Node({self.kind.value}{extra} @{self.start}:{self.end}{flag})"


_new = object.__new__
_NO_CHILDREN: tuple = ()  # every atom shares it: an empty list each was some 20,000 objects per 5,000 lines


def _node(kind, start, end, text, value, children, delimiter, lines):
    """Fast internal constructor (skips Span building)."""
    n = _new(Node)
    n.kind = kind
    n.start = start
    n.end = end
    n.text = text
    n.value = value
    n.children = children
    n.delimiter = delimiter
    n.closed = True
    n._loc = lines
    return n


@dataclass(frozen=True, slots=True)
class ReadError:
    """A problem in the text.  ``message`` is for people (1-based line:col).

    Codes: ``unclosed`` (span: the opener), ``stray-closer``,
    ``mismatched-closer`` (span: the closer), ``unterminated-string`` /
    ``unterminated-symbol`` / ``unterminated-comment`` (span: the opener),
    ``bad-hash-syntax``, ``bad-number``, ``bad-char``, ``bad-escape``,
    ``missing-datum`` (a quote, ``#;`` or ``.`` with nothing after it),
    ``bad-dot``, ``bad-vector-element``, ``illegal-char``,
    ``unsupported-syntax`` (Gambit's ``\\`` infix), ``invalid-utf8``
    (``read_file`` only), ``too-many-errors``.
    """

    message: str
    span: Span
    code: str


@dataclass(slots=True)
class ReadResult:
    """Everything read from one text.

    ``lang`` is the argument of a ``#lang`` first line, if any.  ``foreign`` is
    True when such a file's body is not s-expressions (its prelude brings its
    own reader): then ``forms``/``errors``/``comments`` are empty rather than
    full of noise.
    """

    text: str
    forms: list[Node]
    errors: list[ReadError]
    comments: list[Span]
    lines: LineIndex
    lang: str | None = None
    foreign: bool = False
    taken: bool = False  # a later read took over (and moved) its nodes: see read_source's ``previous``

    @property
    def plain_syntax(self) -> bool:
        """False for a ``#lang`` file whose prelude may bring its own syntax (formatting leaves it alone)."""
        return self.lang is None or _sexp_lang(self.lang)

    @property
    def ok(self) -> bool:
        """True when the text read without errors."""
        return not self.errors

    def text_of(self, node: Node) -> str:
        """Exact source text of any node (compound ones included)."""
        return self.text[node.start : node.end]

    def node_at(self, offset: int) -> list[Node]:
        """Path from a top-level form down to the innermost node containing ``offset``.

        A node contains ``offset`` when ``start <= offset < end``; failing that,
        one that ends exactly at ``offset`` (the cursor just after a symbol)
        counts.  Returns ``[]`` between top-level forms.
        """
        path: list[Node] = []
        nodes = self.forms
        while nodes:
            hit = _child_at(nodes, offset)
            if hit is None:
                break
            path.append(hit)
            nodes = hit.children
        return path


def _child_at(nodes: list[Node], offset: int) -> Node | None:
    # Children are in source order and do not overlap: binary search on start.
    i = bisect_right(nodes, offset, key=_start_of) - 1
    if i < 0:
        return None
    node = nodes[i]
    return node if offset <= node.end else None


def _start_of(node: Node) -> int:
    return node.start


# ---------------------------------------------------------------------------
# Lexical tables

# Delimiters in Gambit's standard readtable: control chars and space, and
# ; " | ' ` , ( ) [ ] { } \   ('#' and '.' are NOT delimiters).
_DELIM = r"\x00-\x20;\"|'`,()\[\]{}\\"
_CONST = "[^" + _DELIM + "]"

# Alternatives are ordered by frequency (symbols, then parens, make up ~90% of
# Gerbil code); a group per common case lets the loop skip classifying them.
# A symbol that cannot be a number, '.' or keyword: no checks needed.
_PLAIN_SYMBOL = r"[^" + _DELIM + r"#0-9+\-.]" + _CONST + r"*+(?<!:)"
# One match covers what most often comes together, so the loop makes fewer
# calls to the scanner: a '(' and the symbol at its head, and a run of ')'.
_TOKEN_RE = re.compile(
    r"[ \t\n\r\f]*+(?:"
    r"(?P<symbol>" + _PLAIN_SYMBOL + r")"  # 1
    r"|(?P<paren>\()(?P<head>" + _PLAIN_SYMBOL + r")?"  # 2, 3 (the last group matched names the case)
    r"|(?P<unparen>\)++)"  # 4
    r"|(?P<atom>[^" + _DELIM + r"#]" + _CONST + r"*+)"  # 5 number, keyword, '.', ...
    r"|(?P<open>[\[{])"  # 6
    r"|(?P<close>[\]}])"  # 7
    r"|(?P<comment>;[^\r\n]*+)"  # 8
    r"|(?P<string>\"(?:[^\"\\]++|\\.)*+\")"  # 9
    r"|(?P<quote>#?(?:,@|[',`]))"  # 10
    r"|(?P<vector>#(?:[us](?:8|16|32|64)|f(?:32|64))?\()"  # 11
    r"|(?P<char>#\\(?:[ \t\n\r\f]|." + _CONST + r"*+)?)"  # 12
    r"|(?P<bcomment>#\|)"  # 13
    r"|(?P<dcomment>#;)"  # 14
    r"|(?P<box>#&)"  # 15
    r"|(?P<hash>#" + _CONST + r"*+)"  # 16
    r"|(?P<bar>\|(?:[^|\\]++|\\.)*+\|:?)"  # 17
    r"|(?P<ustring>\")"  # 18
    r"|(?P<ubar>\|)"  # 19
    r"|(?P<six>\\)"  # 20
    r"|(?P<eof>\Z)"  # 21
    r"|(?P<illegal>.)"  # 22
    r")",
    re.S,
)
(
    _T_SYMBOL,
    _T_PAREN,
    _T_HEAD,
    _T_UNPAREN,
    _T_ATOM,
    _T_OPEN,
    _T_CLOSE,
    _T_COMMENT,
    _T_STRING,
    _T_QUOTE,
    _T_VECTOR,
    _T_CHAR,
    _T_BCOMMENT,
    _T_DCOMMENT,
    _T_BOX,
    _T_HASH,
    _T_BAR,
    _T_USTRING,
    _T_UBAR,
    _T_SIX,
    _T_EOF,
    _T_ILLEGAL,
) = range(1, 23)
assert _TOKEN_RE.groupindex["illegal"] == _T_ILLEGAL

_BLOCK_RE = re.compile(r"#\||\|#")
_CLOSER = {"(": ")", "[": "]", "{": "}"}
_QUOTE_NAMES = {
    "'": "quote",
    "`": "quasiquote",
    ",": "unquote",
    ",@": "unquote-splicing",
    "#'": "syntax",
    "#`": "quasisyntax",
    "#,": "unsyntax",
    "#,@": "unsyntax-splicing",
    "#&": "box",
}

_CHAR_NAMES = {
    "null": "\x00",
    "escape": "\x1b",
    "newline": "\n",
    "space": " ",
    "nul": "\x00",
    "alarm": "\x07",
    "backspace": "\x08",
    "tab": "\t",
    "linefeed": "\n",
    "vtab": "\x0b",
    "page": "\x0c",
    "return": "\r",
    "esc": "\x1b",
    "delete": "\x7f",
    "rubout": "\x7f",
}

_HASH_ATOMS: dict[str, tuple[NodeKind, object]] = {
    "#t": (BOOLEAN, True),
    "#f": (BOOLEAN, False),
    "#true": (BOOLEAN, True),
    "#false": (BOOLEAN, False),
}
for _name in (
    "eof",
    "void",
    "optional",
    "rest",
    "key",
    "default",
    "unbound",
    "unbound1",
    "unbound2",
):
    _HASH_ATOMS["#!" + _name] = (SPECIAL, "#!" + _name)
del _name

_STRING_ESCAPES = {
    "\\": "\\",
    "a": "\x07",
    "b": "\x08",
    "t": "\t",
    "n": "\n",
    "v": "\x0b",
    "f": "\x0c",
    "r": "\r",
    " ": " ",
    "|": "|",
    '"': '"',
    "'": "'",
    "?": "?",
}
_ESC_RE = re.compile(
    r"\\(?:"
    r"(?P<cont>\r?\n[ \t\r\f]*)"
    r"|x(?P<x>[0-9a-fA-F]*);"
    r"|u(?P<u>[0-9a-fA-F]{4})"
    r"|U(?P<U>[0-9a-fA-F]{8})"
    r"|(?P<oct>[0-3][0-7]{0,2}|[4-7][0-7]?)"
    r"|(?P<other>.)"
    r"|\Z)",
    re.S,
)

_VECTOR_KINDS = {
    "#u8(": (0, 255),
    "#s8(": (-128, 127),
    "#u16(": (0, 65535),
    "#s16(": (-32768, 32767),
    "#u32(": (0, 2**32 - 1),
    "#s32(": (-(2**31), 2**31 - 1),
    "#u64(": (0, 2**64 - 1),
    "#s64(": (-(2**63), 2**63 - 1),
    "#f32(": None,
    "#f64(": None,
}

# -- numbers ----------------------------------------------------------------

_DEC = r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_UREAL10 = r"(?:\d+/\d+|" + _DEC + r")"
_INFNAN = r"(?:inf|nan)\.0"


def _real_re(ureal: str) -> str:
    return r"(?:[+-]?" + ureal + r"|[+-]" + _INFNAN + r")"


def _number_re(ureal: str) -> re.Pattern[str]:
    real = _real_re(ureal)
    imag_tail = r"(?:" + ureal + r"|" + _INFNAN + r")?i"
    return re.compile(
        r"(?P<real>" + real + r")"
        r"|(?P<rect>(?P<re>" + real + r")?(?P<im>[+-]" + imag_tail + r"))"
        r"|(?P<polar>(?P<mag>" + real + r")@(?P<ang>" + real + r"))",
        re.I,
    )


_NUMBER_RES = {
    10: _number_re(_UREAL10),
    16: _number_re(r"(?:[0-9a-f]+(?:/[0-9a-f]+)?)"),
    8: _number_re(r"(?:[0-7]+(?:/[0-7]+)?)"),
    2: _number_re(r"(?:[01]+(?:/[01]+)?)"),
}
_RADIX = {"x": 16, "X": 16, "o": 8, "O": 8, "b": 2, "B": 2, "d": 10, "D": 10}
_MAX_EXACT_EXPONENT = 4000


class _NotNumber(Exception):
    """The text has number shape but no number value (e.g. ``1/0``)."""


def _real_value(s: str, radix: int, exact: bool | None) -> object:
    low = s.lower()
    if low.endswith(("inf.0", "nan.0")):
        if exact:
            raise _NotNumber
        return float(low[:-2])
    if radix == 10 and ("." in s or "e" in low):
        if exact:
            m = re.search(r"[eE]([+-]?\d+)", s)
            if m and abs(int(m.group(1))) > _MAX_EXACT_EXPONENT:
                raise OverflowError
            v = Fraction(s)
            return v.numerator if v.denominator == 1 else v
        return float(s)
    if "/" in s:
        num, den = s.split("/")
        d = int(den, radix)
        if d == 0:
            raise _NotNumber
        v = Fraction(int(num, radix), d)
        if exact is False:
            return float(v)
        return v.numerator if v.denominator == 1 else v
    v = int(s, radix)
    return float(v) if exact is False else v


def _parse_number(s: str, radix: int = 10, exact: bool | None = None) -> object | None:
    """Value of Scheme number text, or None if it is not a number.

    Raises ValueError/OverflowError when it is a number Python cannot hold
    (the caller then keeps the text as value).
    """
    m = _NUMBER_RES[radix].fullmatch(s)
    if m is None:
        return None
    try:
        if m.group("real") is not None:
            return _real_value(s, radix, exact)
        if m.group("rect") is not None:
            re_s = m.group("re")
            im_s = m.group("im")[:-1]
            if im_s in ("+", "-"):
                im_s += "1"
            re_v = _real_value(re_s, radix, exact) if re_s else 0
            im_v = _real_value(im_s, radix, exact)
            if im_v == 0 and exact is not False and not isinstance(im_v, float):
                return re_v
            return complex(float(re_v), float(im_v))
        import cmath

        mag = float(_real_value(m.group("mag"), radix, exact))
        ang = float(_real_value(m.group("ang"), radix, exact))
        return cmath.rect(mag, ang)
    except _NotNumber:
        return None


def _parse_prefixed_number(tok: str) -> object | None:
    """Value of ``#x..``/``#e..``-prefixed number text, or None if invalid."""
    radix = None
    exact = None
    i = 0
    while i + 1 < len(tok) and tok[i] == "#":
        c = tok[i + 1]
        if c in _RADIX and radix is None:
            radix = _RADIX[c]
        elif c in "eE" and exact is None:
            exact = True
        elif c in "iI" and exact is None:
            exact = False
        else:
            return None
        i += 2
    rest = tok[i:]
    if not rest:
        return None
    try:
        v = _parse_number(rest, radix or 10, exact)
    except (ValueError, OverflowError, ZeroDivisionError):
        return tok
    return v


_NUMBER_START = frozenset("0123456789+-.")
# Cheap pre-check: a number has a digit early, or is +inf.0 / -nan.0 / +i ...
_MAYBE_NUMBER_RE = re.compile(r"[+-]?(?:\.?\d|inf\.0|nan\.0|i$)", re.I)
# A decimal number ends in a digit, '.' (1.) or i (1+2i): '1+', '->', '...' are not.
_NUMBER_END = frozenset("0123456789.iI")


def _classify_atom(tok: str) -> tuple[NodeKind, object]:
    """NUMBER / DOT / KEYWORD / SYMBOL for a delimited token that may be a number."""
    if tok.isdigit() and tok.isascii():
        try:
            return NUMBER, int(tok)
        except ValueError:  # more digits than int() converts
            return NUMBER, tok
    if tok == ".":
        return DOT, None
    if tok[-1] not in _NUMBER_END or _MAYBE_NUMBER_RE.match(tok) is None:
        v = None
    else:
        try:
            v = _parse_number(tok)
        except (ValueError, OverflowError, ZeroDivisionError):
            return NUMBER, tok
    if v is not None:
        return NUMBER, v
    if len(tok) > 1 and tok[-1] == ":":
        return KEYWORD, tok[:-1]
    return SYMBOL, tok


# ---------------------------------------------------------------------------
# Reading


class _Errors:
    """Collects errors as offsets; positions are made once, at the end."""

    __slots__ = ("items", "lines", "full")

    def __init__(self, lines: LineIndex) -> None:
        self.items: list[tuple[int, int, str, str]] = []
        self.lines = lines
        self.full = False

    def add(self, start: int, end: int, code: str, message: str) -> None:
        if self.full:
            return
        if len(self.items) >= MAX_ERRORS:
            self.full = True
            code, message = "too-many-errors", f"more than {MAX_ERRORS} errors; stopped reporting"
        self.items.append((start, end, code, message))

    def where(self, offset: int) -> str:
        """1-based ``line:col`` for messages."""
        p = self.lines.pos(offset)
        return f"{p.line + 1}:{p.character + 1}"

    def build(self) -> list[ReadError]:
        lines = self.lines
        out = [
            ReadError(message, make_span(lines.pos(s), lines.pos(e)), code)
            for s, e, code, message in self.items
        ]
        out.sort(key=lambda err: err.span.start.offset)
        return out


def _decode_escapes(body: str, base: int, errors: _Errors, what: str) -> str:
    """Decode backslash escapes of a string or |symbol| body starting at ``base``."""

    def repl(m: re.Match[str]) -> str:
        g = m.lastgroup
        if g == "cont":
            return ""
        if g == "other":
            c = m.group("other")
            r = _STRING_ESCAPES.get(c)
            if r is not None:
                return r
            msg = (
                f"hex escape in {what} needs a closing ';' (\\x41;)"
                if c == "x"
                else f"invalid escape \\{c} in {what}"
            )
            errors.add(base + m.start(), base + m.end(), "bad-escape", msg)
            return c
        if g is None:  # lone backslash at the very end
            errors.add(base + m.start(), base + m.end(), "bad-escape", f"dangling \\ in {what}")
            return ""
        digits = m.group(g)
        code = int(digits, 8 if g == "oct" else 16) if digits else 0
        if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            errors.add(
                base + m.start(),
                base + m.end(),
                "bad-escape",
                f"escape {m.group()} is not a valid character in {what}",
            )
            return "\ufffd"
        return chr(code)

    return _ESC_RE.sub(repl, body)


def _decode(body: str, base: int, errors: _Errors, what: str) -> str:
    """Decoded body, with the fast path for bodies without escapes."""
    if "\\" not in body:
        return body
    return _decode_escapes(body, base, errors, what)


def _char_value(tok: str) -> str | None:
    """The character a ``#\\...`` token names, or None if the name is unknown."""
    name = tok[2:]
    if len(name) == 1:
        return name
    c = name[0]
    digits = name[1:]
    if c in "xuU" and digits:
        want = {"x": None, "u": 4, "U": 8}[c]
        if (want is None or len(digits) == want) and all(
            ch in "0123456789abcdefABCDEF" for ch in digits
        ):
            code = int(digits, 16)
            if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
                return chr(code)
            return None
    return _CHAR_NAMES.get(name)


_SHARP_DIGIT_RE = re.compile(r"#([0-9]+)([=#]?)")
_DIGITS = frozenset("0123456789")

# Frame layouts on the parser stack (lists, for speed):
#   list/vector: [_F_LIST, start, delimiter, closer, children, dot_state, kind, outer]
#     dot_state: -1 no dot yet; else number of datums read after the dot
#     outer: ``cur`` when the list opened (where the list goes once closed)
#   quote-like:  [_F_QUOTE, start, prefix]
#   #; comment:  [_F_DCOMMENT, start]
_F_LIST = 0
_F_QUOTE = 1
_F_DCOMMENT = 2


def _sexp_lang(lang: str) -> bool:
    """Preludes known to keep s-expression syntax."""
    return lang.startswith((":gerbil/", ":scheme/"))


def read_source(text: str, previous: ReadResult | None = None) -> ReadResult:
    """Read Gerbil source text; never raises, whatever the text.

    ``previous``, the result for an earlier version of the same document, lets
    an edit re-read only the top-level forms it touches (see :func:`_reread`);
    the result is the same as reading the whole text. Its nodes are taken over
    (and moved): do not use ``previous`` afterwards. The cyclic garbage collector
    is paused while reading (see ``core.collector``).
    """
    lines = LineIndex(text)
    with collector.paused():
        result = _reread(text, lines, previous) if previous is not None else None
        if result is not None:
            return result
        result = _read(text, lines)
    if result.lang is not None and result.errors and not _sexp_lang(result.lang):
        # A #lang whose body is not s-expressions: nothing here to report.
        result.forms = []
        result.errors = []
        result.comments = []
        result.foreign = True
    return result


# ---------------------------------------------------------------------------
# Re-reading an edited text


def _reread(text: str, lines: LineIndex, previous: ReadResult) -> ReadResult | None:
    """``text`` read by reusing ``previous``'s top-level forms outside the edit; None when unsafe.

    Top-level forms that end before the first changed character, or start after
    the last one, read the same (a top-level form's reading depends on its own
    text alone); the text between them is read on its own and must read cleanly.
    Anything that could make this differ from a whole read falls back to one:
    errors before or after, a ``#lang`` or script line, ``#!eof``, a region
    that does not end at a clean top level (an error, an open line comment, no
    space before the next form).
    """
    old = previous.text
    forms = previous.forms
    if previous.taken or previous.errors or previous.lang is not None or previous.foreign or not forms:
        return None
    if "#!eof" in text:
        return None
    if text.startswith(("\ufeff", "#!")) or old.startswith(("\ufeff", "#!")):
        return None
    same_head = _common_prefix(old, text)
    same_tail = _common_suffix(old, text, min(len(old), len(text)) - same_head)
    edit_end_old = len(old) - same_tail
    delta = len(text) - len(old)
    # Forms that end strictly before the edit (one ending right where it starts may grow: `foo` ->
    # `foox`), and start strictly after it (`x(foo)` leaves `(foo)` alone, `'(foo)` does not).
    first_after = bisect_right(forms, edit_end_old, key=_start_of)
    last_before = bisect_right(forms, same_head - 1, key=_end_of)
    region_start = forms[last_before - 1].end if last_before else 0
    region_end = forms[first_after].start + delta if first_after < len(forms) else len(text)
    region = text[region_start:region_end]
    if region_start and region.startswith(("#lang", "\ufeff", "#!")):
        return None
    if region_end < len(text) and text[region_end - 1] not in " \t\n\r\f":
        return None  # what ends the region might join the next form (`#` + `(...)` is a vector)
    middle = _read(region, LineIndex(region))
    if middle.errors or middle.lang is not None:
        return None
    if region_end < len(text) and middle.comments and middle.comments[-1].end.offset == len(region) \
            and region[middle.comments[-1].start.offset] == ";":
        return None  # a line comment that runs on into the next form
    before, after = forms[:last_before], forms[first_after:]
    previous.taken = True  # its nodes are about to move: never reuse them twice
    _move(before, 0, lines)
    _move(middle.forms, region_start, lines)
    _move(after, delta, lines)
    comments = [(c.start.offset, c.end.offset) for c in previous.comments if c.end.offset <= region_start]
    comments += [(c.start.offset + region_start, c.end.offset + region_start) for c in middle.comments]
    comments += [(c.start.offset + delta, c.end.offset + delta) for c in previous.comments
                 if c.start.offset >= region_end - delta]
    return ReadResult(text=text, forms=before + middle.forms + after, errors=[],
                      comments=lines.spans(comments) if comments else [], lines=lines)


def _common_prefix(a: str, b: str) -> int:
    """Length of the common prefix (binary search on slices: each comparison runs in C)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        mid = (low + high + 1) // 2
        if a[:mid] == b[:mid]:
            low = mid
        else:
            high = mid - 1
    return low


def _common_suffix(a: str, b: str, limit: int) -> int:
    """Length of the common suffix, at most ``limit`` (so it never overlaps the common prefix)."""
    low, high = 0, max(0, limit)
    while low < high:
        mid = (low + high + 1) // 2
        if a[len(a) - mid:] == b[len(b) - mid:]:
            low = mid
        else:
            high = mid - 1
    return low


def _end_of(node: Node) -> int:
    return node.end


def _move(forms: list[Node], delta: int, lines: LineIndex) -> None:
    """Shift every node by ``delta`` and point it at the new text's line index (spans are rebuilt lazily)."""
    stack = list(forms)
    pop, extend = stack.pop, stack.extend
    if delta:
        while stack:
            node = pop()
            node.start += delta
            node.end += delta
            node._loc = lines
            if node.children:
                extend(node.children)
    else:
        while stack:
            node = pop()
            node._loc = lines
            if node.children:
                extend(node.children)


def read_file(path: str | PathLike[str]) -> ReadResult:
    """Read a file as UTF-8 (BOM dropped).  Invalid bytes are replaced and reported.

    OSError from opening/reading propagates; the content never makes it raise.
    """
    with open(path, "rb") as f:
        data = f.read()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", errors="replace")
        bad = len(data[: exc.start].decode("utf-8", errors="replace"))
        result = read_source(text)
        lines = result.lines
        err = ReadError(
            f"invalid UTF-8 byte 0x{data[exc.start]:02x} (file decoded with replacement)",
            make_span(lines.pos(bad), lines.pos(bad + 1)),
            "invalid-utf8",
        )
        result.errors.append(err)
        result.errors.sort(key=lambda e: e.span.start.offset)
        return result
    return read_source(text)


def _read(text: str, lines: LineIndex) -> ReadResult:
    """The parser proper: one flat loop over regex tokens with an explicit stack.

    ``cur`` is the list the next datum goes into when that is the simple case
    (top level, or a list with no pending dot); otherwise it is None and the
    slow path (``_emit``) deals with quotes, ``#;`` and dotted tails.
    """
    n = len(text)
    errors = _Errors(lines)
    add_error = errors.add
    forms: list[Node] = []
    comments: list[tuple[int, int]] = []
    stack: list[list] = []
    # open list/vector frames waiting for each closer (O(1) mismatch recovery);
    # the count for ')' lives in a local while reading (the common case)
    waiting = {")": 0, "]": 0, "}": 0}
    parens = 0
    lang: str | None = None
    new = _new
    NodeT = Node
    number_start = _NUMBER_START

    pos = 0
    if text.startswith("\ufeff"):
        pos = 1
    if text.startswith("#!", pos):
        # Gerbil: '#!' at the very start of a file is a script line.
        eol = _line_end(text, pos)
        comments.append((pos, eol))
        pos = eol
    elif text.startswith("#lang", pos) and text[pos + 5 : pos + 6] in (" ", "\t"):
        eol = _line_end(text, pos)
        lang = text[pos + 5 : eol].strip()
        comments.append((pos, eol))
        pos = eol

    scan = _TOKEN_RE.scanner(text, pos).match
    cur: list[Node] | None = forms

    while True:
        m = scan()
        g = m.lastindex
        if g == _T_SYMBOL:
            # (the group ends the match: m.end() is its end, and the cheapest call)
            tok = m.group(g)
            e = m.end()
            node = new(NodeT)
            node.kind = SYMBOL
            node.start = e - len(tok)
            node.end = e
            node.text = node.value = tok
            node.children = _NO_CHILDREN
            node.delimiter = ""
            node.closed = True
            node._loc = lines
            if cur is not None:
                cur.append(node)
                continue
        elif g == _T_HEAD:  # '(' and the symbol at its head (built inline, as above: no call per token)
            parens += 1
            tok = m.group(g)
            e = m.end()
            s = e - len(tok)
            node = new(NodeT)
            node.kind = SYMBOL
            node.start = s
            node.end = e
            node.text = node.value = tok
            node.children = _NO_CHILDREN
            node.delimiter = ""
            node.closed = True
            node._loc = lines
            # The frame keeps ``cur`` (where the finished list will go) so that
            # closing it needs no look at the stack below.
            frame = [_F_LIST, s - 1, "(", ")", [node], -1, LIST, cur]
            cur = frame[4]
            stack.append(frame)
            continue
        elif g == _T_UNPAREN or g == _T_CLOSE:
            # a run of ')' closes a list per character; ']' and '}' come one at a time
            s = m.start(g)
            e = m.end()
            node = None
            while s < e:
                c = ")" if g == _T_UNPAREN else text[s]
                if cur is None or not stack or stack[-1][3] != c:
                    # Error recovery or a dotted tail: the slow path.
                    waiting[")"] = parens
                    frame = _close_slow(text, s, c, stack, waiting, forms, comments, errors, lines)
                    parens = waiting[")"]
                    cur = _cur(stack, forms)
                    if frame is None:
                        s += 1
                        continue
                else:
                    frame = stack.pop()
                    if g == _T_UNPAREN:
                        parens -= 1
                    else:
                        waiting[c] -= 1
                    cur = frame[7]
                s += 1
                node = new(NodeT)
                node.kind = frame[6]
                node.start = frame[1]
                node.end = s
                node.text = ""
                node.value = None
                node.children = frame[4]
                node.delimiter = frame[2]
                node.closed = True
                node._loc = lines
                if frame[5] >= 0 or (node.kind is VECTOR and frame[2] != "#("):
                    _check_list(node, frame, errors)
                if cur is None:
                    # a quote, #; or dot waits for this list: the slow path below takes
                    # it, and the rest of the run is read again after it
                    if s < e:
                        scan = _TOKEN_RE.scanner(text, s).match
                    break
                cur.append(node)
                node = None
            if node is None:
                continue
        elif g == _T_PAREN:
            parens += 1
            frame = [_F_LIST, m.end() - 1, "(", ")", [], -1, LIST, cur]
            cur = frame[4]
            stack.append(frame)
            continue
        elif g == _T_ATOM:
            tok = m.group(g)
            if tok[0] in number_start:
                kind, value = _classify_atom(tok)
                if kind is DOT:
                    s = m.start(g)
                    frame = stack[-1] if stack else None
                    if frame is None or frame[0] != _F_LIST or frame[6] is not LIST:
                        add_error(
                            s, s + 1, "bad-dot", "'.' is only allowed inside a list, as in (a . b)"
                        )
                        continue
                    if frame[4]:
                        if frame[5] != -1:
                            add_error(s, s + 1, "bad-dot", "only one '.' is allowed in a list")
                            frame[5] = 2  # reported: no more dot errors for this list
                            continue
                        frame[4].append(_node(DOT, s, s + 1, tok, None, _NO_CHILDREN, "", lines))
                        frame[5] = 0
                        cur = None
                        continue
                    kind, value = SYMBOL, "."  # '.' at the head of a list is a symbol
            elif tok[-1] == ":" and len(tok) > 1:
                kind = KEYWORD
                value = tok[:-1]
            else:
                kind = SYMBOL
                value = tok
            node = new(NodeT)
            node.kind = kind
            node.start, node.end = m.span(g)
            node.text = tok
            node.value = value
            node.children = _NO_CHILDREN
            node.delimiter = ""
            node.closed = True
            node._loc = lines
            if cur is not None:
                cur.append(node)
                continue
        elif g == _T_OPEN:
            s = m.start(g)
            d = text[s]
            c = _CLOSER[d]
            waiting[c] += 1
            frame = [_F_LIST, s, d, c, [], -1, LIST, cur]
            cur = frame[4]
            stack.append(frame)
            continue
        elif g == _T_COMMENT:
            comments.append((m.start(g), m.end()))
            continue
        elif g == _T_STRING:
            s = m.start(g)
            tok = m.group(g)
            value = _decode(tok[1:-1], s + 1, errors, "string") if "\\" in tok else tok[1:-1]
            node = _node(STRING, s, m.end(), tok, value, _NO_CHILDREN, "", lines)
            if cur is not None:
                cur.append(node)
                continue
        elif g == _T_QUOTE:
            stack.append([_F_QUOTE, m.start(g), m.group(g)])
            cur = None
            continue
        elif g == _T_HASH:
            s = m.start(g)
            tok = m.group(g)
            hit = _HASH_ATOMS.get(tok)
            if hit is not None:
                node = _node(hit[0], s, m.end(), tok, hit[1], _NO_CHILDREN, "", lines)
            else:
                r = _hash_token(text, s, tok, errors, comments, stack)
                if r is None:
                    continue
                if isinstance(r, int):  # resume after a construct (e.g. a #0= label)
                    scan = _TOKEN_RE.scanner(text, r).match
                    cur = _cur(stack, forms)
                    continue
                node, e = r
                node._loc = lines
                if e != m.end():
                    scan = _TOKEN_RE.scanner(text, e).match
            if cur is not None:
                cur.append(node)
                continue
        elif g == _T_CHAR:
            s = m.start(g)
            tok = m.group(g)
            if len(tok) == 2:
                add_error(s, m.end(), "bad-char", "'#\\' at end of text")
                continue
            value = _char_value(tok)
            if value is None:
                add_error(s, m.end(), "bad-char", f"unknown character name {tok}")
                continue
            node = _node(CHAR, s, m.end(), tok, value, _NO_CHILDREN, "", lines)
            if cur is not None:
                cur.append(node)
                continue
        elif g == _T_VECTOR:
            parens += 1
            frame = [_F_LIST, m.start(g), m.group(g), ")", [], -1, VECTOR, cur]
            cur = frame[4]
            stack.append(frame)
            continue
        elif g == _T_BCOMMENT:
            s = m.start(g)
            e = _block_comment_end(text, s + 2)
            if e < 0:
                add_error(
                    s,
                    s + 2,
                    "unterminated-comment",
                    f"unterminated block comment opened at {errors.where(s)}",
                )
                e = n
            comments.append((s, e))
            scan = _TOKEN_RE.scanner(text, e).match
            continue
        elif g == _T_DCOMMENT:
            stack.append([_F_DCOMMENT, m.start(g)])
            cur = None
            continue
        elif g == _T_BOX:
            stack.append([_F_QUOTE, m.start(g), "#&"])
            cur = None
            continue
        elif g == _T_BAR:
            s = m.start(g)
            tok = m.group(g)
            if tok[-1] == ":":
                kind = KEYWORD
                body = tok[1:-2]
            else:
                kind = SYMBOL
                body = tok[1:-1]
            value = _decode(body, s + 1, errors, "|symbol|")
            node = _node(kind, s, m.end(), tok, value, _NO_CHILDREN, "", lines)
        elif g == _T_USTRING or g == _T_UBAR:
            s = m.start(g)
            what = "string" if g == _T_USTRING else "|symbol|"
            add_error(
                s,
                s + 1,
                "unterminated-string" if g == _T_USTRING else "unterminated-symbol",
                f"unterminated {what} opened at {errors.where(s)}",
            )
            tok = text[s:]
            value = _decode(tok[1:], s + 1, errors, what)
            node = _node(STRING if g == _T_USTRING else SYMBOL, s, n, tok, value, _NO_CHILDREN, "", lines)
            node.closed = False
            scan = _TOKEN_RE.scanner(text, n).match
        elif g == _T_EOF:
            break
        elif g == _T_SIX:
            s = m.start(g)
            add_error(s, s + 1, "unsupported-syntax", "'\\' (SIX infix syntax) is not supported")
            continue
        else:  # _T_ILLEGAL
            s = m.start(g)
            add_error(s, s + 1, "illegal-char", f"illegal character U+{ord(text[s]):04X}")
            continue

        # -- slow path: a quote, #; or dotted tail is waiting for this datum --
        if cur is not None:
            cur.append(node)
            continue
        while True:
            frame = stack[-1]  # cur is None: the stack is not empty
            t = frame[0]
            if t == _F_QUOTE:
                stack.pop()
                quote = new(NodeT)
                quote.kind = QUOTE
                quote.start = frame[1]
                quote.end = node.end
                quote.text = ""
                quote.value = None
                quote.children = [node]
                quote.delimiter = frame[2]
                quote.closed = True
                quote._loc = lines
                node = quote
                if not stack:
                    cur = forms
                    forms.append(node)
                    break
                top = stack[-1]
                if top[0] == _F_LIST and top[5] < 0:
                    cur = top[4]
                    cur.append(node)
                    break
            elif t == _F_LIST:  # the datum after a dot
                frame[4].append(node)
                frame[5] += 1
                if frame[5] == 2:
                    add_error(
                        node.start, node.end, "bad-dot", "only one datum may follow '.' in a list"
                    )
                break
            else:  # #; comments this datum out
                stack.pop()
                comments.append((frame[1], node.end))
                cur = _cur(stack, forms)
                break

    # -- end of text: whatever is still open is unclosed ---------------------
    while stack:
        frame = stack[-1]
        if frame[0] == _F_LIST:
            stack.pop()
            add_error(
                frame[1],
                frame[1] + len(frame[2]),
                "unclosed",
                f"unclosed '{frame[2]}' opened at {errors.where(frame[1])}",
            )
            node = _close_list(frame, n, errors, lines)
            node.closed = False
        else:
            node = _missing_datum(stack, errors, lines, comments)
            if node is None:
                continue
        _emit(node, stack, forms, comments, errors)

    comments.sort()  # datum comments are recorded when they end
    comment_spans = lines.spans(comments) if comments else []
    return ReadResult(
        text=text,
        forms=forms,
        errors=errors.build() if errors.items else [],
        comments=comment_spans,
        lines=lines,
        lang=lang,
    )


def _cur(stack: list[list], forms: list[Node]) -> list[Node] | None:
    """The list a plain datum goes into now, or None when the slow path is needed."""
    if not stack:
        return forms
    top = stack[-1]
    if top[0] == _F_LIST and top[5] < 0:
        return top[4]
    return None


def _close_slow(text, s, c, stack, waiting, forms, comments, errors: _Errors, lines):
    """A closer met outside the simple case; returns the frame it closes, or None.

    Handles quotes/``#;`` left without a datum, stray closers, and mismatched
    closers (closing the inner lists unclosed when an outer list wants ``c``).
    """
    while stack and stack[-1][0] != _F_LIST:
        node = _missing_datum(stack, errors, lines, comments)
        if node is not None:
            _emit(node, stack, forms, comments, errors)
    if not stack:
        errors.add(s, s + 1, "stray-closer", f"unexpected '{c}' with no matching opener")
        return None
    frame = stack[-1]
    if frame[3] != c:
        errors.add(
            s,
            s + 1,
            "mismatched-closer",
            f"'{c}' does not match '{frame[2]}' opened at {errors.where(frame[1])}",
        )
        if waiting[c]:
            while stack[-1][0] != _F_LIST or stack[-1][3] != c:
                inner = stack[-1]
                if inner[0] != _F_LIST:
                    node = _missing_datum(stack, errors, lines, comments)
                else:
                    stack.pop()
                    waiting[inner[3]] -= 1
                    if inner is not frame:
                        errors.add(
                            inner[1],
                            inner[1] + len(inner[2]),
                            "unclosed",
                            f"unclosed '{inner[2]}' opened at {errors.where(inner[1])}",
                        )
                    node = _close_list(inner, s, errors, lines)
                    node.closed = False
                if node is not None:
                    _emit(node, stack, forms, comments, errors)
            frame = stack[-1]
        # else: no list wants it; let it close the innermost one.
    stack.pop()
    waiting[frame[3]] -= 1
    return frame


def _line_end(text: str, pos: int) -> int:
    """Offset of the end of the line holding ``pos`` (before its terminator)."""
    e = text.find("\n", pos)
    if e < 0:
        return len(text)
    if e > pos and text[e - 1] == "\r":
        e -= 1
    return e


def _block_comment_end(text: str, pos: int) -> int:
    """End offset of a nested ``#| |#`` comment whose body starts at ``pos``; -1 if none."""
    depth = 0
    for m in _BLOCK_RE.finditer(text, pos):
        if m.group() == "#|":
            depth += 1
        elif depth:
            depth -= 1
        else:
            return m.end()
    return -1


def _emit(node: Node, stack: list[list], forms: list[Node], comments, errors: _Errors) -> None:
    """Hand a datum to whoever waits for it (the loop's slow path, for error recovery)."""
    lines = node._loc
    while True:
        if not stack:
            forms.append(node)
            return
        frame = stack[-1]
        t = frame[0]
        if t == _F_LIST:
            frame[4].append(node)
            if frame[5] >= 0:
                frame[5] += 1
                if frame[5] == 2:
                    errors.add(
                        node.start, node.end, "bad-dot", "only one datum may follow '.' in a list"
                    )
            return
        stack.pop()
        if t == _F_QUOTE:
            node = _node(QUOTE, frame[1], node.end, "", None, [node], frame[2], lines)
            continue
        comments.append((frame[1], node.end))
        return


def _missing_datum(stack, errors: _Errors, lines, comments) -> Node | None:
    """Pop a quote / ``#;`` frame that got no datum; return the (childless) quote node."""
    frame = stack.pop()
    s = frame[1]
    if frame[0] == _F_QUOTE:
        prefix = frame[2]
        name = _QUOTE_NAMES.get(prefix, "label")
        errors.add(
            s, s + len(prefix), "missing-datum", f"{prefix} ({name}) is not followed by a datum"
        )
        node = _node(QUOTE, s, s + len(prefix), "", None, [], prefix, lines)
        node.closed = False
        return node
    errors.add(s, s + 2, "missing-datum", "#; is not followed by a datum to comment out")
    comments.append((s, s + 2))
    return None


def _close_list(frame: list, end: int, errors: _Errors, lines: LineIndex) -> Node:
    """Build the LIST/VECTOR node of a finished frame; check dots and vector items."""
    node = _node(frame[6], frame[1], end, "", None, frame[4], frame[2], lines)
    _check_list(node, frame, errors)
    return node


def _check_list(node: Node, frame: list, errors: _Errors) -> None:
    """Checks for the rare lists: dotted tails and homogeneous vectors."""
    if frame[5] == 0:
        dot = frame[4][-1]
        errors.add(dot.start, dot.end, "missing-datum", "no datum after '.'")
    if node.kind is VECTOR and frame[2] != "#(":
        _check_homogeneous(frame[2], frame[4], errors)


def _check_homogeneous(delim: str, children: list[Node], errors: _Errors) -> None:
    rng = _VECTOR_KINDS[delim]
    for child in children:
        v = child.value
        if child.kind is NUMBER:
            if rng is None:
                if isinstance(v, float):
                    continue
            elif isinstance(v, int) and not isinstance(v, bool) and rng[0] <= v <= rng[1]:
                continue
        want = "an inexact real" if rng is None else f"an exact integer in [{rng[0]}, {rng[1]}]"
        errors.add(
            child.start, child.end, "bad-vector-element", f"{delim}...) element must be {want}"
        )


def _hash_token(text, s, tok, errors: _Errors, comments, stack):
    """Rarer ``#`` syntax.

    Returns ``(node, end)`` for a datum (``end`` may differ from the token end
    when the scanner must move), an ``int`` offset to resume at, or None when
    the token was consumed (error or comment).
    """
    e = s + len(tok)
    low = tok.lower()
    hit = _HASH_ATOMS.get(low)
    if hit is not None and hit[0] is BOOLEAN:
        return _node(hit[0], s, e, tok, hit[1], _NO_CHILDREN, "", None), e
    c = tok[1] if len(tok) > 1 else ""
    if c == "<":
        if tok.startswith("#<<"):
            return _heredoc(text, s, errors)
        errors.add(s, e, "bad-hash-syntax", f"unknown '#' syntax {tok}")
        return None
    if c == "!":
        name = tok[2:]
        if name in ("fold-case", "no-fold-case"):
            comments.append((s, e))
            return None
        errors.add(s, e, "bad-hash-syntax", f"unknown '#!' name {tok}")
        return None
    if c == "#" or c == "%":
        if tok.strip("#") == "":
            return _node(SPECIAL, s, e, tok, tok, _NO_CHILDREN, "", None), e
        if len(tok) > 1 and tok[-1] == ":":
            return _node(KEYWORD, s, e, tok, tok[:-1], _NO_CHILDREN, "", None), e
        return _node(SYMBOL, s, e, tok, tok, _NO_CHILDREN, "", None), e
    if c == ":":
        name = tok[2:]
        if not name:
            errors.add(s, e, "bad-hash-syntax", "'#:' must be followed by a name")
            return None
        if len(name) > 1 and name[-1] == ":":
            return _node(KEYWORD, s, e, tok, name[:-1], _NO_CHILDREN, "", None), e
        return _node(SYMBOL, s, e, tok, name, _NO_CHILDREN, "", None), e
    if c in _DIGITS:
        m = _SHARP_DIGIT_RE.match(tok)
        assert m is not None
        pe = s + m.end()
        if m.group(2) == "=":
            stack.append([_F_QUOTE, s, m.group()])
            return pe
        return _node(SPECIAL, s, pe, m.group(), m.group(), _NO_CHILDREN, "", None), pe
    if c and c in "xXbBoOdDeEiI":
        v = _parse_prefixed_number(tok)
        if v is None:
            errors.add(s, e, "bad-number", f"invalid number {tok}")
            return None
        return _node(NUMBER, s, e, tok, v, _NO_CHILDREN, "", None), e
    if c == "":
        return _node(SPECIAL, s, e, tok, tok, _NO_CHILDREN, "", None), e
    if c == ".":
        errors.add(s, e, "bad-hash-syntax", "'#.' (read-time evaluation) is not allowed")
        return None
    if tok.startswith("#lang"):
        errors.add(s, e, "bad-hash-syntax", "#lang is only allowed on the first line")
        return _line_end(text, s)
    errors.add(s, e, "bad-hash-syntax", f"unknown '#' syntax {tok}")
    return None


def _heredoc(text: str, s: int, errors: _Errors):
    """``#<<TAG`` here-string: lines up to one equal to TAG."""
    tag_start = s + 3
    nl = text.find("\n", tag_start)
    if nl < 0:
        errors.add(s, len(text), "unterminated-string", "here-string #<< needs a tag line")
        return len(text)
    tag = text[tag_start:nl]
    end_re = re.compile(r"(?<=\n)" + re.escape(tag) + r"(?=\n|\Z)")
    m = end_re.search(text, nl + 1)
    if m is None:
        errors.add(
            s,
            s + 3 + len(tag),
            "unterminated-string",
            f"unterminated here-string #<<{tag.rstrip()} opened at {errors.where(s)}",
        )
        node = _node(STRING, s, len(text), text[s:], text[nl + 1 :], _NO_CHILDREN, "", None)
        node.closed = False
        return node, len(text)
    body_end = max(m.start() - 1, nl + 1)
    e = m.end()
    return _node(STRING, s, e, text[s:e], text[nl + 1 : body_end], _NO_CHILDREN, "", None), e
