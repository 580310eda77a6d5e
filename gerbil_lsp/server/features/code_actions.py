"""textDocument/codeAction: quick fixes for an unbound identifier.

Add the import that exports it; or write instead the name its diagnostic
suggests (Gerbil's name for another Scheme's, the name a typo meant), with the
import that name needs.
"""

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
            if diagnostic.code != "unbound":
                continue
            actions.extend(write_instead(analysis, params.text_document.uri, diagnostic, data.get("instead")))
            for module in (data.get("modules") or [])[:3]:
                edit = add_import_edit(analysis, module)
                actions.append(types.CodeAction(
                    title=f"Import {module} (for {data.get('name')})",
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[diagnostic],
                    is_preferred=module == data["modules"][0],
                    edit=types.WorkspaceEdit(changes={params.text_document.uri: [edit]}),
                ))
        return actions


def write_instead(analysis, uri: str, diagnostic: types.Diagnostic, instead) -> list[types.CodeAction]:
    """One action per suggested name: the name in place of the unbound one, and its import when it needs one."""
    actions = []
    for i, pair in enumerate(instead if isinstance(instead, list) else []):
        if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
            continue  # not data this server wrote
        name, module = pair
        edits = [types.TextEdit(range=diagnostic.range, new_text=name)]
        if isinstance(module, str):
            edits.append(add_import_edit(analysis, module))
        actions.append(types.CodeAction(
            title=f"Replace with {name}" + (f" (import {module})" if isinstance(module, str) else ""),
            kind=types.CodeActionKind.QuickFix,
            diagnostics=[diagnostic],
            is_preferred=i == 0,
            edit=types.WorkspaceEdit(changes={uri: edits}),
        ))
    return actions
