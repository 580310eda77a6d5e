"""Refuse training entries that overlap the evaluation suite's held-out questions.

The eval part owns its questions and how overlap is judged
(:func:`gerbil_lsp.eval.overlap.overlaps_heldout`); we only ask it. Without the
eval part installed there is nothing to protect and nothing is refused.
"""

from __future__ import annotations

from collections.abc import Callable

OVERLAP_THRESHOLD = 0.6


def eval_overlap_check(threshold: float = OVERLAP_THRESHOLD) -> Callable[[str], bool] | None:
    """A predicate ``text -> overlaps`` from the eval part, or ``None`` when it is absent."""
    try:
        from gerbil_lsp.eval.overlap import overlaps_heldout
    except ImportError:
        return None

    def check(text: str) -> bool:
        return bool(overlaps_heldout(text, threshold))

    return check
