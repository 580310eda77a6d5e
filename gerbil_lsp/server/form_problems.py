"""Problems per top-level form, kept from one version of a document to the next.

Typing changes one top-level form at a time. What the reference walk finds in a
form depends on the form's text and on the file's context: its imports, the
names it defines at top level, its macros, and the index. So when the context
is unchanged, every form whose text is unchanged has the same problems as in
the previous version, at the same place relative to the form's start; only the
edited form is walked again. Any change to the context walks every form.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class FormProblems:
    """One analysis's problems, by the text of the form they were found in (offsets relative to it)."""

    context: tuple
    by_text: dict[str, list]

    def reusable(self, context: tuple) -> bool:
        return context == self.context


def relative(problems: list, start: int, end: int) -> list | None:
    """``problems`` with offsets from ``start``; None when one lies outside the form (never reuse it)."""
    out = []
    for problem in problems:
        if problem.start < start or problem.end > end:
            return None
        out.append(replace(problem, start=problem.start - start, end=problem.end - start))
    return out


def placed(problems: list, start: int) -> list:
    """Relative problems put back at a form starting at ``start``."""
    return [replace(problem, start=problem.start + start, end=problem.end + start) for problem in problems]


def context_key(analysis: Any, plans_read: int) -> tuple:
    """Everything besides a form's own text that the walk of the form reads.

    The index (and every change made to it), the imports, the top-level names,
    whether unbound names are reported at all, the file's macro definitions and
    top-level macro uses (their texts), and, last, how many imported files'
    macros have been read (a file changed on disk is read again when a walk next
    needs it; from then on nothing is reused).
    """
    text = analysis.result.text
    macro_texts = []
    todo = [analysis.scan]
    while todo:
        module = todo.pop()
        todo.extend(module.submodules.values())
        macro_texts.extend((name, text[form.start:form.end]) for name, form in module.macros.items())
        macro_texts.extend(text[use.start:use.end] for use in module.macro_uses)
    index = analysis.index
    return (id(index), index.generation, analysis.path, tuple(analysis.imports), frozenset(analysis.top_level),
            analysis.unbound_known, tuple(macro_texts), plans_read)
