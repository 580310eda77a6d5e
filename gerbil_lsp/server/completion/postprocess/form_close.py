"""Stop when the completion closes the form it started in.

Inside a form that the suffix already closes, a completion may write more of
its body but never the closing delimiter (the suffix has it): cut just before
the first closer that would close it. Where the suffix leaves forms open (the
user is writing a new definition), the completion may close them: cut right
after the closer that completes the top-level form, so one definition is
suggested, not the next three. At top level, one whole form is enough. In a
string (or ``|symbol|``, ``#| comment |#``) that the suffix ends, the
completion stays inside it: cut before its closing quote.
"""

from __future__ import annotations

from gerbil_lsp.server.completion.postprocess.context import Surroundings
from gerbil_lsp.server.completion.sexp_state import scan_completion, tail_end


def apply(text: str, where: Surroundings) -> str | None:
    cut = _cut(text, where)
    return text if cut is None else cut


def closed(text: str, where: Surroundings) -> bool:
    """True once ``text`` reaches its cut: what a model writes after it is never shown.

    Backends call this on the text streamed so far (``enough``) and stop the
    generation there.
    """
    return _cut(text, where) is not None


def _cut(text: str, where: Surroundings) -> str | None:
    """``text`` up to where it must end, or None while it may go on."""
    state = where.state
    if state.suffix_closes_tail:  # in a string the suffix closes: the completion stays inside it
        end = tail_end(state, text)
        return None if end is None else text[:end]
    target = -state.unclosed
    result, shift = scan_completion(state, text)
    opened = False
    for event in result.events:
        if event.kind == "open":
            opened = True
        elif event.kind == "close":
            if event.depth < target:  # the suffix already closes this one
                return text[: event.start - shift].rstrip(" \t")
            if target < 0 and event.depth == target:  # every open form is now closed
                return text[: event.end - shift]
            if state.top_level and opened and event.depth == 0:  # one whole top-level form
                return text[: event.end - shift]
    return None
