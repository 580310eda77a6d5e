"""Output formats: one module each, one format per file.

Each module has ``NAME``, ``to_record(entry) -> dict | None`` (``None``: the
entry does not fit that format) and ``check_record(obj) -> list[str]``.
"""

from __future__ import annotations

from types import ModuleType

from gerbil_lsp.data.formats import alpaca, fim, messages, sharegpt

FORMATS: dict[str, ModuleType] = {
    "sharegpt": sharegpt,
    "messages": messages,
    "alpaca": alpaca,
    "fim": fim,
}
#: what ``--format`` accepts; ``alpaca-json`` is the Alpaca records as one JSON array
FORMAT_CHOICES = ("all", "sharegpt", "messages", "alpaca", "alpaca-json", "fim")


def detect(obj: object) -> str | None:
    """The format a JSON line is in, judged by its keys."""
    if not isinstance(obj, dict):
        return None
    if "conversations" in obj:
        return "sharegpt"
    if "messages" in obj:
        return "messages"
    if "instruction" in obj or "output" in obj:
        return "alpaca"
    if "prompt" in obj and "completion" in obj:
        return "fim"
    return None
