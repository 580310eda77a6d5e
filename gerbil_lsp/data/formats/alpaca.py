"""Alpaca: ``{"instruction", "input", "output"}`` per example, as JSONL or one JSON array.

The Stanford Alpaca layout; LLaMA-Factory and most SFT scripts read it. The
system turn is dropped (Alpaca has none); a question carrying code puts the
code in ``input``.
"""

from __future__ import annotations

import re
from typing import Any

from gerbil_lsp.data.entries import Entry

NAME = "alpaca"
KEYS = ("instruction", "input", "output")
_TRAILING_CODE = re.compile(r"\n*(```[a-z]*\n.*?```)\s*$", re.S)


def to_record(entry: Entry) -> dict[str, Any] | None:
    if entry.kind != "chat":
        return None
    users = [m.content for m in entry.messages if m.role == "user"]
    answers = [m.content for m in entry.messages if m.role == "assistant"]
    if len(users) != 1 or len(answers) != 1:
        return None  # Alpaca holds one instruction and one output
    instruction, code = users[0], ""
    match = _TRAILING_CODE.search(instruction)
    if match and match.start() > 0:
        instruction, code = instruction[: match.start()].rstrip(), match.group(1)
    return {"instruction": instruction, "input": code, "output": answers[0]}


def check_record(obj: Any) -> list[str]:
    if not isinstance(obj, dict):
        return ["not a JSON object"]
    problems = []
    missing = [k for k in KEYS if k not in obj]
    if missing:
        problems.append(f"missing keys {missing}")
    extra = sorted(set(obj) - set(KEYS))
    if extra:
        problems.append(f"unexpected keys {extra}")
    for key in KEYS:
        if key in obj and not isinstance(obj[key], str):
            problems.append(f"`{key}` must be a string")
    for key in ("instruction", "output"):
        if isinstance(obj.get(key), str) and not obj[key].strip():
            problems.append(f"`{key}` is empty")
    return problems
