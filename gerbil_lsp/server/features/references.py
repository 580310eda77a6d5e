"""textDocument/references and textDocument/documentHighlight: where the binding under the cursor is used.

A name bound inside a form, or defined by a file that is no module, is looked for
in that form or file; a module's export in every open document and every ``.ss``
file of the workspace (on a worker thread). Uses in a form that binds the name
again are listed too: which binding they mean there is not known (see
:mod:`~gerbil_lsp.server.occurrences`).

The prelude's own syntax (``def``, ``let``, ``import``) gets no references, as a
keyword gets none in other languages' servers: every file uses it, and the
answer would be thousands of places after seconds of search (in Gerbil's own
825 files, 5 s for ``def``), flooding an agent that asked through OpenCode.
Highlights still show its uses in the file.
"""

from __future__ import annotations

from functools import partial
from itertools import islice

from lsprotocol import types

from gerbil_lsp.core.index import Symbol
from gerbil_lsp.core.index.symindex import PRELUDE_MODULE
from gerbil_lsp.core.reader import Node
from gerbil_lsp.server.analysis import Analysis
from gerbil_lsp.server.features.positions import node_range, offset_of, symbol_at
from gerbil_lsp.server.occurrences import (
    MODULE,
    Target,
    Uses,
    defines,
    spelled_in,
    target_at,
    uses_in,
    uses_in_files,
)

# places listed at most: past this a list helps no one (a generated file, a name used everywhere)
MAX_LISTED = 10_000
SYNTAX = frozenset(("macro", "syntax"))


def under_cursor(server, uri: str, position: types.Position) -> tuple[Analysis, Node, Target | None] | None:
    """The open document's analysis, the symbol under the cursor and what it means (None: unknown)."""
    analysis = server.analysis(uri)
    if analysis is None:
        return None
    node = symbol_at(analysis, offset_of(analysis, position))
    return (analysis, node, target_at(analysis, node)) if node is not None else None


def is_language(server, symbol: Symbol, home: str) -> bool:
    """Syntax from outside the workspace (``def``, ``let``, ``for``): the language, not something called."""
    if symbol.kind not in SYNTAX:
        return False
    path = server.index.module_path(home) if server.index is not None else None
    return not path or server.workspace_modules.in_workspace(path) is None


def is_keyword(server, analysis: Analysis, node: Node, target: Target) -> bool:
    """The prelude's syntax (``def``, ``import``), from outside the workspace: what every file uses."""
    if target.scope != MODULE or node.value in analysis.top_level:
        return False
    symbol = analysis.resolve(node.value)  # a prelude row has no module, or the prelude's when imported by name
    return (symbol is not None and symbol.module in (None, PRELUDE_MODULE)
            and is_language(server, symbol, target.module))


async def all_uses(server, analysis: Analysis, target: Target) -> list[Uses]:
    """Uses in this file only (a local or file target), or in every open document and workspace file.

    The files on disk are searched first, on a worker thread. The open documents are searched
    after it, on the event loop, in the analyses the server keeps: an edit takes over an
    analysis's tree, so none may be read across an ``await`` (nor by another thread).
    """
    if target.scope != MODULE:
        opened, on_disk = [analysis], []
    else:
        on_disk = await server.workspace_modules.search(partial(uses_in_files, analysis.index, target))
        may_use = spelled_in(target.name)
        opened = [found for found in map(server.analysis, list(server.workspace.text_documents))
                  if found is not None and may_use(found.result.text)]
    out = []
    for each in opened:
        document = server.document(each.uri)
        uses = uses_in(each, target, document.version if document is not None else None)
        if uses.nodes or uses.shadowed:
            out.append(uses)
    return out + on_disk


def declaration_start(uses: Uses, target: Target) -> int | None:
    """Where the target is defined, when this file defines it at top level."""
    if not defines(uses.analysis, target):
        return None
    d = uses.analysis.definitions[target.name]
    return uses.analysis.result.lines.offset(d.line, d.character)


def in_order(uses: Uses) -> list[Node]:
    return sorted(uses.nodes + uses.shadowed, key=lambda n: n.start)


def register(server) -> None:
    @server.feature(types.TEXT_DOCUMENT_REFERENCES)
    async def references(params: types.ReferenceParams) -> list[types.Location] | None:
        found = under_cursor(server, params.text_document.uri, params.position)
        if found is None or found[2] is None:
            return None
        analysis, node, target = found
        if is_keyword(server, analysis, node, target):
            return []
        locations = []
        for uses in await all_uses(server, analysis, target):
            declared = None if params.context.include_declaration else declaration_start(uses, target)
            for node in islice(in_order(uses), MAX_LISTED - len(locations)):
                if node.start != declared:
                    locations.append(types.Location(uri=uses.uri, range=node_range(uses.analysis, node)))
        return locations

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_HIGHLIGHT)
    def highlight(params: types.DocumentHighlightParams) -> list[types.DocumentHighlight] | None:
        found = under_cursor(server, params.text_document.uri, params.position)
        if found is None or found[2] is None:
            return None
        analysis, _, target = found
        uses = uses_in(analysis, target)
        declared = declaration_start(uses, target)
        return [types.DocumentHighlight(
                    range=node_range(analysis, node),
                    kind=types.DocumentHighlightKind.Write if node.start == declared else types.DocumentHighlightKind.Read)
                for node in islice(in_order(uses), MAX_LISTED)]
