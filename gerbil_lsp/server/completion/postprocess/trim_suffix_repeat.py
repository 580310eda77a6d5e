"""Trim text that repeats the suffix: models often re-type what already follows the cursor.

Two shapes: the completion ends with the rest of the cursor's line
(``(hash-get |table key)`` completed with ``table key)``), or it runs on into a
line that is the suffix's first non-blank line. Closing delimiters alone are
left to the balance filters, which know whether they are repeats.
"""

from __future__ import annotations

from gerbil_lsp.server.completion.postprocess.context import Surroundings

MIN_REPEAT = 2  # characters of non-delimiter text before a repeat counts


def _substantial(text: str) -> bool:
    return len(text.strip().strip(")]}").strip()) >= MIN_REPEAT


def apply(text: str, where: Surroundings) -> str | None:
    rest = where.suffix_line.rstrip()
    if rest and _substantial(rest):
        trimmed = text.rstrip()
        if trimmed.endswith(rest):  # keep the space before the repeat: it separates from the suffix
            text = trimmed[: len(trimmed) - len(rest)]
        elif trimmed.endswith(rest.lstrip()):
            text = trimmed[: len(trimmed) - len(rest.lstrip())].rstrip(" \t")
    first = where.first_suffix_line
    if first and _substantial(first):
        lines = text.split("\n")
        for i, line in enumerate(lines):
            if i > 0 and line.strip() == first:
                text = "\n".join(lines[:i]).rstrip(" \t")
                break
    return text
