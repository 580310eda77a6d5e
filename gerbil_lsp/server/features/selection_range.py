"""textDocument/selectionRange: grow the selection one s-expression at a time.

From the atom under the cursor to the list around it, then each enclosing list
up to the top-level form: what Lisp programmers know as expand-region.
"""

from __future__ import annotations

from lsprotocol import types

from gerbil_lsp.server.features.positions import node_range, offset_of

# Each step is one nested object in the answer: ten thousand nested parens would be ten thousand
# levels of JSON, more than the serializer's recursion (or any person pressing the key) takes.
MAX_STEPS = 100


def register(server) -> None:
    @server.feature(types.TEXT_DOCUMENT_SELECTION_RANGE)
    def selection_range(params: types.SelectionRangeParams) -> list[types.SelectionRange] | None:
        analysis = server.analysis(params.text_document.uri)
        if analysis is None:
            return None
        out = []
        for position in params.positions:
            chain = None
            path = analysis.result.node_at(offset_of(analysis, position))  # outermost first
            if len(path) > MAX_STEPS:  # the innermost steps, then the whole form at once
                path = [path[0], *path[-(MAX_STEPS - 1):]]
            for node in path:
                here = node_range(analysis, node)
                if chain is None or chain.range != here:
                    chain = types.SelectionRange(range=here, parent=chain)
            # between forms: the empty range at the cursor (one answer per position, as the protocol asks)
            out.append(chain or types.SelectionRange(range=types.Range(start=position, end=position)))
        return out
