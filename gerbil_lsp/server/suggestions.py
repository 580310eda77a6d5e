"""What to write instead of an unbound name: Gerbil's name for another Scheme's, or the name meant by a typo.

The diagnostic says it (an agent in OpenCode reads the message and fixes its
code on the next turn) and a quick fix writes it in, adding the import a
suggestion needs. Only names the index knows are suggested: another Scheme's
name goes to the Gerbil names of :mod:`gerbil_lsp.core.other_schemes` that the
file sees or some module exports; a typo to the closest names in scope.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gerbil_lsp.core.other_schemes import other_name

if TYPE_CHECKING:
    from gerbil_lsp.server.analysis import Analysis

MAX_SUGGESTED = 3
TYPO_CUTOFF = 0.8  # difflib's ratio: "hash-gett" and "hash-get" are 0.94, "hash-set" and "hash-get" 0.875
MIN_TYPO_LENGTH = 4  # shorter names are close to too much
MAX_TYPO_LOOKUPS = 20  # per analysis: a look through every name in scope takes some 5 ms


@dataclass(frozen=True, slots=True)
class Instead:
    """Names to write instead, each with the module to import for it (None: already in scope)."""

    names: tuple[tuple[str, str | None], ...]
    hint: str  # what the diagnostic message adds after the name


def instead_of(analysis: Analysis, name: str) -> Instead | None:
    """What to write for the unbound ``name`` (no module exports it), or None: nothing known comes close."""
    other = other_name(name)
    if other is not None:
        names = tuple(found for g in other.gerbil if (found := _reachable(analysis, g)) is not None)
        if names:
            shown = ", ".join(g if module is None else f"{g} from {module}" for g, module in names)
            note = f" — {other.note}" if other.note else ""
            return Instead(names[:MAX_SUGGESTED], f" ({other.origin}); in Gerbil: {shown}{note}")
    close = _typos(analysis, name)
    if not close:
        return None
    return Instead(tuple((c, None) for c in close), f"; did you mean {', '.join(close)}?")


def _typos(analysis: Analysis, name: str) -> tuple[str, ...]:
    """The names in scope closest to ``name``; looked for at most ``MAX_TYPO_LOOKUPS`` times per analysis."""
    known = analysis.typos.get(name)
    if known is not None:
        return known
    if len(name) < MIN_TYPO_LENGTH or len(analysis.typos) >= MAX_TYPO_LOOKUPS:
        return ()
    close = analysis.typos[name] = tuple(
        difflib.get_close_matches(name, analysis.names_in_scope, n=MAX_SUGGESTED, cutoff=TYPO_CUTOFF))
    return close


def _reachable(analysis: Analysis, name: str) -> tuple[str, str | None] | None:
    """``name`` with the module to import for it, when the file can have it."""
    if name in analysis.visible or name in analysis.top_level:
        return name, None
    exporters = analysis.index.modules_exporting(name)
    return (name, exporters[0]) if exporters else None
