"""OpenCode before 1.2 kept sessions as JSON files under storage/; fixtures written here in that layout.

Layout (OpenCode 1.0/1.1): ``storage/session/<projectID>/<sessionID>.json``,
``storage/message/<sessionID>/<messageID>.json``, ``storage/part/<messageID>/<partID>.json``;
the objects carry the same fields the 1.2+ database keeps in its ``data`` column.
"""

from __future__ import annotations

import json
from pathlib import Path

from gerbil_lsp.harvest.opencode import JsonSessions, harvest_opencode, session_entry
from gerbil_lsp.harvest.privacy import HarvestPolicy
from gerbil_lsp.harvest.store import HarvestStore

QUEUE = "(export make-queue)\n(defstruct queue (items))\n(def (make-queue) (queue []))\n"


def _write(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2))


def legacy_session(storage: Path, session_id: str, directory: Path, turns: list[tuple[str, list[dict]]],
                   *, updated: int = 1_700_000_000_000, revert: dict | None = None, parent: str | None = None,
                   complete: bool = True) -> None:
    """``turns``: (role, parts) in order; message ids sort by time like OpenCode's."""
    info = {"id": session_id, "version": "1.0.150", "projectID": "prj_fixture", "directory": str(directory),
            "title": "fixture", "time": {"created": updated - 5000, "updated": updated}}
    if revert:
        info["revert"] = revert
    if parent:
        info["parentID"] = parent
    _write(storage / "session" / "prj_fixture" / f"{session_id}.json", info)
    for n, (role, parts) in enumerate(turns):
        message_id = f"msg_{session_id[-4:]}{n:04d}"
        time_info = {"created": updated - 4000 + n}
        if role == "assistant" and (complete or n < len(turns) - 1):
            time_info["completed"] = updated - 3000 + n
        _write(storage / "message" / session_id / f"{message_id}.json",
               {"id": message_id, "sessionID": session_id, "role": role, "time": time_info})
        for k, part in enumerate(parts):
            _write(storage / "part" / message_id / f"prt_{message_id[-6:]}{k:03d}.json",
                   {"id": f"prt_{k}", "sessionID": session_id, "messageID": message_id, **part})


def text(t: str) -> dict:
    return {"type": "text", "text": t}


def write_tool(path: str, content: str, status: str = "completed") -> dict:
    return {"type": "tool", "tool": "write", "callID": "call_1",
            "state": {"status": status, "input": {"filePath": path, "content": content}, "output": "ok",
                      "metadata": {}, "title": path}}


def edit_tool(path: str, old: str, new: str) -> dict:
    return {"type": "tool", "tool": "edit", "callID": "call_2",
            "state": {"status": "completed", "input": {"filePath": path, "oldString": old, "newString": new},
                      "output": "ok", "metadata": {}, "title": path}}


