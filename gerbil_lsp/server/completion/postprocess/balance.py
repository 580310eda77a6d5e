"""Never return text whose parens do not balance against the suffix.

Balanced here means: the completion closes every form it opens, closes no
more of the forms open at the cursor than the suffix leaves open, and does
not end inside a string or comment it started (a trailing ``; comment`` would
swallow the rest of the line). In a string the suffix ends, it must not end
that string. Otherwise keep the longest part that is balanced and ends at a
line end, a closer or before a comment; drop the completion when no such
part has anything in it.
"""

from __future__ import annotations

from gerbil_lsp.server.completion.postprocess.context import Surroundings
from gerbil_lsp.server.completion.sexp_state import CursorState, scan_completion, tail_end


def balanced(text: str, state: CursorState) -> bool:
    if state.suffix_closes_tail:
        return tail_end(state, text) is None
    result, _ = scan_completion(state, text)
    return (not result.stack and result.min_depth >= -state.unclosed
            and (result.tail is None or result.tail == state.tail))


def apply(text: str, where: Surroundings) -> str | None:
    state = where.state
    if balanced(text, state):
        return text if text.strip() else None
    result, shift = scan_completion(state, text)
    for event in reversed(result.events):
        if event.kind == "open":
            continue
        cut = text[: max(0, (event.end if event.kind == "close" else event.start) - shift)]
        if cut.strip() and balanced(cut, state):
            return cut.rstrip(" \t")
    return None
