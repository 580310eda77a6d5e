"""Debounce: wait for a pause in typing before asking the model.

Each request takes a ticket; after the pause it goes on only if no newer
request took one meanwhile. Superseded requests answer at once with nothing,
so a burst of keystrokes costs one generation, not twenty.
"""

from __future__ import annotations

import asyncio


class Debouncer:
    def __init__(self, delay_ms: int) -> None:
        self.delay_s = max(0, delay_ms) / 1000.0
        self._latest = 0

    def ticket(self) -> int:
        """A new request: everything before it is stale from now on."""
        self._latest += 1
        return self._latest

    def current(self, ticket: int) -> bool:
        return ticket == self._latest

    async def settle(self, ticket: int, *, immediate: bool = False) -> bool:
        """Wait the debounce delay; True when ``ticket`` is still the newest request."""
        if not immediate and self.delay_s > 0:
            await asyncio.sleep(self.delay_s)
        return self.current(ticket)
