"""Lisp indentation for Gerbil: the leading whitespace each line should have.

Only indentation changes, never a line's content, so formatting cannot change
what a program means. The rules are the ones Gerbil's own sources follow (Emacs'
Lisp indentation with Gerbil's forms):

* a call aligns its arguments under the first argument when that one is on the
  head's line, else under the head;
* a form with a body (``def...``, ``lambda``, ``let``, ``when``, ``match``...)
  indents its first *distinguished* arguments (the bindings of ``let``, the
  value ``match`` reads) by 4 when they start a line, and its body by 2; a
  macro not in the table has a body where its pattern or documented signature
  names one (``(defrules with-table () ((_ t body ...) ...))``: one argument, then the body);
* a list whose head is a list (``let`` bindings, ``cond`` clauses) or a string
  aligns under its first element; vectors and quoted data are indented as code is;
* a line that is part of a multi-line string or block comment is never touched,
  nor a ``;;;`` comment; other comments are indented as the code they sit in.

Lines are computed top to bottom, each from the new columns of the lines above.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from gerbil_lsp.core.reader import (
    DOT,
    LIST,
    QUOTE,
    STRING,
    SYMBOL,
    VECTOR,
    LineIndex,
    Node,
    ReadResult,
    read_source,
)

BODY = 2
"""Columns a body is indented by, from its form's opening paren."""

# How many arguments of each form come before its body (its "distinguished" arguments);
# -1: all of it is indented as a body, as for any head starting with "def".
BODY_FORMS: dict[str, int] = {
    # binding and function forms
    "lambda": 1, "λ": 1, "case-lambda": 0, "let*": 1, "letrec": 1, "letrec*": 1,
    "let-values": 1, "let*-values": 1, "letrec-values": 1, "letrec*-values": 1,
    "let-syntax": 1, "letrec-syntax": 1, "let-hash": 1, "let/cc": 1, "let/esc": 1,
    "rec": 1, "alet": 1, "alet*": 1, "with": 1, "with*": 1, "using": 1,
    "parameterize": 1, "parameterize*": 1, "fluid-let": 1,
    # control
    "if": 1, "set!": 1, "when": 1, "unless": 1, "case": 1, "ecase": 1, "match": 1, "match*": 1, "do": 2,
    "begin": 0, "begin0": 1, "while": 1, "until": 1, "for": 1, "for*": 1,
    "for/collect": 1, "for/fold": 2, "when-let": 1, "if-let": 1, "awhen": 1, "aif": 2,
    "unwind-protect": 1, "dynamic-wind": 3, "catch": 1,
    "with-catch": 1, "with-exception-handler": 1, "with-exception-catcher": 1,
    "guard": 1, "with-lock": 1, "with-destroy": 1, "with-methods": 1,
    "call-with-input-file": 1, "call-with-output-file": 1, "test-suite": 1, "test-case": 1,
    # syntax
    "syntax-rules": 1, "syntax-case": 2, "ast-case": 2, "core-syntax-case": 2, "core-ast-case": 2, "ast-rules": 1, "with-syntax": 1,
    "with-syntax*": 1, "syntax-parameterize": 1, "syntax/loc": 1, "begin-syntax": 0, "begin-foreign": 0,
    "begin-annotation": 1, "module": 1, "cond-expand": 0, "import": 0, "export": 0,
    # the foreign function interface
    "begin-ffi": 1, "extern": -1, "interface": 1,
}


# Documented with a body, but laid out as calls in Gerbil's sources: (try\n (work)\n (catch ...)).
PLAIN_CALLS = frozenset({"try", "finally"})

BodyArguments = Callable[[str], "int | None"]
"""What the file knows of a head that is none of the above (its macros' patterns, the docs' signatures)."""


def body_arguments(head: str, known: BodyArguments | None = None) -> int | None:
    """How many arguments ``head`` takes before its body; -1: all of it is a body; None: a plain call."""
    count = BODY_FORMS.get(head)
    if count is not None:
        return count
    if head in PLAIN_CALLS:
        return None
    if head == "let":  # a named let has its name and bindings before the body: handled by the caller
        return 1
    if head.startswith("def"):
        return -1  # a definition: indented as a body throughout
    count = known(head) if known is not None else None
    if count is not None:
        return count
    if head.startswith("with-"):
        return 1  # (with-lock mx body ...)
    return None


