"""Harvested examples as the data part's entry records (what ``Entry.from_record`` reads).

Provenance source is always ``harvest``; a tag says which harvester made it
(``harvest:watch``, ``harvest:completion-kept``, ``harvest:completion-edited``,
``harvest:opencode``). The group is the file or session, so every example from
one file lands on the same side of the train / held-out split.
"""

from __future__ import annotations

from typing import Any

SOURCE = "harvest"


def _provenance(file: str, line: int, group: str) -> dict[str, Any]:
    return {"source": SOURCE, "file": file, "line": line, "gerbil_version": None, "group": group}


def fim_record(prefix: str, middle: str, suffix: str, *, path: str, detail: str, line: int = 0,
               split_kind: str = "form") -> dict[str, Any]:
    """A fill-in-the-middle example: ``prefix + middle + suffix`` is the file as kept."""
    return {
        "kind": "fim",
        "split": "train",
        "fim": {"prefix": prefix, "middle": middle, "suffix": suffix, "path": path, "repo_name": "",
                "context_files": [], "split_kind": split_kind},
        "provenance": _provenance(path, line, path),
        "tags": ["harvest", f"harvest:{detail}"],
    }


def chat_record(messages: list[dict[str, str]], *, file: str, detail: str, group: str) -> dict[str, Any]:
    """A multi-turn conversation (user / assistant turns, in order)."""
    return {
        "kind": "chat",
        "split": "train",
        "messages": [{"role": m["role"], "content": m["content"]} for m in messages],
        "provenance": _provenance(file, 0, group),
        "tags": ["harvest", f"harvest:{detail}"],
    }
