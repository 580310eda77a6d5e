"""Together's documented fine-tuning file rules, checked before an upload.

Together (docs.together.ai "Data preparation") takes JSONL where every line is
one JSON object in one of its formats: conversational ``{"messages": [...]}``
(optionally ``tools``), instruction ``{"prompt", "completion"}`` or general
``{"text"}``. The same format on every line, no other columns. A message has a
string ``role`` (system, user, assistant; ``tool`` with tools) and a string
``content``, an optional integer ``weight`` of 0 or 1; the first message is from
system or user and roles never repeat back to back. The SDK checks only part of
this locally (the rest fails after the upload, on their servers), so the data
part and the trainer check it here first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FORMAT_COLUMNS: dict[str, tuple[str, ...]] = {
    "conversation": ("messages",),
    "instruction": ("prompt", "completion"),
    "general": ("text",),
}
EXTRA_COLUMNS: dict[str, tuple[str, ...]] = {"conversation": ("tools",), "instruction": (), "general": ()}
ROLES = ("system", "user", "assistant", "tool")
MAX_FILE_BYTES = int(50.1 * 2**30)


def detect_format(obj: dict[str, Any]) -> tuple[str | None, list[str]]:
    """Which Together format a line is in, and what is wrong with its columns."""
    found = [name for name, cols in FORMAT_COLUMNS.items() if all(c in obj for c in cols)]
    if not found:
        return None, [f"no Together format matches the columns {sorted(obj)} (need messages, prompt+completion or text)"]
    if len(found) > 1:
        return None, [f"columns of several formats on one line: {found}"]
    name = found[0]
    allowed = set(FORMAT_COLUMNS[name]) | set(EXTRA_COLUMNS[name])
    extra = sorted(set(obj) - allowed)
    return name, [f"extra column {c!r} (Together refuses columns outside the format)" for c in extra]


def conversation_problems(obj: Any) -> list[str]:
    """Problems of one conversational line, in Together's terms."""
    if not isinstance(obj, dict):
        return ["each line must be a JSON object"]
    name, problems = detect_format(obj)
    if name is None:
        return problems
    if name != "conversation":
        return problems + [f"this is {name} data, not conversational `messages`"]
    messages = obj["messages"]
    if not isinstance(messages, list) or not messages:
        return problems + ["`messages` must be a non-empty list"]
    has_tools = "tools" in obj
    previous = None
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            problems.append(f"message {i}: must be an object")
            continue
        role, content = message.get("role"), message.get("content")
        if not isinstance(role, str):
            problems.append(f"message {i}: `role` missing or not a string")
            continue
        if not isinstance(content, str):
            problems.append(f"message {i}: `content` missing or not a string")
        if "weight" in message and (type(message["weight"]) is not int or message["weight"] not in (0, 1)):
            problems.append(f"message {i}: `weight` must be the integer 0 or 1")
        if role not in ROLES or (role == "tool" and not has_tools):
            problems.append(f"message {i}: invalid role {role!r} (system, user, assistant)")
        if i == 0 and role not in ("system", "user"):
            problems.append(f"message 0: the first message must be from system or user, not {role!r}")
        if role == "system" and i != 0:
            problems.append(f"message {i}: a system message may only come first")
        if previous == role:
            problems.append(f"message {i}: two {role!r} turns in a row (user and assistant must alternate)")
        previous = role
    if not any(isinstance(m, dict) and m.get("role") == "assistant" for m in messages):
        problems.append("no assistant message: nothing to learn from this line")
    return problems


def check_file(path: str | Path) -> list[tuple[int, str]]:
    """Every problem of a conversational JSONL file as (line number, message); [] means upload-ready."""
    path = Path(path)
    if not path.is_file():
        return [(0, f"{path}: not a file")]
    size = path.stat().st_size
    if size == 0:
        return [(0, f"{path}: empty file (Together needs at least one sample)")]
    if size > MAX_FILE_BYTES:
        return [(0, f"{path}: {size} bytes is over Together's 50.1 GB limit")]
    problems: list[tuple[int, str]] = []
    samples = 0
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                problems.append((number, f"not UTF-8 ({exc.reason} at byte {exc.start})"))
                continue
            if not line.strip():
                problems.append((number, "blank line"))
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append((number, f"not JSON: {exc.msg} at column {exc.colno}"))
                continue
            samples += 1
            problems.extend((number, p) for p in conversation_problems(obj))
    if samples == 0 and not problems:
        problems.append((0, "no samples"))
    return problems
