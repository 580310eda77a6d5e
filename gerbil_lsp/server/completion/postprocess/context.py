"""What every filter gets: the completion's surroundings, scanned once per request."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from gerbil_lsp.server.completion.sexp_state import CursorState, cursor_state


@dataclass
class Surroundings:
    """The document text before and after the cursor."""

    prefix: str
    suffix: str

    @cached_property
    def state(self) -> CursorState:
        return cursor_state(self.prefix, self.suffix)

    @cached_property
    def suffix_line(self) -> str:
        """The rest of the cursor's line."""
        end = self.suffix.find("\n")
        return self.suffix if end < 0 else self.suffix[:end]

    @cached_property
    def first_suffix_line(self) -> str:
        """The first line after the cursor with something on it, stripped."""
        for line in self.suffix.split("\n", 8)[:8]:
            if line.strip():
                return line.strip()
        return ""
