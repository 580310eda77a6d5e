"""Showing a background retrain in the editor: ``$/progress`` while it runs, a message when it ends.

The retrain runs in its own process and writes ``retrain-status.json``; the
language server runs :meth:`RetrainProgress.run` as a task, which polls that
file and turns it into work-done progress (``window/workDoneProgress/create``,
begin / report / end) and a ``window/showMessage`` with the outcome.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from lsprotocol import types

from gerbil_lsp.harvest.retrain_trigger import read_status

log = logging.getLogger(__name__)

FINAL_STATES = {"promoted": types.MessageType.Info, "kept": types.MessageType.Info,
                "failed": types.MessageType.Warning}


class RetrainProgress:
    def __init__(self, server: Any, poll_s: float = 2.0) -> None:
        self.server = server
        self.poll_s = poll_s
        self._token: str | None = None
        self._run_seen: str | None = None
        self._finished_seen: str | None = None

    async def run(self) -> None:
        """Poll until cancelled (the server cancels it on shutdown)."""
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("retrain progress")
            await asyncio.sleep(self.poll_s)

    async def tick(self) -> None:
        status = read_status()
        if not status:
            return
        run = str(status.get("run_dir") or status.get("started") or "")
        state = status.get("state")
        percent = int(100 * float(status.get("fraction") or 0.0))
        message = str(status.get("message") or "")
        if state == "running":
            if self._token is None or self._run_seen != run:
                self._token = f"gerbil-lsp-retrain-{uuid.uuid4().hex[:8]}"
                self._run_seen = run
                await self.server.work_done_progress.create_async(self._token)
                self.server.work_done_progress.begin(self._token, types.WorkDoneProgressBegin(
                    title="gerbil-lsp retrain", message=message, percentage=percent, cancellable=False))
            else:
                self.server.work_done_progress.report(self._token, types.WorkDoneProgressReport(
                    message=message, percentage=percent))
        elif state in FINAL_STATES and self._finished_seen != f"{run}:{state}":
            first_look = self._finished_seen is None and self._token is None
            self._finished_seen = f"{run}:{state}"
            if self._token is not None:
                self.server.work_done_progress.end(self._token, types.WorkDoneProgressEnd(message=f"{state}: {message}"))
                self._token = None
            if not first_look:  # do not replay an old result when the editor starts
                self.server.window_show_message(types.ShowMessageParams(
                    type=FINAL_STATES[state], message=f"gerbil-lsp retrain {state}: {message}"))
