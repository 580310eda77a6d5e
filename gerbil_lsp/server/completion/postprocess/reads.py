"""Drop completions that do not read: the core reader must accept them in place.

The completion is read between the delimiters open at the cursor and the
closers it leaves for the suffix, so what is checked is exactly what the
document would contain: a ``]`` closing a ``(``, a malformed ``#`` syntax or a
bad character escape is an error and the completion is dropped, not shown.
"""

from __future__ import annotations

from gerbil_lsp.core.reader import read_source
from gerbil_lsp.server.completion.postprocess.context import Surroundings
from gerbil_lsp.server.completion.sexp_state import OPENERS, STATE_OPENER, scan

CLOSE_STATE = {None: "", "string": '"', "bar": "|", "comment": "\n", "block": "|#"}


def apply(text: str, where: Surroundings) -> str | None:
    state = where.state
    before = " ".join(state.open_stack) + " " + STATE_OPENER[state.tail]
    probe = before + text
    after = scan(probe)
    probe += CLOSE_STATE[after.tail] + "".join(OPENERS[d] for d in reversed(after.stack))
    result = read_source(probe)
    return text if result.ok else None
