"""What the backends that run a model inside the server process share (llama.cpp, transformers).

Both libraries block and are not thread-safe, so generations run one at a
time on a single worker thread and the event loop never waits on them.
Cancelling the awaiting task sets the generation's flag, which the library's
stopping criterion checks after every token: a stale generation ends within
one token. Subclasses load the model in ``_load`` and drop it in ``_release``,
both on the worker thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from gerbil_lsp.server.backends.base import BackendUnavailable

log = logging.getLogger(__name__)


class InProcessBackend:
    """One worker thread, a stop flag per generation, and load/health/close around them."""

    name = "in-process"

    def __init__(self, thread_name: str) -> None:
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix=thread_name)
        self._active: set[threading.Event] = set()
        self.generations_started = 0
        self.generations_stopped = 0  # ended early by cancellation

    def _load(self) -> Any:
        raise NotImplementedError

    def _release(self) -> None:
        raise NotImplementedError

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args, flag)`` on the worker; cancelling the caller sets ``flag``, and ``fn`` stops at it."""
        flag = threading.Event()
        self._active.add(flag)
        future = asyncio.get_running_loop().run_in_executor(self._worker, fn, *args, flag)
        future.add_done_callback(_retrieve)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            flag.set()  # the worker stops after its current token
            raise
        finally:
            self._active.discard(flag)

    async def _on_worker(self, fn: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._worker, fn)

    async def health(self) -> bool:
        """True when the model (and adapter) load."""
        try:
            await self._on_worker(self._load)
        except BackendUnavailable as exc:
            log.warning("%s health: %s", self.name, exc)
            return False
        return True

    async def aclose(self) -> None:
        """Stop what runs, then free the model on the worker thread (never under a generation)."""
        for flag in list(self._active):
            flag.set()
        await self._on_worker(self._release)
        self._worker.shutdown(wait=False, cancel_futures=True)


def _retrieve(future) -> None:
    """Mark a cancelled request's late error as seen (no 'never retrieved' warning)."""
    if not future.cancelled():
        future.exception()
