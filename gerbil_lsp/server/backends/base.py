"""The one small interface every model backend speaks (like llm-ls's ``backend.rs``).

A backend turns a prompt into text. ``complete`` sends a raw prompt with no
chat template (the FIM prompt is already fully templated); ``chat`` sends
messages through the endpoint's own template. Cancelling the asyncio task that
awaits either call aborts the request, the HTTP stream included, so a stale
keystroke never keeps a GPU busy.

A caller may pass ``enough``: called with the text generated so far as it
streams in, True means everything after it would be thrown away (the
completion closed its form), so the backend stops there and closes the
stream, and the server stops generating. This is Tabby's stop condition: the
editor gets its text sooner and the GPU does no work that nobody will see.

Two errors, because the completer treats them differently:
:class:`BackendUnavailable` (cannot reach it, no key, model missing: back off
and tell the user once) and :class:`BackendError` (reached it, it failed).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

Enough = Callable[[str], bool]
"""``enough(text_so_far)``: True once nothing more will be kept. Pure, so a worker thread may call it."""

ENOUGH = "enough"  # the finish reason when ``enough`` ended the generation


class BackendUnavailable(RuntimeError):
    """The backend cannot be used now: not running, unreachable, no key, model not there."""


class BackendError(RuntimeError):
    """The backend answered, but with an error or something we cannot use."""


@dataclass
class Completion:
    """What one request produced, with what it cost."""

    text: str
    model: str
    latency_ms: float
    tokens: int | None = None  # generated tokens, when the backend says
    prompt_tokens: int | None = None
    finish_reason: str | None = None  # stop | length | cancelled | enough ...
    backend: str = ""
    timings: dict[str, Any] = field(default_factory=dict)  # backend-reported (Ollama's durations...)


@runtime_checkable
class Backend(Protocol):
    """A model endpoint. ``fim`` is False for chat-only endpoints (no raw completions)."""

    name: str
    model: str
    fim: bool

    async def complete(
        self, prompt: str, *, max_tokens: int, temperature: float, stop: list[str] | None = None,
        enough: Enough | None = None,
    ) -> Completion: ...

    async def chat(
        self, messages: list[dict], *, max_tokens: int, temperature: float, stop: list[str] | None = None,
        enough: Enough | None = None,
    ) -> Completion: ...

    async def health(self) -> bool: ...

    async def aclose(self) -> None: ...


class Stopwatch:
    """Milliseconds since creation; every backend reports latency the same way."""

    __slots__ = ("start",)

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def ms(self) -> float:
        return (time.perf_counter() - self.start) * 1000.0


def cut_at_stop(text: str, stop: list[str] | None) -> tuple[str, bool]:
    """Text up to the first stop sequence (endpoints that ignore ``stop`` still get cut)."""
    if not stop:
        return text, False
    first = min((i for s in stop if s and (i := text.find(s)) >= 0), default=-1)
    return (text[:first], True) if first >= 0 else (text, False)
