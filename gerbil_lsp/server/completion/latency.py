"""Per-request latency records, kept in a small SQLite file in the state dir.

Every model completion request leaves one row: which backend and model, how
it ended (ok, cached, empty, timeout, error, cancelled, stale), the time the
editor waited and the time the backend took. ``gerbil-lsp status`` prints
:func:`latency_summary` (p50/p95 per backend). Rows are written off the event
loop in batches, so recording costs a keystroke nothing; the table keeps the
newest ``KEEP_ROWS`` rows.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from dataclasses import astuple, dataclass
from pathlib import Path

from gerbil_lsp.core import paths

log = logging.getLogger(__name__)

FILE_NAME = "latency.sqlite"
KEEP_ROWS = 20_000
FLUSH_EVERY = 64  # rows
FLUSH_AFTER_S = 2.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    ts REAL NOT NULL,
    backend TEXT NOT NULL,
    model TEXT NOT NULL,
    outcome TEXT NOT NULL,
    total_ms REAL NOT NULL,
    backend_ms REAL,
    prompt_tokens INTEGER,
    tokens INTEGER
);
CREATE INDEX IF NOT EXISTS requests_backend ON requests (backend, ts);
"""

OUTCOMES = ("ok", "cached", "empty", "timeout", "error", "unavailable", "cancelled", "stale")


@dataclass(frozen=True)
class LatencyRecord:
    ts: float
    backend: str
    model: str
    outcome: str
    total_ms: float
    backend_ms: float | None = None
    prompt_tokens: int | None = None
    tokens: int | None = None


def latency_file() -> Path:
    return paths.state_dir() / FILE_NAME


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=5.0, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(SCHEMA)
    return conn


class LatencyLog:
    """Buffered writer of :class:`LatencyRecord` rows (thread-safe, never raises into a request)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._buffer: list[LatencyRecord] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()  # one writer at a time, so close() waits for a flush in flight
        self._timer: threading.Timer | None = None
        self._closed = False

    def record(self, record: LatencyRecord) -> None:
        with self._lock:
            if self._closed:
                return
            self._buffer.append(record)
            full = len(self._buffer) >= FLUSH_EVERY
            if not full and self._timer is None:
                self._timer = threading.Timer(FLUSH_AFTER_S, self.flush)
                self._timer.daemon = True
                self._timer.start()
        if full:
            threading.Thread(target=self.flush, name="latency-flush", daemon=True).start()

    def flush(self) -> None:
        with self._write_lock:
            self._flush_buffer()

    def _flush_buffer(self) -> None:
        with self._lock:
            rows, self._buffer = self._buffer, []
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        if not rows:
            return
        try:
            path = self.path or latency_file()
            with contextlib.closing(_connect(path)) as conn, conn:
                conn.executemany("INSERT INTO requests VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [astuple(r) for r in rows])
                conn.execute(
                    "DELETE FROM requests WHERE rowid <= (SELECT MAX(rowid) FROM requests) - ?", (KEEP_ROWS,)
                )
        except sqlite3.Error as exc:
            log.warning("latency records not written (%s): %s", path, exc)

    def close(self) -> None:
        self.flush()
        with self._lock:
            self._closed = True


def _percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, int(-(-q * len(sorted_values) // 100)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_summary(path: Path | None = None, *, since_s: float | None = None) -> dict[str, dict]:
    """Per backend: requests, outcomes, and p50/p95 of the editor's wait and of the backend's time.

    Percentiles are over requests that reached the backend and came back
    (outcome ``ok`` or ``empty``); cache hits are counted, not timed in.
    Returns ``{}`` when nothing was recorded yet. Keys per backend: requests
    (also ``count``), timed, outcomes, models, p50_ms / p95_ms (also ``p50`` /
    ``p95``), backend_p50_ms, backend_p95_ms, cache_hit_rate.
    """
    path = path or latency_file()
    if not path.is_file():
        return {}
    query = "SELECT backend, model, outcome, total_ms, backend_ms FROM requests"
    args: tuple = ()
    if since_s is not None:
        query += " WHERE ts >= ?"
        args = (time.time() - since_s,)
    try:
        with contextlib.closing(_connect(path)) as conn:
            rows = conn.execute(query, args).fetchall()
    except sqlite3.Error as exc:
        log.warning("cannot read latency records %s: %s", path, exc)
        return {}
    out: dict[str, dict] = {}
    timed: dict[str, tuple[list[float], list[float]]] = {}
    for backend, model, outcome, total_ms, backend_ms in rows:
        entry = out.setdefault(backend, {"requests": 0, "models": set(), "outcomes": {}})
        entry["requests"] += 1
        entry["models"].add(model)
        entry["outcomes"][outcome] = entry["outcomes"].get(outcome, 0) + 1
        if outcome in ("ok", "empty"):
            totals, backends = timed.setdefault(backend, ([], []))
            totals.append(total_ms)
            if backend_ms is not None:
                backends.append(backend_ms)
    for backend, entry in out.items():
        totals, backends = (sorted(v) for v in timed.get(backend, ([], [])))
        entry["models"] = sorted(entry["models"])
        entry["timed"] = len(totals)
        entry["p50_ms"] = _percentile(totals, 50)
        entry["p95_ms"] = _percentile(totals, 95)
        entry["backend_p50_ms"] = _percentile(backends, 50)
        entry["backend_p95_ms"] = _percentile(backends, 95)
        cached = entry["outcomes"].get("cached", 0)
        entry["cache_hit_rate"] = cached / entry["requests"] if entry["requests"] else 0.0
        # Short names, as `gerbil-lsp status` prints them.
        entry["count"], entry["p50"], entry["p95"] = entry["requests"], entry["p50_ms"], entry["p95_ms"]
    return out
