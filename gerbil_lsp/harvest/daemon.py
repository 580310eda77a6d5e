"""The harvester process (``gerbil-lsp harvest watch``): watcher, OpenCode poller, plugin endpoint.

It runs the workspace watcher, polls OpenCode's storage every few seconds,
and listens on a unix socket (``harvest.sock`` in the state dir; a file, so
only this user can reach it) for the OpenCode plugin's notices:
``POST /opencode/session-idle {"sessionID"}`` harvests that session at once,
``POST /opencode/permission {...}`` records an edit permission reply,
``GET /status`` answers the counts. When pending entries reach
``harvest.retrain_threshold`` it starts a retrain (:mod:`retrain_trigger`).
Its own status lives in ``harvest-daemon.json`` beside the socket.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from gerbil_lsp.core import paths
from gerbil_lsp.core.atomic import write_text_atomic
from gerbil_lsp.core.settings import load_settings
from gerbil_lsp.harvest import retrain_trigger
from gerbil_lsp.harvest.file_harvest import HarvestOutcome
from gerbil_lsp.harvest.opencode import harvest_opencode
from gerbil_lsp.harvest.privacy import HarvestPolicy
from gerbil_lsp.harvest.store import HarvestStore
from gerbil_lsp.harvest.watcher import WorkspaceWatcher

log = logging.getLogger(__name__)

POLL_S = 5.0


def socket_path() -> Path:
    return paths.state_dir() / "harvest.sock"


def daemon_status_path() -> Path:
    return paths.state_dir() / "harvest-daemon.json"


def daemon_status() -> dict[str, Any] | None:
    """What the running daemon last said about itself; None when none is running."""
    try:
        status = json.loads(daemon_status_path().read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    try:
        os.kill(int(status.get("pid", -1)), 0)
    except (OSError, ValueError):
        return None
    return status


def warm_up() -> None:
    """Load the reader and the secret scrubber now, so the first save is not the one that waits for them."""
    from gerbil_lsp.harvest.file_harvest import top_level_forms
    from gerbil_lsp.harvest.privacy import scrub

    top_level_forms("(def warm-up 1)")
    scrub('(def token "warmup0123456789abcdef")')


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def _handler(daemon: HarvestDaemon) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # noqa: A002
            log.debug("endpoint: " + format, *args)

        def address_string(self) -> str:
            return "unix"

        def _reply(self, status: int, payload: dict[str, Any]) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802
            if self.path == "/status":
                self._reply(200, daemon.status())
            else:
                self._reply(404, {"error": f"no route {self.path}"})

        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except json.JSONDecodeError as exc:
                self._reply(400, {"error": f"body is not JSON: {exc}"})
                return
            if self.path == "/opencode/session-idle":
                session_id = str(body.get("sessionID") or "")
                if not session_id:
                    self._reply(400, {"error": "sessionID missing"})
                    return
                daemon.events.append({"type": "session.idle", "sessionID": session_id, "time": time.time()})
                outcome = daemon.harvest_opencode(only=[session_id])
                self._reply(200, {"ok": True, "outcome": outcome})
            elif self.path == "/opencode/permission":
                request_id = str(body.get("requestID") or body.get("permissionID") or "")
                reply = str(body.get("reply") or body.get("response") or "")
                if not request_id or not reply:
                    self._reply(400, {"error": "requestID and reply are required"})
                    return
                daemon.store.record_permission(request_id, str(body.get("sessionID") or ""), reply,
                                               str(body.get("permission") or ""), list(body.get("patterns") or []))
                daemon.events.append({"type": "permission.replied", **body, "time": time.time()})
                self._reply(200, {"ok": True})
            else:
                self._reply(404, {"error": f"no route {self.path}"})

    return Handler


class HarvestDaemon:
    def __init__(self, *, workspaces: list[str] | None = None, opencode_dir: Path | None = None,
                 poll_s: float = POLL_S, debounce_s: float | None = None, retrain: bool = True) -> None:
        self.settings = load_settings().settings.harvest
        self.policy = HarvestPolicy.from_settings(extra_roots=workspaces)
        self.store = HarvestStore()
        self.opencode_dir = opencode_dir
        self.poll_s = poll_s
        self.retrain = retrain
        kwargs = {} if debounce_s is None else {"debounce_s": debounce_s}
        self.watcher = WorkspaceWatcher(self.store, self.policy, on_harvest=self._after_file, **kwargs)
        self.events: list[dict[str, Any]] = []
        self.started = time.time()
        self.retrains_started: list[int] = []
        self._stop = threading.Event()
        self._opencode_lock = threading.Lock()
        self._server: _UnixHTTPServer | None = None
        self._lock = FileLock(str(paths.state_dir() / "harvest-daemon.lock"))

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            raise RuntimeError(
                f"another harvest daemon is running (lock {self._lock.lock_file}); stop it first"
            ) from None
        sock = socket_path()
        if sock.exists():
            sock.unlink()  # left by a killed daemon; we hold the daemon lock, so it is not live
        old_umask = os.umask(0o177)
        try:
            self._server = _UnixHTTPServer(str(sock), _handler(self))
        finally:
            os.umask(old_umask)
        threading.Thread(target=self._server.serve_forever, name="harvest-endpoint", daemon=True).start()
        warm_up()
        self.watcher.start()
        threading.Thread(target=self._poll_loop, name="harvest-opencode", daemon=True).start()
        self._write_status()

    def stop(self) -> None:
        self._stop.set()
        self.watcher.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        socket_path().unlink(missing_ok=True)
        daemon_status_path().unlink(missing_ok=True)
        self.store.close()
        self._lock.release()

    def run_forever(self) -> None:
        """Until SIGTERM / SIGINT."""
        signal.signal(signal.SIGTERM, lambda *_: self._stop.set())
        self.start()
        try:
            while not self._stop.wait(1.0):
                self._write_status()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    # ------------------------------------------------------------------ work

    def _after_file(self, outcome: HarvestOutcome) -> None:
        if outcome.stored:
            self.maybe_retrain()

    def harvest_opencode(self, only: list[str] | None = None) -> dict[str, str]:
        with self._opencode_lock:
            try:
                result = harvest_opencode(self.store, self.policy, data_dir=self.opencode_dir, only=only,
                                          settle_s=0.0 if only else self.settings.settle_seconds)
            except Exception:
                log.exception("OpenCode harvest")
                return {}
        if result.stored:
            self.maybe_retrain()
        return result.outcomes

    def _poll_loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            self.harvest_opencode()

    def maybe_retrain(self) -> int | None:
        if not self.retrain:
            return None
        pending = self.store.pending_count()
        if not retrain_trigger.should_trigger(pending, self.settings.retrain_threshold):
            return None
        pid = retrain_trigger.start_retrain()
        if pid is not None:
            log.info("started retrain (pid %d) with %d pending entries", pid, pending)
            self.retrains_started.append(pid)
        return pid

    def status(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "socket": str(socket_path()),
            "started": self.started,
            "workspaces": [str(p) for p in self.policy.enabled_roots()],
            "counts": self.store.counts(),
            "threshold": self.settings.retrain_threshold,
            "files_looked_at": self.watcher.harvested,
            "events": len(self.events),
            "retrains_started": self.retrains_started,
        }

    def _write_status(self) -> None:
        write_text_atomic(daemon_status_path(), json.dumps(self.status(), indent=2))
