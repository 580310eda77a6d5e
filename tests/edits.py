"""Edits for tests: sequences that compare incremental work with a fresh start, and applying an LSP answer's edits."""

from __future__ import annotations

from lsprotocol import types

from gerbil_lsp.core.reader import LineIndex


def edited_versions(base: str, edits: list[tuple[float, int, str]]) -> list[str]:
    """``base``, then the text after each edit: (where as a share of the length, characters cut, text put)."""
    texts = [base]
    text = base
    for where, cut, insert in edits:
        at = int(where * len(text))
        text = text[:at] + insert + text[at + cut:]
        texts.append(text)
    return texts


def applied(text: str, edits: list[types.TextEdit]) -> str:
    """``text`` with an LSP answer's ``edits`` made, as an editor makes them (from the last, so offsets hold)."""
    lines = LineIndex(text)
    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        start = lines.offset(edit.range.start.line, edit.range.start.character)
        end = lines.offset(edit.range.end.line, edit.range.end.character)
        text = text[:start] + edit.new_text + text[end:]
    return text
