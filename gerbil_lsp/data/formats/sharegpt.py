"""ShareGPT / ChatML JSONL: ``{"conversations": [{"from", "value"}, ...]}``.

The layout axolotl, LLaMA-Factory and unsloth's ``standardize_sharegpt`` read:
``from`` is ``system``, ``human`` or ``gpt``; an optional system turn first,
then human and gpt alternating, ending with gpt.
"""

from __future__ import annotations

from typing import Any

from gerbil_lsp.data.entries import Entry

NAME = "sharegpt"
KEYS = ("conversations",)
ROLE_TO_FROM = {"system": "system", "user": "human", "assistant": "gpt"}
FROM_TO_ROLE = {v: k for k, v in ROLE_TO_FROM.items()}


def to_record(entry: Entry) -> dict[str, Any] | None:
    if entry.kind != "chat" or not entry.messages:
        return None
    return {"conversations": [{"from": ROLE_TO_FROM[m.role], "value": m.content} for m in entry.messages]}


def check_record(obj: Any) -> list[str]:
    if not isinstance(obj, dict):
        return ["not a JSON object"]
    problems: list[str] = []
    extra = sorted(set(obj) - set(KEYS))
    if extra:
        problems.append(f"unexpected keys {extra}")
    turns = obj.get("conversations")
    if not isinstance(turns, list) or not turns:
        return problems + ["`conversations` must be a non-empty list"]
    expected = "human"
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict) or set(turn) != {"from", "value"}:
            problems.append(f"turn {i}: must be an object with exactly `from` and `value`")
            continue
        who, value = turn["from"], turn["value"]
        if not isinstance(value, str) or not value.strip():
            problems.append(f"turn {i}: `value` must be a non-empty string")
        if i == 0 and who == "system":
            continue
        if who not in FROM_TO_ROLE:
            problems.append(f"turn {i}: unknown `from` {who!r} (system, human or gpt)")
        elif who != expected:
            problems.append(f"turn {i}: expected {expected!r}, found {who!r} (human and gpt must alternate)")
        expected = "gpt" if expected == "human" else "human"
    if isinstance(turns[-1], dict) and turns[-1].get("from") != "gpt":
        problems.append("the last turn must be from gpt")
    return problems
