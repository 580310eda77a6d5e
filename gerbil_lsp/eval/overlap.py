"""Held-out protection: training text that shares long n-grams with a held-out question is refused."""

from __future__ import annotations

import re
from functools import cache

from gerbil_lsp.eval.suite import load_fim_tasks, load_suite

_WORD = re.compile(r"[^\s()\[\]{}\"'`,;]+")


def _ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


@cache
def _heldout_ngrams(n: int) -> tuple[frozenset, ...]:
    texts = [q.question for q in load_suite("heldout")]
    texts += [t.prefix + " " + t.suffix for t in load_fim_tasks("heldout")]
    return tuple(frozenset(_ngrams(text, n)) for text in texts if len(_WORD.findall(text)) >= n)


def heldout_overlap(text: str, n: int = 6) -> float:
    """The largest share of any held-out text's n-grams that ``text`` contains."""
    grams = _ngrams(text, n)
    if not grams:
        return 0.0
    return max((len(held & grams) / len(held) for held in _heldout_ngrams(n) if held), default=0.0)


def overlaps_heldout(text: str, threshold: float = 0.5, n: int = 6) -> bool:
    return heldout_overlap(text, n) >= threshold
