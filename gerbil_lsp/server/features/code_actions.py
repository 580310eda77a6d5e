"""textDocument/codeAction: quick fixes that add the missing import for an unbound identifier."""

from __future__ import annotations

from lsprotocol import types

from gerbil_lsp.server.features.imports import add_import_edit


def register(server) -> None:
    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]),
    )
    def code_action(params: types.CodeActionParams) -> list[types.CodeAction] | None:
        analysis = server.analysis(params.text_document.uri)
        if analysis is None:
            return None
        actions = []
        for diagnostic in params.context.diagnostics:
            data = diagnostic.data if isinstance(diagnostic.data, dict) else {}
            if diagnostic.code != "unbound" or not data.get("modules"):
                continue
            for module in data["modules"][:3]:
                edit = add_import_edit(analysis, module)
                actions.append(types.CodeAction(
                    title=f"Import {module} (for {data.get('name')})",
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[diagnostic],
                    is_preferred=module == data["modules"][0],
                    edit=types.WorkspaceEdit(changes={params.text_document.uri: [edit]}),
                ))
        return actions
