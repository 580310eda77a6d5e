"""An LRU of recent model completions, with typed-ahead reuse.

When the user types exactly what the ghost text suggested, the rest of the
suggestion is still right: it is served from here with no new request. An
exact hit is one dict lookup (document, suffix head, prefix length and hash);
typed-ahead looks only at the few newest suggestions for the same document
and suffix (typing before the suffix leaves it alone), since the user types
ahead of what was just shown, not of something from minutes ago.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass

SUFFIX_KEY_CHARS = 2000  # the suffix's head identifies it well enough
TYPED_AHEAD_WINDOW = 16  # newest suggestions per document+suffix checked for typed-ahead


@dataclass(frozen=True)
class Cached:
    prefix_len: int
    prefix_hash: int
    prefix_tail: str  # the last characters, compared before hashing
    text: str


class CompletionCache:
    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._exact: OrderedDict[tuple, Cached] = OrderedDict()
        self._recent: dict[tuple[str, str], deque[Cached]] = {}
        self.hits = 0
        self.typed_ahead_hits = 0

    def __len__(self) -> int:
        return len(self._exact)

    def put(self, uri: str, prefix: str, suffix: str, text: str) -> None:
        if self.size <= 0 or not text:
            return
        where = (uri, suffix[:SUFFIX_KEY_CHARS])
        entry = Cached(len(prefix), hash(prefix), prefix[-32:], text)
        key = (*where, entry.prefix_len, entry.prefix_hash)
        self._exact[key] = entry
        self._exact.move_to_end(key)
        while len(self._exact) > self.size:
            self._exact.popitem(last=False)
        recent = self._recent.get(where)
        if recent is None:
            if len(self._recent) >= self.size:
                self._recent.pop(next(iter(self._recent)))
            recent = self._recent[where] = deque(maxlen=TYPED_AHEAD_WINDOW)
        recent.appendleft(entry)

    def get(self, uri: str, prefix: str, suffix: str) -> str | None:
        """The cached completion for this cursor, or the untyped rest of one the user is typing."""
        where = (uri, suffix[:SUFFIX_KEY_CHARS])
        exact = self._exact.get((*where, len(prefix), hash(prefix)))
        if exact is not None:
            self.hits += 1
            return exact.text
        for entry in self._recent.get(where, ()):
            typed = len(prefix) - entry.prefix_len
            if typed <= 0 or typed >= len(entry.text):
                continue
            if prefix[entry.prefix_len:] != entry.text[:typed]:
                continue
            if not prefix.endswith(entry.prefix_tail, 0, entry.prefix_len):
                continue
            if hash(prefix[: entry.prefix_len]) != entry.prefix_hash:
                continue
            self.hits += 1
            self.typed_ahead_hits += 1
            return entry.text[typed:]
        return None

    def clear(self) -> None:
        self._exact.clear()
        self._recent.clear()
