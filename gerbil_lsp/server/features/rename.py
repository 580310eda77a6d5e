"""textDocument/prepareRename and textDocument/rename: rename a binding everywhere it is used, or refuse.

A rename must never change what the program means, and the analysis does not
track exact scopes; so the server renames only when every use is certain and
says why it will not otherwise (the editor shows the message):

* names from outside the workspace (the prelude, :std/...) are not renamed;
* a name bound inside a form that also means an outer binding there, or a use in
  a form that binds the name again, is left to the user;
* so is a name a file imports under another name (``prefix-in``, ``rename-in``),
  and one a definer made (``point-x`` of ``(defstruct point (x))``);
* the new name must read as one plain symbol, and must not be defined, imported
  or bound where a use would then mean it instead.
"""

from __future__ import annotations

import os

from lsprotocol import types

from gerbil_lsp.core.reader import SYMBOL, read_source
from gerbil_lsp.server.analysis import Analysis
from gerbil_lsp.server.features.positions import node_range, position_of
from gerbil_lsp.server.features.references import all_uses, under_cursor
from gerbil_lsp.server.features.refusals import Refused, keep_refusals_out_of_the_log
from gerbil_lsp.server.occurrences import (
    FILE,
    LOCAL,
    Target,
    Uses,
    defines,
    locally_bound,
    symbols_named,
)

MAX_LISTED = 3  # places a refusal names


def file_name(uses: Uses) -> str:
    return os.path.basename(uses.analysis.path) if uses.analysis.path else uses.uri


def where(uses: Uses, offset: int) -> str:
    """``file.ss:line`` of an offset, as a refusal names a place."""
    return f"{file_name(uses)}:{position_of(uses.analysis, offset).line + 1}"


def refusal_here(server, analysis: Analysis, target: Target | None, name: str) -> str | None:
    """Why ``target`` cannot be renamed, from what the file under the cursor shows; None: it may be."""
    if target is None:
        return f"`{name}` is not bound here (unbound, core syntax or a Gambit global): nothing to rename"
    if target.scope == LOCAL:
        outer = ("a top-level definition of this file" if name in analysis.top_level
                 else f"`{analysis.visible[name].qualified}`" if name in analysis.visible else None)
        if outer is not None:
            return (f"`{name}` is bound inside this form and also names {outer}; which uses mean which "
                    f"is not certain here: rename it by hand")
        return None
    if target.scope == FILE:
        return None
    path = analysis.index.module_path(target.module)
    if not path or server.workspace_modules.in_workspace(path) is None:
        return f"`{name}` comes from {target.module}, outside this workspace: it is not renamed here"
    return None


def new_name_refusal(new_name: str) -> str | None:
    result = read_source(new_name)
    forms = result.forms
    if (result.errors or len(forms) != 1 or forms[0].kind is not SYMBOL or forms[0].text != new_name
            or "#" in new_name or new_name.startswith(":")):
        return f"`{new_name}` is not a plain Gerbil symbol"
    return None


def refusal_after_search(target: Target, uses: list[Uses], new_name: str) -> str | None:
    """Why the uses found cannot all be renamed to ``new_name``; None: they can."""
    shadowed = [(u, n) for u in uses for n in u.shadowed]
    if shadowed:
        places = ", ".join(where(u, n.start) for u, n in shadowed[:MAX_LISTED])
        return (f"`{target.name}` is bound again in the forms around its uses at {places}: whether they "
                f"mean it is not certain: rename by hand")
    aliased = [(u, alias) for u in uses for alias in sorted(u.aliases)]
    if aliased:
        u, alias = aliased[0]
        return f"{file_name(u)} imports `{target.name}` as `{alias}`: rename by hand"
    if target.scope != LOCAL:
        home = next((u for u in uses if defines(u.analysis, target)), None)
        if home is None:
            return f"where `{target.name}` is defined is not among the workspace's files"
        made_by = home.analysis.definitions[target.name].generated_by
        if made_by and made_by != target.name:
            return f"`{target.name}` is made by the definition of `{made_by}`: rename that instead"
    for u in uses:
        analysis = u.analysis
        if target.scope == LOCAL:
            clash = next((n for unit in u.units for n in symbols_named(unit, {new_name})), None)
            if clash is not None:
                return f"`{new_name}` is already used in this form ({where(u, clash.start)})"
            continue
        if new_name in analysis.top_level or new_name in analysis.visible:
            return f"`{new_name}` is already defined or imported in {file_name(u)}"
        for unit in u.units:
            if new_name in locally_bound(analysis, unit):
                return f"`{new_name}` is bound in the form at {where(u, unit.start)}, where `{target.name}` is used"
    return None


def workspace_edit(server, uses: list[Uses], new_name: str) -> types.WorkspaceEdit:
    """Versioned document changes where the client takes them (a stale edit is then refused), else changes."""
    edits = {u.uri: (u, [types.TextEdit(range=node_range(u.analysis, n), new_text=new_name)
                         for n in sorted(u.nodes, key=lambda n: n.start)]) for u in uses if u.nodes}
    capabilities = server.client_capabilities
    workspace = capabilities.workspace if capabilities is not None else None
    if workspace and workspace.workspace_edit and workspace.workspace_edit.document_changes:
        return types.WorkspaceEdit(document_changes=[
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=u.version),
                edits=text_edits)
            for uri, (u, text_edits) in edits.items()])
    return types.WorkspaceEdit(changes={uri: text_edits for uri, (_, text_edits) in edits.items()})


def register(server) -> None:
    keep_refusals_out_of_the_log()

    @server.feature(types.TEXT_DOCUMENT_PREPARE_RENAME)
    def prepare_rename(params: types.PrepareRenameParams) -> types.PrepareRenamePlaceholder | None:
        found = under_cursor(server, params.text_document.uri, params.position)
        if found is None:
            return None
        analysis, node, target = found
        refusal = refusal_here(server, analysis, target, node.value)
        if refusal is not None:
            raise Refused(refusal)
        return types.PrepareRenamePlaceholder(range=node_range(analysis, node), placeholder=node.value)

    @server.feature(types.TEXT_DOCUMENT_RENAME)
    async def rename(params: types.RenameParams) -> types.WorkspaceEdit | None:
        found = under_cursor(server, params.text_document.uri, params.position)
        if found is None:
            return None
        analysis, node, target = found
        refusal = refusal_here(server, analysis, target, node.value) or new_name_refusal(params.new_name)
        if refusal is not None:
            raise Refused(refusal)
        if params.new_name == node.value:
            return None
        uses = await all_uses(server, analysis, target)
        refusal = refusal_after_search(target, uses, params.new_name)
        if refusal is not None:
            raise Refused(refusal)
        return workspace_edit(server, uses, params.new_name)
