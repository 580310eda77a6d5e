"""One module per LSP method (pygls examples style); `register_all` wires them onto the server."""

from __future__ import annotations


def register_all(server) -> None:
    from gerbil_lsp.server.features import (
        call_hierarchy,
        code_actions,
        commands,
        completion,
        definition,
        diagnostics,
        document_symbol,
        folding_range,
        formatting,
        hover,
        implementation,
        inline_completion,
        lifecycle,
        references,
        rename,
        selection_range,
        semantic_tokens,
        signature_help,
        workspace_symbol,
    )

    for module in (lifecycle, diagnostics, completion, hover, signature_help, definition, document_symbol,
                   code_actions, inline_completion, commands, workspace_symbol, selection_range, folding_range,
                   references, call_hierarchy, implementation, rename, formatting, semantic_tokens):
        module.register(server)