def body_position(items: list[Node]) -> int | None:
    """Where the body starts among a macro's arguments, by the name a pattern or signature gives it.

    ``(_ table body ...)`` and ``(while test body ...)`` -> 1; None when nothing is named ``body``.
    """
    position = 0
    for item in items:
        if item.kind is DOT:
            continue
        if item.kind is SYMBOL and item.value.startswith("body"):  # type: ignore[union-attr]
            return position
        position += 1
    return None


def signature_body_position(signature: str) -> int | None:
    """:func:`body_position` of a documented signature such as ``(let-hash hash body ...)``."""
    forms = read_source(signature).forms
    if forms and forms[0].kind is LIST and forms[0].children:
        return body_position(forms[0].children[1:])
    return None


@dataclass(frozen=True)
class LineIndent:
    """A line whose leading whitespace (``old`` characters of it) becomes ``whitespace``, ``new`` columns wide."""

    line: int
    old: int
    new: int
    whitespace: str


class Indenter:
    """Computes the new indentation of the lines ``first`` to ``last`` (inclusive) of one read text.

    Only the top-level forms over those lines are looked at, so indenting one new
    line costs its form, not the file. ``tab_size`` is how wide a tab in the
    text is; ``tabs`` writes indentation with tabs (then spaces), as an editor
    set to indent with tabs would.
    """

    def __init__(self, result: ReadResult, tab_size: int = 8, tabs: bool = False, first: int = 0,
                 last: int | None = None, known: BodyArguments | None = None) -> None:
        self.result = result
        self.known = known
        self.text = result.text
        self.lines = lines = result.lines
        self.tab_size = max(1, tab_size)
        self.tabs = tabs
        self.first = max(0, first)
        self.last = lines.line_count - 1 if last is None else min(last, lines.line_count - 1)
        self.indent: dict[int, int] = {}  # line -> its new indentation, for the lines already computed
        start, end = lines.line_start(self.first), lines.line_end(self.last)
        forms = result.forms
        over = forms[bisect_right(forms, start, key=_end):bisect_right(forms, end, key=_start)]
        self.containers, verbatim = _multi_line_nodes(over, lines)
        self.verbatim = sorted(verbatim + [(c.start.offset, c.end.offset) for c in result.comments
                                           if c.end.line > c.start.line and c.end.offset > start
                                           and c.start.offset <= end])

    def lines_to_change(self, blank: int | None = None) -> list[LineIndent]:
        """The lines whose indentation is not what it should be.

        ``blank``: a line computed even though it holds only whitespace (the one a newline just opened).
        """
        changes = []
        for line, start, first_char, container in self._line_containers(blank):
            if self.text.startswith(";;;", first_char):
                continue  # a section heading stays where it was put
            new = self.indent_for(container, first_char)
            whitespace = "\t" * (new // self.tab_size) + " " * (new % self.tab_size) if self.tabs else " " * new
            self.indent[line] = new
            if self.text[start:first_char] != whitespace:
                changes.append(LineIndent(line, first_char - start, new, whitespace))
        return changes

    def _line_containers(self, blank: int | None) -> Iterator[tuple[int, int, int, Node | None]]:
        """Each line with code or a comment: (line, its start, its first non-blank offset, innermost list around it)."""
        text, lines = self.text, self.lines
        containers, verbatim = self.containers, self.verbatim
        stack: list[Node] = []
        next_container = next_verbatim = 0
        for line in range(self.first, self.last + 1):
            start = lines.line_start(line)
            end = lines.line_end(line)
            first_char = start
            while first_char < end and text[first_char] in " \t\f":
                first_char += 1
            if first_char == end and line != blank:
                continue
            while next_verbatim < len(verbatim) and verbatim[next_verbatim][1] <= start:
                next_verbatim += 1
            if next_verbatim < len(verbatim) and verbatim[next_verbatim][0] < start:
                continue  # inside a multi-line string or block comment
            while next_container < len(containers) and containers[next_container].start < first_char:
                node = containers[next_container]
                while stack and _end(stack[-1]) <= node.start:
                    stack.pop()
                stack.append(node)
                next_container += 1
            while stack and _end(stack[-1]) <= first_char:
                stack.pop()
            yield line, start, first_char, stack[-1] if stack else None

    def column(self, offset: int) -> int:
        """The column ``offset`` has once the lines above are re-indented (a tab is ``tab_size`` wide)."""
        line = self.lines.line_of(offset)
        start = self.lines.line_start(line)
        first_char = start
        while self.text[first_char] in " \t\f":
            first_char += 1
        indent = self.indent.get(line)
        if indent is None:
            indent = len(self.text[start:first_char].expandtabs(self.tab_size))
        return indent + offset - first_char

    def indent_for(self, container: Node | None, first_char: int) -> int:
        """The column of a line that starts at ``first_char`` inside ``container``."""
        if container is None:
            return 0
        children = container.children
        k = bisect_left(children, first_char, key=_start)  # the line's element's place in the list
        opening = self.column(container.start)
        if k == 0 or not children:
            return opening + len(container.delimiter)
        head = children[0]
        if head.kind in (LIST, VECTOR, STRING):
            return self.column(head.start)  # ((a 1) (b 2)), ("a" b): under the first element
        if head.kind is not SYMBOL:
            return self._aligned(children, k)  # (1 2 3), (key: value ...), ['begin ...]: as a call
        distinguished = body_arguments(head.value, self.known)  # type: ignore[arg-type]
        if distinguished == -1:  # def...: all of it is indented as a body
            return opening + BODY
        if distinguished is None:
            return self._aligned(children, k)
        if head.value == "let" and len(children) > 1 and children[1].kind is SYMBOL:
            distinguished = 2  # (let loop ((i 0)) body)
        if k <= distinguished:  # a distinguished argument on a line of its own
            return opening + 2 * BODY if k <= 2 else self._aligned(children, k)
        if k == distinguished + 1:
            return opening + BODY
        return self._aligned(children, k, body=opening + BODY)

    def _aligned(self, children: list[Node], k: int, body: int | None = None) -> int:
        """Under the last element before ``k`` that starts a line, else under the first argument on the
        head's line; failing both, at ``body`` (a form's body) or under the head (a call)."""
        for i in range(k - 1, 0, -1):
            if self._starts_line(children[i].start):
                return self.column(children[i].start)
        head = children[0]
        if k >= 2 and self.lines.line_of(children[1].start) == self.lines.line_of(head.start):
            return self.column(children[1].start)
        return body if body is not None else self.column(head.start)

    def _starts_line(self, offset: int) -> bool:
        """Whether only whitespace comes before ``offset`` on its line."""
        text = self.text
        while offset > 0 and text[offset - 1] in " \t\f":
            offset -= 1
        return offset == 0 or text[offset - 1] in "\n\r"


def _start(node: Node) -> int:
    return node.start


def _end(node: Node) -> float:
    """Where a list ends; one left open (being typed) holds every line after its start."""
    return node.end if node.closed else float("inf")


def _multi_line_nodes(forms: list[Node], lines: LineIndex) -> tuple[list[Node], list[tuple[int, int]]]:
    """The lists and vectors of ``forms`` that span lines (in text order), and the atoms that do.

    A quote is looked into, but is no container: a line that starts inside it starts in its datum,
    or in the list around it.
    """
    containers: list[Node] = []
    verbatim: list[tuple[int, int]] = []
    stack = list(reversed(forms))
    while stack:
        node = stack.pop()
        if node.kind in (LIST, VECTOR, QUOTE):
            if node.closed and lines.line_of(node.end) == lines.line_of(node.start):
                continue  # no line starts inside it
            if node.kind is not QUOTE:
                containers.append(node)
            stack.extend(reversed(node.children))
        elif node.kind in (STRING, SYMBOL) and ("\n" in node.text or "\r" in node.text):
            verbatim.append((node.start, node.end))
    return containers, verbatim


def reindent(result: ReadResult, first: int = 0, last: int | None = None, tab_size: int = 8,
             tabs: bool = False, known: BodyArguments | None = None) -> list[LineIndent]:
    """The lines (``first`` to ``last``) whose indentation should change, in a text that reads cleanly."""
    return Indenter(result, tab_size, tabs, first, last, known).lines_to_change()


def indent_line(result: ReadResult, line: int, tab_size: int = 8, tabs: bool = False,
                known: BodyArguments | None = None) -> LineIndent | None:
    """The new indentation of ``line``, blank or not (the line a newline just opened); None: it is right."""
    changes = Indenter(result, tab_size, tabs, line, line, known).lines_to_change(blank=line)
    return changes[0] if changes else None


def apply(result: ReadResult, changes: list[LineIndent]) -> str:
    """The text with ``changes`` made (for the CLI and tests; the server sends them as edits)."""
    text = result.text
    pieces, at = [], 0
    for change in changes:
        start = result.lines.line_start(change.line)
        pieces.append(text[at:start])
        pieces.append(change.whitespace)
        at = start + change.old
    pieces.append(text[at:])
    return "".join(pieces)
