"""The harvest store: every example learned from the user's work, kept durably in SQLite.

One file, ``harvest.sqlite`` in the data dir, in WAL mode so the language
server, the harvest daemon and ``gerbil-lsp harvest list`` can use it at once.
Every write is one transaction with ``synchronous=FULL``: a harvester killed
mid-burst loses nothing it had reported stored, and never leaves half an entry.
The schema is versioned with ``PRAGMA user_version`` and migrated in place.

An entry's payload is the data part's entry record (``kind``, ``messages`` or
``fim``, ``provenance``, ``tags``: what ``Entry.from_record`` reads), so the
dataset build takes harvested entries exactly like any other source.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from gerbil_lsp.core import paths

Kind = Literal["fim", "chat"]
Status = Literal["pending", "used", "rejected"]
STATUSES = ("pending", "used", "rejected")

STORE_NAME = "harvest.sqlite"

# Each migration takes the schema from version i to i+1; never edit a shipped one, add the next.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE entries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('fim', 'chat')),
        payload TEXT NOT NULL,
        source TEXT NOT NULL,
        file TEXT,
        session_id TEXT,
        created REAL NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'used', 'rejected')),
        reason TEXT NOT NULL DEFAULT '',
        content_hash TEXT NOT NULL UNIQUE
    );
    CREATE INDEX entries_status ON entries (status);
    CREATE INDEX entries_session ON entries (session_id);
    CREATE TABLE file_versions (
        path TEXT PRIMARY KEY,
        text TEXT NOT NULL,
        updated REAL NOT NULL
    );
    CREATE TABLE opencode_sessions (
        session_id TEXT PRIMARY KEY,
        time_updated INTEGER NOT NULL,
        entry_id INTEGER,
        outcome TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE opencode_permissions (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL,
        permission TEXT NOT NULL DEFAULT '',
        patterns TEXT NOT NULL DEFAULT '[]',
        reply TEXT NOT NULL,
        time REAL NOT NULL
    );
    """,
)


class StoreError(RuntimeError):
    """The harvest store cannot be opened or is newer than this gerbil-lsp."""


@dataclass(frozen=True)
class StoredEntry:
    id: int
    kind: Kind
    payload: dict[str, Any]
    source: str
    file: str | None
    session_id: str | None
    created: float
    status: Status
    reason: str
    content_hash: str

    def summary(self) -> str:
        """One line saying what the entry teaches (for `harvest list`)."""
        if self.kind == "fim":
            middle = (self.payload.get("fim") or {}).get("middle", "")
            first = middle.strip().splitlines()[0] if middle.strip() else "(empty)"
            return first[:80]
        messages = [m for m in self.payload.get("messages", []) if m.get("role") == "user"]
        first = messages[0]["content"].strip().splitlines()[0] if messages and messages[0]["content"].strip() else ""
        return f"{len(self.payload.get('messages', []))} turns: {first[:70]}"


