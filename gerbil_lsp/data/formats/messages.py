"""``messages`` JSONL: ``{"messages": [{"role", "content"}, ...]}``.

What TRL's SFTTrainer and Together's fine-tuning read. Together's rules are
checked by :mod:`gerbil_lsp.data.formats.together`; a line holds nothing but
``messages`` (Together refuses extra columns).
"""

from __future__ import annotations

from typing import Any

from gerbil_lsp.data.entries import Entry
from gerbil_lsp.data.formats import together

NAME = "messages"
KEYS = ("messages",)


def to_record(entry: Entry) -> dict[str, Any] | None:
    if entry.kind != "chat" or not entry.messages:
        return None
    return {"messages": [{"role": m.role, "content": m.content} for m in entry.messages]}


def check_record(obj: Any) -> list[str]:
    return together.conversation_problems(obj)
