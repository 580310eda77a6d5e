"""Entries from the harvest store, through the same checks as every other source.

The harvest part hands us plain dicts (it owns its store); each becomes an
:class:`Entry` with ``harvest`` provenance. Accepted shapes::

    {"messages": [{"role", "content"}, ...], "file"?, "line"?, "gerbil_version"?, "group"?, "imports"?}
    {"prefix", "middle", "suffix", "path"?, "repo_name"?, "context_files"?: [[path, text], ...], ...}

Code is taken from the ```scheme fences of assistant turns (chat) or the whole
file text (FIM), so the identifier and reader checks apply to it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from gerbil_lsp.data.entries import CodeBlock, Entry, FimParts, Message, Provenance

_FENCE = re.compile(r"```(?:scheme|gerbil)?\n(.*?)```", re.S)


def entries_from_harvest(records: Iterable[dict[str, Any]], sink=None) -> list[Entry]:
    """Turn harvest records into entries; a malformed record is warned about (if a sink is given) and skipped."""
    out: list[Entry] = []
    for n, record in enumerate(records):
        entry = _entry(record)
        if entry is None:
            if sink is not None:
                sink.warn(str(record.get("file", "harvest")) if isinstance(record, dict) else "harvest", n + 1,
                          "harvest record is neither chat messages nor a FIM split; skipped")
                sink.drop("malformed harvest record", f"harvest record {n + 1}")
            continue
        out.append(entry)
        if sink is not None:
            sink.add(entry)
    return out


def _entry(record: Any) -> Entry | None:
    if not isinstance(record, dict):
        return None
    file = str(record.get("file") or record.get("path") or "harvest")
    prov = Provenance(
        "harvest",
        file,
        int(record.get("line") or 0),
        record.get("gerbil_version"),
        str(record.get("group") or f"harvest:{file}"),
    )
    imports = tuple(m for m in record.get("imports", ()) if isinstance(m, str))
    messages = record.get("messages")
    if isinstance(messages, list) and messages:
        try:
            turns = tuple(Message(m["role"], m["content"]) for m in messages)
        except (KeyError, TypeError):
            return None
        if not all(isinstance(t.content, str) and t.role in ("system", "user", "assistant") for t in turns):
            return None
        code = tuple(
            CodeBlock(block, imports)
            for t in turns
            if t.role == "assistant"
            for block in _FENCE.findall(t.content)
        )
        return Entry(kind="chat", provenance=prov, messages=turns, code=code, tags=("harvest",))
    if all(isinstance(record.get(k), str) for k in ("prefix", "middle", "suffix")):
        ctx = tuple((str(p), str(t)) for p, t in record.get("context_files", ()) or ())
        parts = FimParts(record["prefix"], record["middle"], record["suffix"], str(record.get("path", "")),
                         str(record.get("repo_name", "")), ctx, str(record.get("split_kind", "")))
        whole = parts.prefix + parts.middle + parts.suffix
        return Entry(kind="fim", provenance=prov, fim=parts, code=(CodeBlock(whole, imports, "fim"),),
                     tags=("harvest",))
    return None