def content_hash(kind: str, payload: dict[str, Any]) -> str:
    """Hash of what the entry teaches (not where it came from): the same text is stored once."""
    if kind == "fim":
        fim = payload.get("fim") or {}
        basis: Any = [fim.get("prefix", ""), fim.get("middle", ""), fim.get("suffix", "")]
    else:
        basis = [[m.get("role"), m.get("content")] for m in payload.get("messages", [])]
    blob = json.dumps([kind, basis], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def default_store_path() -> Path:
    return paths.data_dir() / STORE_NAME


class HarvestStore:
    """A connection to the store; safe to share between threads of one process."""

    def __init__(self, path: str | Path | None = None, *, timeout_s: float = 30.0) -> None:
        self.path = Path(path) if path is not None else default_store_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(
                self.path, timeout=timeout_s, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the harvest store ({exc})") from exc
        self._db.row_factory = sqlite3.Row
        self._db.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
        mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise StoreError(f"{self.path}: SQLite refused WAL mode (got {mode}); is it on a network filesystem?")
        self._db.execute("PRAGMA synchronous = FULL")
        self._db.execute("PRAGMA foreign_keys = ON")
        self._migrate()

    # ------------------------------------------------------------------ plumbing

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT: one writer at a time, all or nothing."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _migrate(self) -> None:
        with self.transaction() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise StoreError(
                    f"{self.path}: schema version {version} is newer than this gerbil-lsp knows "
                    f"({len(MIGRATIONS)}); upgrade gerbil-lsp"
                )
            for number in range(version, len(MIGRATIONS)):
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {number + 1}")

    def schema_version(self) -> int:
        with self._lock:
            return self._db.execute("PRAGMA user_version").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> HarvestStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ entries

    @staticmethod
    def _insert(db: sqlite3.Connection, kind: str, payload: dict[str, Any], *, source: str,
                file: str | None, session_id: str | None, status: str, reason: str) -> int | None:
        if kind not in ("fim", "chat"):
            raise ValueError(f"unknown entry kind {kind!r}: expected fim or chat")
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}: expected one of {STATUSES}")
        digest = content_hash(kind, payload)
        cursor = db.execute(
            "INSERT OR IGNORE INTO entries (kind, payload, source, file, session_id, created, status, reason, content_hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (kind, json.dumps(payload, ensure_ascii=False), source, file, session_id, time.time(), status, reason, digest),
        )
        return cursor.lastrowid if cursor.rowcount else None

    def add(self, kind: Kind, payload: dict[str, Any], *, source: str, file: str | None = None,
            session_id: str | None = None, status: Status = "pending", reason: str = "") -> int | None:
        """Store one entry; the new id, or None when the same content is already stored."""
        with self.transaction() as db:
            return self._insert(db, kind, payload, source=source, file=file, session_id=session_id,
                                status=status, reason=reason)

    def add_file_harvest(self, path: str, text: str, entries: Iterable[dict[str, Any]], *, source: str) -> list[int]:
        """Store a file's new FIM entries and its harvested version in ONE transaction.

        Either both land or neither does: after a crash the file is compared with
        the version before, so its changes are harvested again, never lost.
        """
        ids: list[int] = []
        with self.transaction() as db:
            for payload in entries:
                new_id = self._insert(db, "fim", payload, source=source, file=path, session_id=None,
                                      status="pending", reason="")
                if new_id is not None:
                    ids.append(new_id)
            db.execute(
                "INSERT INTO file_versions (path, text, updated) VALUES (?, ?, ?)"
                " ON CONFLICT(path) DO UPDATE SET text = excluded.text, updated = excluded.updated",
                (path, text, time.time()),
            )
        return ids

    def _row(self, row: sqlite3.Row) -> StoredEntry:
        return StoredEntry(
            id=row["id"], kind=row["kind"], payload=json.loads(row["payload"]), source=row["source"],
            file=row["file"], session_id=row["session_id"], created=row["created"], status=row["status"],
            reason=row["reason"], content_hash=row["content_hash"],
        )

    def get(self, entry_id: int) -> StoredEntry | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM entries WHERE id = ?", (entry_id,)).fetchone()
        return self._row(row) if row else None

    def entries(self, *, status: str | None = None, kind: str | None = None, source: str | None = None,
                limit: int | None = None) -> list[StoredEntry]:
        query, args = "SELECT * FROM entries WHERE 1=1", []
        for column, value in (("status", status), ("kind", kind), ("source", source)):
            if value is not None:
                query += f" AND {column} = ?"
                args.append(value)
        query += " ORDER BY id"
        if limit is not None:
            query += " LIMIT ?"
            args.append(limit)
        with self._lock:
            return [self._row(row) for row in self._db.execute(query, args)]

    def counts(self) -> dict[str, int]:
        """How many entries per status (pending, used, rejected)."""
        with self._lock:
            rows = self._db.execute("SELECT status, COUNT(*) FROM entries GROUP BY status").fetchall()
        result = dict.fromkeys(STATUSES, 0)
        result.update({status: n for status, n in rows})
        return result

    def pending_count(self) -> int:
        return self.counts()["pending"]

    def set_status(self, ids: Iterable[int], status: Status, reason: str = "") -> int:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}: expected one of {STATUSES}")
        ids = list(ids)
        with self.transaction() as db:
            changed = 0
            for entry_id in ids:
                changed += db.execute(
                    "UPDATE entries SET status = ?, reason = ? WHERE id = ?", (status, reason, entry_id)
                ).rowcount
        return changed

    def drop(self, entry_id: int) -> bool:
        """Delete an entry for good (`harvest drop`)."""
        with self.transaction() as db:
            return db.execute("DELETE FROM entries WHERE id = ?", (entry_id,)).rowcount > 0

    def replace_session_entry(self, session_id: str, time_updated: int, kind: Kind, payload: dict[str, Any] | None,
                              *, source: str, outcome: str) -> int | None:
        """Record an OpenCode session's harvest; a still-pending older entry of it is superseded."""
        with self.transaction() as db:
            old = db.execute("SELECT entry_id FROM opencode_sessions WHERE session_id = ?", (session_id,)).fetchone()
            new_id = None
            if payload is not None:
                if old and old["entry_id"] is not None:
                    db.execute("DELETE FROM entries WHERE id = ? AND status = 'pending'", (old["entry_id"],))
                new_id = self._insert(db, kind, payload, source=source, file=None, session_id=session_id,
                                      status="pending", reason="")
            keep_id = new_id if payload is not None else (old["entry_id"] if old else None)
            db.execute(
                "INSERT INTO opencode_sessions (session_id, time_updated, entry_id, outcome) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(session_id) DO UPDATE SET time_updated = excluded.time_updated,"
                " entry_id = excluded.entry_id, outcome = excluded.outcome",
                (session_id, time_updated, keep_id, outcome),
            )
        return new_id

    def session_seen(self, session_id: str) -> tuple[int, str] | None:
        """(time_updated, outcome) of the last harvest of an OpenCode session, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT time_updated, outcome FROM opencode_sessions WHERE session_id = ?", (session_id,)
            ).fetchone()
        return (row["time_updated"], row["outcome"]) if row else None

    # ------------------------------------------------------------------ file versions

    def file_version(self, path: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT text FROM file_versions WHERE path = ?", (path,)).fetchone()
        return row["text"] if row else None

    def rename_file(self, old: str, new: str) -> None:
        """Carry a file's harvested version over a rename, so the rename is not new code."""
        with self.transaction() as db:
            row = db.execute("SELECT text, updated FROM file_versions WHERE path = ?", (old,)).fetchone()
            if row is None or db.execute("SELECT 1 FROM file_versions WHERE path = ?", (new,)).fetchone():
                return
            db.execute("INSERT INTO file_versions (path, text, updated) VALUES (?, ?, ?)", (new, row["text"], row["updated"]))

    # ------------------------------------------------------------------ permissions (plugin)

    def record_permission(self, permission_id: str, session_id: str, reply: str, permission: str = "",
                          patterns: list[str] | None = None) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO opencode_permissions (id, session_id, permission, patterns, reply, time) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET reply = excluded.reply, time = excluded.time",
                (permission_id, session_id, permission, json.dumps(patterns or []), reply, time.time()),
            )

    def permissions(self, session_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM opencode_permissions WHERE session_id = ? ORDER BY time", (session_id,)
            ).fetchall()
        return [{**dict(row), "patterns": json.loads(row["patterns"])} for row in rows]

    def integrity_check(self) -> str:
        with self._lock:
            return self._db.execute("PRAGMA integrity_check").fetchone()[0]
