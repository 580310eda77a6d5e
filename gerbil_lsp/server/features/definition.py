"""textDocument/definition: this file's definitions, then the index's source locations.

A method named in a call ``{area shape}`` has no one definition: its ``defmethod``
forms are (what go to implementation lists).
"""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types

from gerbil_lsp.server.features.implementation import method_implementations
from gerbil_lsp.server.features.positions import offset_of, symbol_at


def register(server) -> None:
    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    async def definition(params: types.DefinitionParams) -> list[types.Location] | None:
        analysis = server.analysis(params.text_document.uri)
        if analysis is None:
            return None
        # (it suspends only when a method is named there: otherwise the analysis is still this version's below)
        methods = await method_implementations(server, analysis, params.position)
        if methods is not None:
            return methods
        node = symbol_at(analysis, offset_of(analysis, params.position))
        if node is None:
            return None
        local = analysis.definitions.get(node.value)
        if local is not None:
            here = types.Position(line=local.line, character=local.character)
            return [types.Location(uri=params.text_document.uri, range=types.Range(start=here, end=here))]
        symbol = analysis.resolve(node.value)
        if symbol is None or not symbol.source_path or symbol.source_line is None:
            return None
        path = Path(symbol.source_path)
        if not path.is_file():
            return None
        here = types.Position(line=symbol.source_line, character=symbol.source_character or 0)
        return [types.Location(uri=path.resolve().as_uri(), range=types.Range(start=here, end=here))]
