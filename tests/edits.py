"""Edit sequences for the tests that compare incremental work (re-reading, reused problems) with a fresh start."""

from __future__ import annotations


def edited_versions(base: str, edits: list[tuple[float, int, str]]) -> list[str]:
    """``base``, then the text after each edit: (where as a share of the length, characters cut, text put)."""
    texts = [base]
    text = base
    for where, cut, insert in edits:
        at = int(where * len(text))
        text = text[:at] + insert + text[at + cut:]
        texts.append(text)
    return texts
