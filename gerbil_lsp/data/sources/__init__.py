"""Sources: each turns one kind of material into :class:`~gerbil_lsp.data.entries.Entry` objects.

A source never raises on bad input: it reports a :class:`Warning` with file:line
through the ``warn`` callback and goes on with the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SourceWarning:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


Warn = Callable[[SourceWarning], None]


class Sink:
    """Where a source puts what it makes: entries, drops (by reason) and warnings."""

    def __init__(self, warn: Warn | None = None) -> None:
        from collections import Counter

        self.entries: list = []
        self.dropped: Counter = Counter()
        self.drop_examples: dict[str, list[str]] = {}
        self.warnings: list[SourceWarning] = []
        self._warn = warn

    def add(self, entry) -> None:
        self.entries.append(entry)

    def drop(self, reason: str, where: str) -> None:
        self.dropped[reason] += 1
        examples = self.drop_examples.setdefault(reason, [])
        if len(examples) < 5:
            examples.append(where)

    def warn(self, file: str, line: int, message: str) -> None:
        w = SourceWarning(file, line, message)
        self.warnings.append(w)
        if self._warn is not None:
            self._warn(w)

    def state(self) -> tuple:
        """What went into this sink (picklable), for :meth:`absorb` in another sink."""
        return self.entries, self.dropped, self.drop_examples, self.warnings

    def absorb(self, state: tuple) -> None:
        """Take in another sink's :meth:`state` as if its sources had run into this sink, in order."""
        entries, dropped, examples, warnings = state
        self.entries.extend(entries)
        self.dropped.update(dropped)
        for reason, wheres in examples.items():
            mine = self.drop_examples.setdefault(reason, [])
            mine.extend(wheres[: max(0, 5 - len(mine))])
        for w in warnings:
            self.warnings.append(w)
            if self._warn is not None:
                self._warn(w)


def read_text(path: Path, sink: Sink, shown: str | None = None) -> str | None:
    """A file's text; invalid UTF-8 is warned about (with its line) and replaced, never fatal."""
    shown = shown or str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        sink.warn(shown, 0, f"cannot read ({exc.strerror}); skipped")
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        sink.warn(shown, line, f"invalid UTF-8 ({exc.reason}); bad bytes replaced with U+FFFD")
        return data.decode("utf-8", errors="replace")
