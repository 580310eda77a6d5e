"""textDocument/hover: signature, arity, module, doc link (and the docs' text when present)."""

from __future__ import annotations

from lsprotocol import types

from gerbil_lsp.server.features.markup import hover_formats, markup
from gerbil_lsp.server.features.positions import node_range, offset_of, symbol_at


def hover_markdown(analysis, name: str) -> str | None:
    local = analysis.definitions.get(name)
    if local is not None:
        signature = local.signature or name
        arity = f" — arity {local.arity}" if local.arity is not None else ""
        return f"```scheme\n{signature}\n```\n\n*{local.kind}* — defined in this file{arity}"
    symbol = analysis.resolve(name)
    return symbol.hover_markdown() if symbol is not None else None


def register(server) -> None:
    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(params: types.HoverParams) -> types.Hover | None:
        analysis = server.analysis(params.text_document.uri)
        if analysis is None:
            return None
        node = symbol_at(analysis, offset_of(analysis, params.position))
        if node is None:
            return None
        text = hover_markdown(analysis, node.value)
        if text is None:
            return None
        return types.Hover(
            contents=markup(text, hover_formats(server.client_capabilities)),
            range=node_range(analysis, node),
        )
