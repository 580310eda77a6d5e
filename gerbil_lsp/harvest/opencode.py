"""OpenCode sessions about Gerbil, read from OpenCode's own storage without ever writing to it.

OpenCode 1.2 and later keep sessions in ``opencode.db`` (SQLite, WAL) in its
data dir: tables ``session`` (id, directory, parent_id, title, revert,
time_updated), ``message`` and ``part`` (their ``data`` column is the JSON
OpenCode also sends to plugins). We open it with a ``mode=ro`` URI: in WAL mode
a reader never blocks OpenCode's writer. Before 1.2 the same objects were JSON
files: ``storage/session/<project>/<session>.json``,
``storage/message/<session>/<message>.json``, ``storage/part/<message>/<part>.json``.

A finished session becomes one multi-turn chat entry (the user's prompts, the
assistant's answers, then the final code of the Gerbil files it edited) when
it edited Gerbil files or talks about Gerbil, its folder is opted in, and
every Gerbil edit it made is still on disk (a reverted attempt is not a lesson).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import time
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gerbil_lsp.harvest.file_harvest import read_text
from gerbil_lsp.harvest.privacy import HarvestPolicy, is_gerbil_file, scrub_record
from gerbil_lsp.harvest.records import chat_record
from gerbil_lsp.harvest.store import HarvestStore

log = logging.getLogger(__name__)

EDIT_TOOLS = {"write", "edit", "multiedit", "patch", "apply_patch"}
GERBIL_TALK = re.compile(r"\bgerbil\b|\(import\s+:std/|\bdefstruct\b|\bgxi\b|\bgxc\b", re.I)
SURVIVAL = 0.8  # share of an edit's added lines that must still be in the file


def opencode_data_dir() -> Path:
    """OpenCode's data dir: ``$XDG_DATA_HOME/opencode`` (default ``~/.local/share/opencode``)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "opencode"


# --------------------------------------------------------------------------- model


@dataclass
class Part:
    type: str
    data: dict[str, Any]

    @property
    def text(self) -> str:
        return self.data.get("text", "") if self.type == "text" and not self.data.get("synthetic") else ""


@dataclass
class Message:
    id: str
    role: str
    data: dict[str, Any]
    parts: list[Part] = field(default_factory=list)

    @property
    def completed(self) -> bool:
        return self.role != "assistant" or bool((self.data.get("time") or {}).get("completed"))


@dataclass
class Session:
    id: str
    directory: str
    title: str
    parent_id: str | None
    time_updated: int
    revert: dict[str, Any] | None
    messages: list[Message] = field(default_factory=list)

    def live_messages(self) -> list[Message]:
        """Messages not undone by ``/undo`` (OpenCode ids sort by time)."""
        if not self.revert or not self.revert.get("messageID"):
            return self.messages
        cut = self.revert["messageID"]
        return [m for m in self.messages if m.id < cut]

    @property
    def finished(self) -> bool:
        return bool(self.messages) and all(m.completed for m in self.messages)


@dataclass
class Edit:
    path: str
    added: str  # the text the edit put in the file


# --------------------------------------------------------------------------- storage readers


def _loads(raw: str | bytes | None) -> Any:
    try:
        return json.loads(raw) if raw else None
    except (TypeError, json.JSONDecodeError):
        return None


class SqliteSessions:
    """Sessions in ``opencode.db``, opened read-only."""

    def __init__(self, db_path: Path) -> None:
        self.path = db_path

    def _connect(self) -> sqlite3.Connection:
        uri = "file:" + urllib.parse.quote(str(self.path.resolve())) + "?mode=ro"
        db = sqlite3.connect(uri, uri=True, timeout=2.0)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA query_only = ON")
        return db

    def updated_sessions(self) -> list[tuple[str, int]]:
        """(session id, time_updated) of every top-level session."""
        db = self._connect()
        try:
            return [(r["id"], r["time_updated"]) for r in db.execute(
                "SELECT id, time_updated FROM session WHERE parent_id IS NULL ORDER BY time_updated")]
        finally:
            db.close()

    def load(self, session_id: str) -> Session | None:
        db = self._connect()
        try:
            db.execute("BEGIN")  # one snapshot for session, messages and parts
            row = db.execute("SELECT * FROM session WHERE id = ?", (session_id,)).fetchone()
            if row is None:
                return None
            session = Session(row["id"], row["directory"], row["title"], row["parent_id"], row["time_updated"],
                              _loads(row["revert"]))
            messages: dict[str, Message] = {}
            for m in db.execute("SELECT id, data FROM message WHERE session_id = ? ORDER BY time_created, id",
                                (session_id,)):
                data = _loads(m["data"]) or {}
                messages[m["id"]] = Message(m["id"], data.get("role", ""), data)
            for p in db.execute("SELECT message_id, data FROM part WHERE session_id = ? ORDER BY id", (session_id,)):
                data = _loads(p["data"]) or {}
                if p["message_id"] in messages:
                    messages[p["message_id"]].parts.append(Part(data.get("type", ""), data))
            db.execute("COMMIT")
            session.messages = list(messages.values())
            return session
        finally:
            db.close()


