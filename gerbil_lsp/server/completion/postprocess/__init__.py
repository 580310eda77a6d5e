"""S-expression-aware post-processing of model completions: one filter a module, run in order.

Each filter takes the completion text and its :class:`Surroundings` and
returns the text to keep (possibly cut) or None to drop it. The order matters:
repeats of the suffix go first (they would otherwise count as structure),
then the structural cuts, then the reader has the last word.
"""

from __future__ import annotations

from collections.abc import Callable

from gerbil_lsp.server.completion.postprocess import balance, form_close, reads, trim_suffix_repeat
from gerbil_lsp.server.completion.postprocess.context import Surroundings

Filter = Callable[[str, Surroundings], "str | None"]

FILTERS: dict[str, Filter] = {
    "trim_suffix_repeat": trim_suffix_repeat.apply,
    "form_close": form_close.apply,
    "balance": balance.apply,
    "reads": reads.apply,
}

__all__ = ["FILTERS", "Surroundings", "postprocess"]


def postprocess(text: str, where: Surroundings) -> str | None:
    """Run every filter; None when the completion should not be shown."""
    for apply in FILTERS.values():
        out = apply(text, where)
        if out is None or not out.strip():
            return None
        text = out
    return text
