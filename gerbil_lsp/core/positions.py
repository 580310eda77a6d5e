"""Source positions: offsets <-> LSP (line, UTF-16 character) positions.

The reader works on Python ``str`` offsets (code points); LSP speaks lines and
UTF-16 code units.  ``LineIndex`` is built once per text and converts both ways
in O(log n): a line-start table plus, only when the text has characters outside
the BMP (which take two UTF-16 units), a sorted table of those characters.
ASCII and BMP-only text (nearly all Gerbil code) never pays for the second table.
Everything is computed lazily, so a reader that never asks for a position pays
nothing.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import accumulate

__all__ = ["Pos", "Span", "LineIndex"]


@dataclass(frozen=True, slots=True)
class Pos:
    """A point in a text: ``offset`` into the str, 0-based ``line`` and UTF-16 ``character``."""

    offset: int
    line: int
    character: int


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open range ``[start, end)`` of a text."""

    start: Pos
    end: Pos


# Building frozen dataclasses through their __init__ goes through
# object.__setattr__ per field; the slot descriptors are ~2x faster and the
# reader makes many of these.
_new = object.__new__
_set_offset = Pos.__dict__["offset"].__set__
_set_line = Pos.__dict__["line"].__set__
_set_char = Pos.__dict__["character"].__set__
_set_start = Span.__dict__["start"].__set__
_set_end = Span.__dict__["end"].__set__


def make_pos(offset: int, line: int, character: int) -> Pos:
    """Fast ``Pos`` constructor (same result as ``Pos(offset, line, character)``)."""
    p = _new(Pos)
    _set_offset(p, offset)
    _set_line(p, line)
    _set_char(p, character)
    return p


def make_span(start: Pos, end: Pos) -> Span:
    """Fast ``Span`` constructor."""
    s = _new(Span)
    _set_start(s, start)
    _set_end(s, end)
    return s


_NEWLINE_RE = re.compile(r"\r\n|\r|\n")
_one_more = (1).__add__
_ASTRAL_RE = re.compile("[\U00010000-\U0010ffff]")


class LineIndex:
    """Converts offsets to LSP positions and back for one text.

    Lines end at ``\\n``, ``\\r\\n`` or a lone ``\\r`` (the three LSP line
    terminators).  Out-of-range input is clamped, never an exception.
    """

    __slots__ = ("text", "_starts", "_astral", "_adj")

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts: list[int] | None = None
        self._astral: list[int] | None = None  # offsets of non-BMP chars
        self._adj: list[int] | None = None  # _astral[j] + j: UTF-16 offset of each

    # -- lazy tables ---------------------------------------------------------

    def _build(self) -> list[int]:
        text = self.text
        if "\r" in text:
            starts = [0]
            starts.extend([m.end() for m in _NEWLINE_RE.finditer(text)])
        else:  # the usual case, all in C: each line starts one past the end of the one before
            starts = list(accumulate(map(_one_more, map(len, text.split("\n"))), initial=0))
            starts.pop()  # one past the end of the last line
        if not text.isascii():
            astral = [m.start() for m in _ASTRAL_RE.finditer(text)]
            if astral:
                self._astral = astral
                self._adj = [a + j for j, a in enumerate(astral)]
        self._starts = starts
        return starts

    @property
    def line_count(self) -> int:
        """Number of lines (a text ending in a newline has a final empty line)."""
        starts = self._starts or self._build()
        return len(starts)

    def line_start(self, line: int) -> int:
        """Offset where ``line`` starts (clamped)."""
        starts = self._starts or self._build()
        if line <= 0:
            return 0
        if line >= len(starts):
            return len(self.text)
        return starts[line]

    def line_end(self, line: int) -> int:
        """Offset of the end of ``line``'s content, before its terminator (clamped)."""
        starts = self._starts or self._build()
        text = self.text
        if line < 0:
            line = 0
        if line + 1 >= len(starts):
            return len(text)
        end = starts[line + 1]
        if end > 0 and text[end - 1] == "\n":
            end -= 1
        if end > starts[line] and text[end - 1] == "\r":
            end -= 1
        return end

    # -- conversions ---------------------------------------------------------

    def line_of(self, offset: int) -> int:
        """0-based line containing ``offset`` (clamped)."""
        starts = self._starts or self._build()
        return bisect_right(starts, offset) - 1 if offset > 0 else 0

    def _locate(self, offset: int) -> tuple[int, int, int]:
        """``(offset, line, UTF-16 character)`` with the offset clamped into ``[0, len(text)]``."""
        starts = self._starts or self._build()
        n = len(self.text)
        offset = 0 if offset < 0 else (n if offset > n else offset)
        line = bisect_right(starts, offset) - 1
        ls = starts[line]
        ch = offset - ls
        astral = self._astral
        if astral is not None:
            ch += bisect_left(astral, offset) - bisect_left(astral, ls)
        return offset, line, ch

    def position(self, offset: int) -> tuple[int, int]:
        """``(line, UTF-16 character)`` of ``offset``: ``pos`` without building a ``Pos``."""
        _, line, character = self._locate(offset)
        return line, character

    def pos(self, offset: int) -> Pos:
        """The LSP position of ``offset`` (clamped into ``[0, len(text)]``)."""
        return make_pos(*self._locate(offset))

    def span(self, start: int, end: int) -> Span:
        """The ``Span`` for offsets ``[start, end)``."""
        return make_span(make_pos(*self._locate(start)), make_pos(*self._locate(end)))

    def line_columns(self, start: int, end: int) -> tuple[int, int, int, int]:
        """``(line, character, end line, end character)`` of ``[start, end)``, as ``span`` gives them.

        For callers that keep the four numbers (an index row per definition) and
        would build a ``Span`` and two ``Pos`` only to read them.
        """
        _, line, character = self._locate(start)
        _, end_line, end_character = self._locate(end)
        return line, character, end_line, end_character

    def spans(self, pairs: list[tuple[int, int]]) -> list[Span]:
        """``span`` for many ``(start, end)`` pairs (the reader's comments)."""
        return [self.span(start, end) for start, end in pairs]

    def offset(self, line: int, character: int) -> int:
        """The str offset of an LSP position; clamps out-of-range input, never raises.

        A character past the end of the line gives the line's end; a position
        inside a surrogate pair snaps to the start of that character.
        """
        starts = self._starts or self._build()
        if line < 0:
            return 0
        if line >= len(starts):
            return len(self.text)
        ls = starts[line]
        if character <= 0:
            return ls
        le = self.line_end(line)
        astral = self._astral
        if astral is None:
            return min(ls + character, le)
        lo = bisect_left(astral, ls)
        hi = bisect_left(astral, le, lo)
        if lo == hi:
            return min(ls + character, le)
        # UTF-16 column of astral[j] is _adj[j] - ls - lo; count those < character.
        adj = self._adj
        assert adj is not None
        j = bisect_left(adj, character + ls + lo, lo, hi)
        k = j - lo  # astral chars wholly before the target column
        if k:
            last_col = adj[j - 1] - ls - lo
            if character == last_col + 1:  # inside a surrogate pair
                return astral[j - 1]
        return min(ls + character - k, le)

    def utf16_len(self, start: int, end: int) -> int:
        """UTF-16 length of ``text[start:end]``."""
        astral = self._astral if self._starts is not None else (self._build() and self._astral)
        n = end - start
        if astral is not None:
            n += bisect_left(astral, end) - bisect_left(astral, start)
        return n