def test_legacy_sessions_become_chat_entries(workspace, tmp_path):
    storage = tmp_path / "opencode" / "storage"
    (workspace / "queue.ss").write_text(QUEUE + "(def (enqueue! q x) (set! (queue-items q) (cons x (queue-items q))))\n")
    legacy_session(storage, "ses_aaaa", workspace, [
        ("user", [text("Write a queue struct in Gerbil")]),
        ("assistant", [{"type": "step-start"}, write_tool("queue.ss", QUEUE), {"type": "step-finish"}]),
        ("assistant", [text("I defined the queue with defstruct.")]),
        ("user", [text("Now add enqueue!")]),
        ("assistant", [edit_tool(str(workspace / "queue.ss"), "(def (make-queue) (queue []))\n",
                                 "(def (make-queue) (queue []))\n(def (enqueue! q x) (set! (queue-items q) (cons x (queue-items q))))\n"),
                       text("Added enqueue!.")]),
    ])
    legacy_session(storage, "ses_bbbb", workspace, [  # not about Gerbil at all
        ("user", [text("What is the capital of France?")]), ("assistant", [text("Paris.")])])
    legacy_session(storage, "ses_cccc", workspace, [  # about Gerbil, no edits
        ("user", [text("How do I read a file in Gerbil Scheme?")]),
        ("assistant", [text("Use (read-file-string path) from :std/misc/ports.")])])
    legacy_session(storage, "ses_dddd", workspace, [  # its edit was thrown away afterwards
        ("user", [text("make stack.ss")]), ("assistant", [write_tool("stack.ss", "(def (push s x) (cons x s))\n")])])
    legacy_session(storage, "ses_eeee", workspace, [  # still running
        ("user", [text("gerbil question")]), ("assistant", [text("thinking")])], complete=False)
    legacy_session(storage, "ses_ffff", workspace, [  # a subagent's session: part of its parent
        ("user", [text("gerbil subtask")]), ("assistant", [text("done")])], parent="ses_aaaa")
    with HarvestStore() as store:
        result = harvest_opencode(store, HarvestPolicy.from_settings(), data_dir=tmp_path / "opencode")
        assert result.outcomes == {"ses_aaaa": "harvested", "ses_bbbb": "not-gerbil", "ses_cccc": "harvested",
                                   "ses_dddd": "edits-gone", "ses_eeee": "unfinished"}
        by_session = {e.session_id: e for e in store.entries()}
    queue = by_session["ses_aaaa"].payload["messages"]
    assert [m["role"] for m in queue] == ["user", "assistant", "user", "assistant"]
    assert queue[1]["content"] == "I defined the queue with defstruct."
    assert queue[3]["content"].startswith("Added enqueue!.") and "(def (enqueue! q x)" in queue[3]["content"]
    assert "`queue.ss`" in queue[3]["content"]
    assert by_session["ses_cccc"].payload["messages"][1]["content"].startswith("Use (read-file-string")


def test_unfinished_sessions_are_looked_at_again(workspace, tmp_path):
    storage = tmp_path / "opencode" / "storage"
    turns = [("user", [text("gerbil: how to map?")]), ("assistant", [text("Use map.")])]
    legacy_session(storage, "ses_gggg", workspace, turns, complete=False)
    with HarvestStore() as store:
        policy = HarvestPolicy.from_settings()
        assert harvest_opencode(store, policy, data_dir=tmp_path / "opencode").outcomes == {"ses_gggg": "unfinished"}
        legacy_session(storage, "ses_gggg", workspace, turns, complete=True)
        assert harvest_opencode(store, policy, data_dir=tmp_path / "opencode").outcomes == {"ses_gggg": "harvested"}
        assert harvest_opencode(store, policy, data_dir=tmp_path / "opencode").outcomes == {}


def test_undone_turns_and_failed_edits_are_left_out(workspace, tmp_path):
    storage = tmp_path / "opencode" / "storage"
    legacy_session(storage, "ses_hhhh", workspace, [
        ("user", [text("Gerbil: define pi")]),
        ("assistant", [text("(def pi 3.14159)")]),
        ("user", [text("now break everything")]),
        ("assistant", [write_tool("gone.ss", "(def oops)", status="error"), text("oops")]),
    ], revert={"messageID": "msg_hhhh0002"})
    session = JsonSessions(storage).load("ses_hhhh")
    verdict = session_entry(session, HarvestPolicy.from_settings())
    assert verdict.outcome == "harvested"
    assert [m["content"] for m in verdict.record["messages"]] == ["Gerbil: define pi", "(def pi 3.14159)"]


def test_sessions_outside_opted_in_folders_are_not_read(workspace, tmp_path):
    storage = tmp_path / "opencode" / "storage"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    legacy_session(storage, "ses_iiii", elsewhere, [("user", [text("gerbil?")]), ("assistant", [text("yes")])])
    with HarvestStore() as store:
        result = harvest_opencode(store, HarvestPolicy.from_settings(), data_dir=tmp_path / "opencode")
        assert result.outcomes == {"ses_iiii": "not-opted-in"} and store.entries() == []


def test_broken_json_files_are_skipped_not_fatal(workspace, tmp_path):
    storage = tmp_path / "opencode" / "storage"
    legacy_session(storage, "ses_jjjj", workspace, [("user", [text("gerbil loops")]), ("assistant", [text("use for")])])
    (storage / "message" / "ses_jjjj" / "msg_broken.json").write_text("{not json")
    with HarvestStore() as store:
        result = harvest_opencode(store, HarvestPolicy.from_settings(), data_dir=tmp_path / "opencode")
        assert result.outcomes == {"ses_jjjj": "harvested"}