class JsonSessions:
    """Sessions in the JSON files OpenCode wrote before 1.2 (``storage/``)."""

    def __init__(self, storage: Path) -> None:
        self.storage = storage

    def _session_files(self) -> Iterator[Path]:
        yield from sorted((self.storage / "session").glob("*/*.json"))

    def updated_sessions(self) -> list[tuple[str, int]]:
        out = []
        for path in self._session_files():
            data = _loads(path.read_bytes())
            if isinstance(data, dict) and data.get("id") and not data.get("parentID"):
                out.append((data["id"], int((data.get("time") or {}).get("updated") or 0)))
        return sorted(out, key=lambda item: item[1])

    def load(self, session_id: str) -> Session | None:
        for path in self._session_files():
            if path.stem != session_id:
                continue
            data = _loads(path.read_bytes()) or {}
            session = Session(data.get("id", session_id), data.get("directory", ""), data.get("title", ""),
                              data.get("parentID"), int((data.get("time") or {}).get("updated") or 0),
                              data.get("revert"))
            for msg_file in sorted((self.storage / "message" / session_id).glob("*.json")):
                info = _loads(msg_file.read_bytes())
                if not isinstance(info, dict):
                    log.warning("%s: not a JSON object, skipped", msg_file)
                    continue
                message = Message(info.get("id", msg_file.stem), info.get("role", ""), info)
                for part_file in sorted((self.storage / "part" / message.id).glob("*.json")):
                    part = _loads(part_file.read_bytes())
                    if isinstance(part, dict):
                        message.parts.append(Part(part.get("type", ""), part))
                session.messages.append(message)
            session.messages.sort(key=lambda m: ((m.data.get("time") or {}).get("created", 0), m.id))
            return session
        return None


def storages(data_dir: Path | None = None) -> list[SqliteSessions | JsonSessions]:
    """Every OpenCode storage found: databases (``opencode*.db``) and the legacy JSON tree."""
    data_dir = data_dir or opencode_data_dir()
    found: list[SqliteSessions | JsonSessions] = [SqliteSessions(p) for p in sorted(data_dir.glob("opencode*.db"))]
    if (data_dir / "storage" / "session").is_dir():
        found.append(JsonSessions(data_dir / "storage"))
    return found


# --------------------------------------------------------------------------- session -> entry


def _abs(directory: str, path: str) -> str:
    return str((Path(directory) / path).resolve()) if path else ""


def _patch_edits(directory: str, patch: str) -> list[Edit]:
    """Files and added lines of an ``apply_patch`` envelope (``*** Add/Update File: path``)."""
    edits: list[Edit] = []
    current: Edit | None = None
    for line in patch.splitlines():
        header = re.match(r"\*\*\* (?:Add|Update) File: (.+)", line)
        if header:
            current = Edit(_abs(directory, header.group(1).strip()), "")
            edits.append(current)
        elif line.startswith("*** "):
            current = None
        elif current is not None and line.startswith("+"):
            current.added += line[1:] + "\n"
    return edits


def session_edits(session: Session) -> list[Edit]:
    """The file edits of completed tool calls, in order."""
    edits: list[Edit] = []
    for message in session.live_messages():
        for part in message.parts:
            if part.type != "tool" or part.data.get("tool") not in EDIT_TOOLS:
                continue
            state = part.data.get("state") or {}
            if state.get("status") != "completed":
                continue  # refused or failed: the file was not changed
            args = state.get("input") or {}
            meta = state.get("metadata") or {}
            path = meta.get("filepath") or _abs(session.directory, args.get("filePath") or args.get("path") or "")
            tool = part.data["tool"]
            if tool == "write":
                edits.append(Edit(path, args.get("content", "")))
            elif tool == "edit":
                edits.append(Edit(path, args.get("newString", "")))
            elif tool == "multiedit":
                edits.append(Edit(path, "\n".join(e.get("newString", "") for e in args.get("edits") or [])))
            else:
                edits.extend(_patch_edits(session.directory, args.get("patchText") or args.get("patch") or ""))
    return [e for e in edits if e.path]


