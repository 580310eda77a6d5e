"""textDocument/documentSymbol: the file's top-level definitions (generated names nested under their form)."""

from __future__ import annotations

from lsprotocol import types

from gerbil_lsp.server.features.positions import definition_range

SYMBOL_KIND = {  # the kinds of the index and the scanner, as LSP symbol kinds
    "procedure": types.SymbolKind.Function,
    "macro": types.SymbolKind.Function,
    "syntax": types.SymbolKind.Function,
    "struct": types.SymbolKind.Struct,
    "class": types.SymbolKind.Class,
    "error-class": types.SymbolKind.Class,
    "method": types.SymbolKind.Method,
    "interface": types.SymbolKind.Interface,
    "value": types.SymbolKind.Variable,
    "parameter": types.SymbolKind.Variable,
    "alias": types.SymbolKind.Variable,
}


def register(server) -> None:
    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def document_symbol(params: types.DocumentSymbolParams) -> list[types.DocumentSymbol] | None:
        analysis = server.analysis(params.text_document.uri)
        if analysis is None:
            return None
        symbols = []
        for name, local in analysis.definitions.items():
            if local.generated_by and local.generated_by != name:
                continue
            whole = definition_range(local)
            symbols.append(types.DocumentSymbol(
                name=name, detail=local.signature or local.kind, kind=SYMBOL_KIND.get(local.kind, types.SymbolKind.Variable),
                range=whole, selection_range=types.Range(start=whole.start, end=whole.start),
            ))
        return symbols
