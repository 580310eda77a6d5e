"""Kept edits: the top-level forms a saved file gained since its last harvested version.

A file is harvested only when it reads cleanly (the core reader finds no error)
and, when a diagnostics check is given, has no error diagnostics: half-typed
code is not something to learn. Each new or changed top-level form becomes a
FIM example (the file before it, the form, the file after it). The file's text
is then remembered as its last harvested version, in the same transaction as
its entries, so a crash between the two cannot lose or double anything.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gerbil_lsp.harvest.privacy import scrub_record
from gerbil_lsp.harvest.records import fim_record
from gerbil_lsp.harvest.store import HarvestStore

log = logging.getLogger(__name__)

#: ``(text, path) -> number of error diagnostics``; the server's diagnostics when it offers them.
ErrorCheck = Callable[[str, str], int]


@dataclass(frozen=True)
class FormSpan:
    start: int
    end: int
    line: int
    text: str


@dataclass
class HarvestOutcome:
    path: str
    stored: list[int]
    skipped: str = ""  # why nothing was harvested, when nothing was


def top_level_forms(text: str) -> tuple[list[FormSpan], bool]:
    """The file's top-level forms (with offsets) and whether it read without errors."""
    from gerbil_lsp.core.reader import read_source

    result = read_source(text)
    forms = [FormSpan(node.start, node.end, node.span.start.line, result.text_of(node)) for node in result.forms]
    return forms, result.ok


def changed_forms(old_text: str | None, forms: list[FormSpan]) -> list[FormSpan]:
    """Forms whose exact text the old version did not have (as many times)."""
    if old_text is None:
        return list(forms)
    try:
        old_forms, _ = top_level_forms(old_text)
    except Exception:  # an old version that no longer reads: treat every form as new
        return list(forms)
    remaining = Counter(f.text for f in old_forms)
    changed = []
    for form in forms:
        if remaining[form.text] > 0:
            remaining[form.text] -= 1
        else:
            changed.append(form)
    return changed


def fim_entries(path: str, text: str, forms: list[FormSpan]) -> list[dict]:
    records = []
    for form in forms:
        if not form.text.strip() or not form.text.lstrip().startswith(("(", "[", "{")):
            continue  # bare atoms at top level teach nothing
        record = fim_record(text[: form.start], text[form.start : form.end], text[form.end :],
                            path=path, detail="watch", line=form.line + 1)
        records.append(scrub_record(record)[0])
    return records


def read_text(path: str | os.PathLike, max_bytes: int) -> str | None:
    """The file's text, or None when it is gone, too big, binary or not UTF-8."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except (FileNotFoundError, IsADirectoryError, PermissionError, OSError):
        return None
    if len(data) > max_bytes or b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def harvest_file(store: HarvestStore, path: str | os.PathLike, *, max_bytes: int,
                 error_check: ErrorCheck | None = None) -> HarvestOutcome:
    """Compare the file on disk with its last harvested version and store what changed."""
    key = str(Path(path).resolve())
    text = read_text(key, max_bytes)
    if text is None:
        return HarvestOutcome(key, [], "unreadable, binary, too big or gone")
    old = store.file_version(key)
    if old == text:
        return HarvestOutcome(key, [], "unchanged")
    forms, clean = top_level_forms(text)
    if not clean:
        return HarvestOutcome(key, [], "does not read cleanly")
    if error_check is not None and error_check(text, key) > 0:
        return HarvestOutcome(key, [], "has error diagnostics")
    records = fim_entries(key, text, changed_forms(old, forms))
    ids = store.add_file_harvest(key, text, records, source="watch")
    return HarvestOutcome(key, ids, "" if ids else "no new forms")