def edit_survives(edit: Edit, current: str | None) -> bool:
    """Is what the edit added still in the file (most of its lines, ignoring indentation)?"""
    if current is None:
        return False
    added = [line.strip() for line in edit.added.splitlines() if line.strip()]
    if not added:
        return True  # a pure deletion: nothing to look for
    if edit.added.strip() in current:
        return True
    present = {line.strip() for line in current.splitlines()}
    return sum(line in present for line in added) / len(added) >= SURVIVAL


def conversation(session: Session) -> list[dict[str, str]]:
    """User prompts and assistant answers as alternating turns (tool chatter left out)."""
    turns: list[dict[str, str]] = []
    for message in session.live_messages():
        text = "\n\n".join(p.text.strip() for p in message.parts if p.text.strip())
        if message.role not in ("user", "assistant"):
            continue
        if turns and turns[-1]["role"] == message.role:
            if text:
                turns[-1]["content"] = (turns[-1]["content"] + "\n\n" + text).strip()
        else:
            turns.append({"role": message.role, "content": text})
    return turns


@dataclass
class SessionVerdict:
    record: dict[str, Any] | None
    outcome: str  # harvested | not-gerbil | edits-gone | not-opted-in | empty | unfinished


def session_entry(session: Session, policy: HarvestPolicy, *, max_bytes: int = 512 * 1024) -> SessionVerdict:
    """Decide whether a session teaches Gerbil and build its chat entry."""
    if not session.finished:
        return SessionVerdict(None, "unfinished")
    if not policy.allows(session.directory):
        return SessionVerdict(None, "not-opted-in")
    edits = [e for e in session_edits(session) if is_gerbil_file(e.path)]
    turns = conversation(session)
    talk = " ".join(t["content"] for t in turns)
    if not edits and not GERBIL_TALK.search(talk):
        return SessionVerdict(None, "not-gerbil")
    final_files: dict[str, str] = {}
    for edit in edits:
        if not policy.allows(edit.path):
            return SessionVerdict(None, "not-opted-in")
        current = read_text(edit.path, max_bytes)
        if not edit_survives(edit, current):
            return SessionVerdict(None, "edits-gone")
        final_files[edit.path] = current or ""
    while turns and turns[0]["role"] != "user":
        turns.pop(0)
    if final_files:
        code = "\n\n".join(
            f"`{os.path.relpath(path, session.directory)}`:\n```scheme\n{text.rstrip()}\n```"
            for path, text in final_files.items()
        )
        closing = f"The final code:\n\n{code}"
        if turns and turns[-1]["role"] == "assistant":
            turns[-1]["content"] = (turns[-1]["content"] + "\n\n" + closing).strip()
        else:
            turns.append({"role": "assistant", "content": closing})
    turns = [t for t in turns if t["content"].strip()]
    if not any(t["role"] == "user" for t in turns) or not turns or turns[-1]["role"] != "assistant":
        return SessionVerdict(None, "empty")
    record = chat_record(turns, file=session.directory, detail="opencode", group=f"opencode:{session.id}")
    return SessionVerdict(scrub_record(record)[0], "harvested")


# --------------------------------------------------------------------------- the poll


@dataclass
class OpenCodeHarvest:
    looked_at: int = 0
    stored: list[int] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)


def harvest_opencode(store: HarvestStore, policy: HarvestPolicy, *, data_dir: Path | None = None,
                     only: Iterable[str] | None = None, settle_s: float = 0.0) -> OpenCodeHarvest:
    """Harvest every session updated since we last looked (or just ``only``), read-only.

    ``settle_s``: a session is taken only once it has been quiet that long (the
    poller's guard against a session still being written; the plugin's
    ``session.idle`` notice passes ``only`` and no settle time).
    """
    wanted = set(only) if only is not None else None
    result = OpenCodeHarvest()
    now_ms = int(time.time() * 1000)
    for storage in storages(data_dir):
        try:
            updated = storage.updated_sessions()
        except sqlite3.Error as exc:
            log.warning("%s: cannot read OpenCode sessions (%s)", getattr(storage, "path", storage), exc)
            continue
        for session_id, time_updated in updated:
            if wanted is not None and session_id not in wanted:
                continue
            seen = store.session_seen(session_id)
            if seen is not None and seen[0] >= time_updated and seen[1] != "unfinished":
                continue
            if wanted is None and now_ms - time_updated < settle_s * 1000:
                continue
            try:
                session = storage.load(session_id)
            except sqlite3.Error as exc:
                log.warning("OpenCode session %s: %s", session_id, exc)
                continue
            if session is None:
                continue
            result.looked_at += 1
            verdict = session_entry(session, policy)
            result.outcomes[session_id] = verdict.outcome
            new_id = store.replace_session_entry(session_id, time_updated, "chat", verdict.record,
                                                 source="opencode", outcome=verdict.outcome)
            if new_id is not None:
                result.stored.append(new_id)
    return result
