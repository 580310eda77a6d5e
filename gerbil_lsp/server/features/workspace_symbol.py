"""workspace/symbol: the top-level definitions of the workspace's own modules, found by name.

Matching is by case-insensitive prefix, then substring, then the query's letters
in order ("mkht" finds make-hash-table), as editors' symbol pickers expect; the
editor may narrow the list further.
"""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types

from gerbil_lsp.server.features.document_symbol import SYMBOL_KIND

MAX_RESULTS = 200


def match_rank(query: str, name: str) -> int | None:
    """0 prefix, 1 substring, 2 letters in order; None: no match. ``query`` is lower case."""
    lowered = name.lower()
    if lowered.startswith(query):
        return 0
    if query in lowered:
        return 1
    at = 0
    for char in query:
        at = lowered.find(char, at) + 1
        if at == 0:
            return None
    return 2


def register(server) -> None:
    @server.feature(types.WORKSPACE_SYMBOL)
    def workspace_symbol(params: types.WorkspaceSymbolParams) -> list[types.SymbolInformation]:
        query = params.query.strip().lower()
        found = []
        for definition in server.workspace_modules.definitions():
            rank = match_rank(query, definition.name)
            if rank is not None:
                found.append((rank, len(definition.name), definition.name, definition))
        found.sort(key=lambda hit: hit[:3])
        out = []
        for _, _, name, d in found[:MAX_RESULTS]:
            at = types.Position(line=d.line, character=d.character)
            out.append(types.SymbolInformation(
                name=name, kind=SYMBOL_KIND.get(d.kind, types.SymbolKind.Variable), container_name=d.module,
                location=types.Location(uri=Path(d.path).as_uri(), range=types.Range(start=at, end=at))))
        return out
