"""Is the backend usable now? Retry with exponential backoff, and tell the user once.

A backend that is down must not cost each keystroke a timeout: after a failure
requests skip it until the backoff expires, then one request tries again (the
retry); each further failure doubles the wait up to a cap. The user hears
about an outage once, when it starts, and once when it ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class BackendHealth:
    def __init__(self, *, base_s: float = 1.0, cap_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.base_s = base_s
        self.cap_s = cap_s
        self.clock = clock
        self.failures = 0
        self.retry_at = 0.0
        self.last_error: str | None = None
        self.slow_noted = False

    @property
    def down(self) -> bool:
        return self.failures > 0

    def available(self) -> bool:
        return self.clock() >= self.retry_at

    def failed(self, reason: str) -> bool:
        """Record a failure; True when this starts an outage (the moment to tell the user)."""
        started = self.failures == 0
        self.failures += 1
        self.last_error = reason
        self.retry_at = self.clock() + min(self.cap_s, self.base_s * 2 ** (self.failures - 1))
        return started

    def succeeded(self) -> bool:
        """Record a success; True when this ends an outage."""
        ended = self.failures > 0
        self.failures = 0
        self.retry_at = 0.0
        self.last_error = None
        return ended

    def note_slow(self) -> bool:
        """True the first time the backend is too slow for the budget (tell the user once)."""
        first = not self.slow_noted
        self.slow_noted = True
        return first
