"""Where the cursor sits in the s-expression structure, from a fast lexical scan.

Post-processing needs three facts on every keystroke: which delimiters are open
at the cursor, how many of them the text after the cursor closes, and where a
completion opens and closes forms. The full reader is too slow for a 50 KB
prefix on each keystroke, so this is a regex scan that only recognises what
can hide a paren (strings, ``|symbols|``, comments, ``#\\(`` characters) and the
parens themselves, starting at the enclosing top-level form (Gerbil code puts
those at column 0).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

OPENERS = {"(": ")", "[": "]", "{": "}"}
CLOSERS = {")": "(", "]": "[", "}": "{"}
SCAN_LIMIT = 20_000  # characters scanned on either side of the cursor

_TOKEN_RE = re.compile(
    r'(?P<string>"(?:[^"\\]|\\.)*(?P<string_end>")?)'
    r"|(?P<bar>\|(?:[^|\\]|\\.)*(?P<bar_end>\|)?)"
    r"|(?P<comment>;[^\n]*)"
    r"|(?P<block>#\|(?:(?!\|#).)*(?P<block_end>\|#)?)"
    r"|(?P<char>#\\(?:x[0-9a-fA-F]+|[A-Za-z]+|.))"
    r"|(?P<open>(?:#(?:[us](?:8|16|32|64)|f(?:32|64))?)?[(\[{])"
    r"|(?P<close>[)\]}])"
    r"|(?P<newline>\n)",
    re.S,
)

# What to put before a completion so the scan continues in the prefix's state.
STATE_OPENER = {None: "", "string": '"', "bar": "|", "comment": ";", "block": "#|"}


@dataclass
class Event:
    """A paren or a line end outside strings and comments; ``depth`` is after the event."""

    kind: str  # open | close | newline | comment (its start)
    start: int
    end: int
    char: str
    depth: int


@dataclass
class Scan:
    events: list[Event] = field(default_factory=list)
    stack: list[str] = field(default_factory=list)  # open delimiters at the end ("(" / "[" / "{")
    below: list[str] = field(default_factory=list)  # closers that closed what was open before the text
    tail: str | None = None  # string | bar | comment | block: the text ends inside one
    min_depth: int = 0


def scan(text: str) -> Scan:
    """Events and the final state of ``text``, depth counted from 0 at its start."""
    out = Scan()
    stack = out.stack
    depth = 0
    for match in _TOKEN_RE.finditer(text):
        kind = match.lastgroup
        token = match.group()
        if kind == "open":
            stack.append(token[-1])
            depth += 1
            out.events.append(Event("open", match.start(), match.end(), token[-1], depth))
        elif kind == "close":
            if stack:
                stack.pop()
            else:
                out.below.append(token)
            depth -= 1
            out.min_depth = min(out.min_depth, depth)
            out.events.append(Event("close", match.start(), match.end(), token, depth))
        elif kind == "newline":
            out.events.append(Event("newline", match.start(), match.end(), "\n", depth))
        else:
            if kind in ("comment", "block"):
                out.events.append(Event("comment", match.start(), match.end(), token[:2], depth))
            if match.end() == len(text) and (kind == "comment" or (
                    kind in ("string", "bar", "block") and match.group(kind + "_end") is None)):
                out.tail = kind
    return out


def top_level_start(prefix: str) -> int:
    """Offset of the top-level form the cursor is in (the last line starting with a paren)."""
    floor = max(0, len(prefix) - SCAN_LIMIT)
    at = prefix.rfind("\n(", floor)
    if at >= 0:
        return at + 1
    return 0 if floor == 0 else floor


@dataclass
class CursorState:
    """What surrounds the cursor: open delimiters, how many the suffix closes, lexical state."""

    open_stack: list[str]  # delimiters open at the cursor, outermost first
    suffix_closes: int  # how many of them the suffix closes (innermost first)
    tail: str | None  # the cursor is inside a string / |symbol| / comment
    suffix_closes_tail: bool = False  # ... and the suffix ends that string / |symbol| / block comment

    @property
    def unclosed(self) -> int:
        """Forms open at the cursor that nothing after it closes: a completion may close these."""
        return max(0, len(self.open_stack) - self.suffix_closes)

    @property
    def top_level(self) -> bool:
        return not self.open_stack


def cursor_state(prefix: str, suffix: str) -> CursorState:
    head = scan(prefix[top_level_start(prefix):])
    opener = STATE_OPENER[head.tail]
    rest = suffix[: SCAN_LIMIT]
    next_form = rest.find("\n(")
    if next_form >= 0:
        rest = rest[:next_form]
    after = scan(opener + rest) if head.tail in (None, "string", "bar", "block") else scan(_after_line(rest))
    closes = min(len(after.below), len(head.stack))
    closes_tail = False
    if head.tail in ("string", "bar", "block"):
        first = _TOKEN_RE.match(opener + rest)
        closes_tail = first is not None and first.group(head.tail + "_end") is not None
    return CursorState(list(head.stack), closes, head.tail, closes_tail)


def tail_end(state: CursorState, completion: str) -> int | None:
    """Where ``completion`` ends the string / |symbol| / block comment the cursor is in, if it does."""
    if state.tail not in ("string", "bar", "block"):
        return None
    opener = STATE_OPENER[state.tail]
    first = _TOKEN_RE.match(opener + completion)
    if first is None or first.group(state.tail + "_end") is None:
        return None
    return first.start(state.tail + "_end") - len(opener)


def _after_line(text: str) -> str:
    """In a line comment, the suffix only matters from the next line on."""
    newline = text.find("\n")
    return text[newline:] if newline >= 0 else ""


def scan_completion(state: CursorState, completion: str) -> tuple[Scan, int]:
    """Scan ``completion`` as it continues from ``state``; returns the scan and the offset shift."""
    opener = STATE_OPENER[state.tail]
    return scan(opener + completion), len(opener)
