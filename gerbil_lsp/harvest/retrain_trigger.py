"""Starting a retrain in the background, at most one at a time, and reading how it goes.

The retrain process holds ``retrain.lock`` (``filelock``) for its whole run and
writes its progress to ``retrain-status.json`` (atomically) in the state dir;
the daemon starts it detached at low priority (``nice``) and the language
server reads the status file to show ``$/progress`` in the editor. A second
trigger while one runs starts nothing: the lock says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from gerbil_lsp.core import paths
from gerbil_lsp.core.atomic import write_text_atomic

FAILURE_COOLDOWN_S = 3600.0  # after a failed retrain, wait before the daemon tries again
NICENESS = 10


def retrain_lock_path() -> Path:
    return paths.state_dir() / "retrain.lock"


def status_path() -> Path:
    return paths.state_dir() / "retrain-status.json"


def retrain_lock() -> FileLock:
    return FileLock(str(retrain_lock_path()))


def retrain_running() -> bool:
    """True while some process holds the retrain lock."""
    lock = retrain_lock()
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False


def write_status(**fields: Any) -> dict[str, Any]:
    """Merge ``fields`` into the status file (state, step, fraction, message, pid, report...)."""
    status = read_status() or {}
    status.update(fields)
    status["updated"] = time.time()
    write_text_atomic(status_path(), json.dumps(status, indent=2))
    return status


def read_status() -> dict[str, Any] | None:
    """The last retrain's status, or None when there never was one.

    ``state`` is one of ``running``, ``promoted``, ``kept``, ``dry-run``, ``failed``;
    a ``running`` status whose process is gone is reported as ``failed``.
    """
    try:
        status = json.loads(status_path().read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if status.get("state") == "running" and not retrain_running():
        status["state"] = "failed"
        status["message"] = status.get("message", "") + " (the retrain process ended without a result)"
    return status


def start_retrain(extra_args: list[str] | None = None, *, log_file: Path | None = None) -> int | None:
    """Start ``gerbil-lsp retrain`` detached and niced; its pid, or None when one is running."""
    if retrain_running():
        return None
    log_file = log_file or paths.log_dir() / "retrain.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gerbil_lsp.harvest", "retrain", *(extra_args or [])],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # survives the daemon and the editor
            preexec_fn=lambda: os.nice(NICENESS) if hasattr(os, "nice") else None,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    return process.pid


def should_trigger(pending: int, threshold: int, now: float | None = None) -> bool:
    """Enough pending entries, no retrain running, and no recent failure to back off from."""
    if pending < threshold or retrain_running():
        return False
    status = read_status()
    now = time.time() if now is None else now
    if status and status.get("state") == "failed" and now - float(status.get("updated", 0)) < FAILURE_COOLDOWN_S:
        return False
    return True
