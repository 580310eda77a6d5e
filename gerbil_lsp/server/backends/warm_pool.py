"""One HTTP connection pool per backend, kept warm for the next completion.

Closing a stream part-way is how a model server learns to stop generating (a
newer keystroke, or the completion closed its form). On HTTP/1.1 that also
throws the connection away, so the next completion would open a new one on the
keystroke's critical path: a TCP connect and the HTTP client's set-up locally
(about 1 ms here), a TLS handshake on a hosted endpoint (tens of ms). So a
cut stream is handed to :meth:`WarmPool.cut`, which closes it and then opens a
fresh connection with a cheap ``HEAD`` request, so one waits in the pool when
the user types again. Both happen a few milliseconds later, once the answer
is on its way to the editor: done at once, they would run before it.

The SDK's client and the warmer share one transport, which is where httpx
keeps its pool; a request hook remembers the server the SDK last spoke to,
and the probe asks for that server's root. It sends no key: any answer, a 401
or a 404 included, leaves a connection that the next request can use. The
``openai`` SDK (3.x) is built on ``httpx2``, the others on ``httpx``: the pool
is made from whichever module the SDK's client class comes from.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any

import httpx

log = logging.getLogger(__name__)

KEEPALIVE_S = 60.0  # an idle connection outlives a pause in typing (httpx's default is 5 s)
AFTER_ANSWER_S = 0.005  # the close and the probe wait this long: the answer goes out first
Close = Callable[[], Awaitable[Any]]


def http_module_of(client_class: type) -> ModuleType:
    """The httpx-style module that an SDK's ``AsyncClient`` subclass is built on."""
    for base in client_class.__mro__:
        if base.__name__ == "AsyncClient":
            return sys.modules[base.__module__.split(".")[0]]
    return httpx


class WarmPool:
    """A transport and request hooks for an SDK client; ``cut()`` for a stream left before its end."""

    def __init__(self, *, http: ModuleType = httpx, timeout_s: float = 10.0) -> None:
        self._http = http
        limits = http.Limits(max_connections=16, max_keepalive_connections=4, keepalive_expiry=KEEPALIVE_S)
        self.transport = http.AsyncHTTPTransport(limits=limits)
        self.hooks: dict[str, list[Any]] = {"request": [self._remember]}
        self.root: Any = None  # scheme, host and port of the server last asked; no credentials
        self._warmer = http.AsyncClient(transport=self.transport, timeout=timeout_s)
        self._scheduled: dict[asyncio.TimerHandle, Close | None] = {}
        self._running: set[asyncio.Task] = set()
        self._probing = False

    async def _remember(self, request: Any) -> None:
        url = request.url
        self.root = self._http.URL(scheme=url.scheme, host=url.host, port=url.port, path="/")

    def cut(self, close: Close | None = None) -> None:
        """A stream was left early (or failed): ``close`` it, then open a fresh connection, soon.

        Deferring the close lets the server generate for a few more milliseconds;
        the editor gets its answer that much sooner.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        handle = loop.call_later(AFTER_ANSWER_S, lambda: self._start(handle))
        self._scheduled[handle] = close

    def _start(self, handle: asyncio.TimerHandle) -> None:
        task = asyncio.get_running_loop().create_task(self._after_cut(self._scheduled.pop(handle, None)))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _after_cut(self, close: Close | None) -> None:
        if close is not None:
            with contextlib.suppress(Exception):
                await close()
        if self.root is None or self._probing:
            return
        self._probing = True
        try:
            await self._warmer.head(self.root)
        except self._http.HTTPError as exc:  # the next completion reports a down backend; here it is only a miss
            log.debug("warming a connection to %s failed: %s", self.root, type(exc).__name__)
        finally:
            self._probing = False

    async def settled(self) -> None:
        """Wait until every cut stream is closed and its probe answered (for tests and benchmarks)."""
        while self._scheduled or self._running:
            if self._running:
                await asyncio.wait(set(self._running))
            else:
                await asyncio.sleep(AFTER_ANSWER_S)

    async def aclose(self) -> None:
        """Close the cut streams now, skip their probes, and close the pool."""
        for handle, close in list(self._scheduled.items()):
            handle.cancel()
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()
        self._scheduled.clear()
        for task in list(self._running):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._running, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._warmer.aclose()
