"""Call hierarchy (textDocument/prepareCallHierarchy, callHierarchy/incomingCalls and outgoingCalls).

Who calls a procedure, and what it calls: the editor's call tree, and what an
agent asks through OpenCode's ``lsp`` tool (``incomingCalls``, ``outgoingCalls``).

An item is a top-level definition a file makes (a procedure, method, macro or
foreign procedure), found through the same targets as references
(:mod:`~gerbil_lsp.server.occurrences`). In Scheme a procedure passed as a
value (``(map price-of items)``) is called too, so every use counts, not only
the head of a list. The caller of a use is the top-level definition it sits in;
a use in a top-level expression is called from the file itself. Uses in a form
that binds the name again are left out: there they most likely mean that binding.
Procedures bound inside a form (an internal ``def``, a ``let`` lambda) have no
item: the analysis is not scope-exact (see :mod:`~gerbil_lsp.server.occurrences`).

Outgoing calls list the procedures a definition uses (its own names bound
inside left out), and the macros the workspace defines; the prelude's and the
libraries' syntax (``def``, ``let``, ``for``) is the language, not a call. An
item needs a place to show: a definition the index knows no source file for (a
library with its sources elsewhere) is left out.
"""

from __future__ import annotations

import os
from bisect import bisect_right
from pathlib import Path

from lsprotocol import types

from gerbil_lsp.core.index import Symbol
from gerbil_lsp.core.reader import Node
from gerbil_lsp.server.analysis import Analysis, analyze, top_units
from gerbil_lsp.server.app import uri_to_path
from gerbil_lsp.server.features.document_symbol import SYMBOL_KIND
from gerbil_lsp.server.features.positions import definition_range, node_range
from gerbil_lsp.server.features.references import (
    MAX_LISTED,
    all_uses,
    declaration_start,
    is_language,
    under_cursor,
)
from gerbil_lsp.server.occurrences import (
    FILE,
    LOCAL,
    MODULE,
    Target,
    defines,
    home_of,
    locally_bound,
    module_of,
    symbols_named,
    unit_at,
)

CALLABLE = frozenset(("procedure", "method", "macro", "syntax", "extern", "ffi"))
NOT_CALLS = frozenset(("import", "export", "declare", "include"))  # forms whose symbols name, not call


def analysis_of(server, uri: str) -> Analysis | None:
    """The open document's analysis, else the file's on disk (read now, not kept)."""
    analysis = server.analysis(uri)
    if analysis is not None or server.index is None:
        return analysis
    path = uri_to_path(uri)
    if path is None or not os.path.isfile(path):
        return None
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return analyze(text, uri, server.index, path=path)


def target_data(target: Target) -> dict:
    return {"name": target.name, "scope": target.scope, "uri": target.uri, "module": target.module}


def target_of(item: types.CallHierarchyItem) -> Target | None:
    """The target an item of ours stands for (its ``data``); None for the file items and strangers."""
    data = item.data if isinstance(item.data, dict) else None
    if not data or data.get("scope") not in (FILE, MODULE) or not data.get("name"):
        return None
    return Target(str(data["name"]), data["scope"], str(data.get("uri") or item.uri), module=data.get("module"))


def own_target(analysis: Analysis, name: str) -> Target:
    """The target of a top-level name ``analysis``'s file defines."""
    module = module_of(analysis)
    return Target(name, MODULE if module else FILE, analysis.uri, module=module)


def name_start(analysis: Analysis, name: str) -> int:
    d = analysis.definitions[name]
    return analysis.result.lines.offset(d.line, d.character)


def item_for(analysis: Analysis, name: str, target: Target | None = None) -> types.CallHierarchyItem | None:
    """The item of the top-level definition ``name`` in ``analysis``'s file; None when it is no procedure."""
    local = analysis.definitions.get(name)
    if local is None or local.kind not in CALLABLE:
        return None
    selection = definition_range(local)
    unit = unit_at(analysis, name_start(analysis, name))
    target = target or own_target(analysis, name)
    return types.CallHierarchyItem(
        name=name, kind=SYMBOL_KIND.get(local.kind, types.SymbolKind.Function), uri=analysis.uri,
        range=node_range(analysis, unit) if unit is not None else selection, selection_range=selection,
        detail=local.signature or target.module or local.kind, data=target_data(target))


def item_from_index(symbol: Symbol, target: Target) -> types.CallHierarchyItem | None:
    """An item from the index's row alone (where its source says it is): no file is read for it."""
    if not symbol.source_path or symbol.source_line is None or not os.path.isfile(symbol.source_path):
        return None
    start = types.Position(line=symbol.source_line, character=symbol.source_character or 0)
    selection = types.Range(start=start, end=types.Position(line=start.line, character=start.character + len(symbol.name)))
    return types.CallHierarchyItem(
        name=target.name, kind=SYMBOL_KIND.get(symbol.kind, types.SymbolKind.Function),
        uri=Path(symbol.source_path).resolve().as_uri(), range=selection, selection_range=selection,
        detail=symbol.signatures[0] if symbol.signatures else target.module, data=target_data(target))


def caller_item(analysis: Analysis, name: str | None) -> types.CallHierarchyItem:
    """Who makes a call: a procedure, a value's definition (``(def table (make price-of))``), or the file."""
    if name is not None:
        item = item_for(analysis, name)
        if item is not None:
            return item
        local = analysis.definitions[name]
        return types.CallHierarchyItem(
            name=name, kind=SYMBOL_KIND.get(local.kind, types.SymbolKind.Variable), uri=analysis.uri,
            range=definition_range(local), selection_range=definition_range(local), detail=local.kind)
    forms = analysis.result.forms
    start = types.Position(line=0, character=0)
    end = node_range(analysis, forms[-1]).end if forms else start
    return types.CallHierarchyItem(
        name=os.path.basename(analysis.path) if analysis.path else analysis.uri, kind=types.SymbolKind.File,
        uri=analysis.uri, range=types.Range(start=start, end=end), selection_range=types.Range(start=start, end=start),
        detail=module_of(analysis))


def defining_file(server, analysis: Analysis, target: Target) -> Analysis | None:
    """The analysis of the file that defines ``target``: this one, or the module's file (open or on disk)."""
    if defines(analysis, target):
        return analysis
    if target.scope != MODULE or not target.module:
        return None
    path = analysis.index.module_path(target.module)
    if not path or not os.path.isfile(path):
        return None
    return analysis_of(server, Path(path).resolve().as_uri())


def incoming(analysis: Analysis, nodes: list[Node], declared: int | None) -> list[types.CallHierarchyIncomingCall]:
    """The calls in one file, by the top-level definition each is in (the definition's own name left out)."""
    units = [unit for unit in top_units(analysis) if unit.head not in NOT_CALLS]
    starts = [unit.start for unit in units]
    definitions = [(offset, name) for offset, name in analysis.definition_starts
                   if analysis.definitions[name].generated_by in (None, name)]
    by_caller: dict[str | None, list[Node]] = {}
    for node in nodes:
        i = bisect_right(starts, node.start) - 1
        if node.start == declared or i < 0 or node.start >= units[i].end:
            continue
        unit = units[i]
        first = bisect_right(definitions, (unit.start, ""))
        caller = definitions[first][1] if first < len(definitions) and definitions[first][0] < unit.end else None
        by_caller.setdefault(caller, []).append(node)
    return [types.CallHierarchyIncomingCall(from_=caller_item(analysis, caller),
                                            from_ranges=[node_range(analysis, n) for n in calls])
            for caller, calls in by_caller.items()]


def outgoing(server, analysis: Analysis, name: str) -> list[types.CallHierarchyOutgoingCall]:
    """What the top-level definition ``name`` calls, by callee, in the order first called."""
    own = name_start(analysis, name)
    unit = unit_at(analysis, own)
    if unit is None:
        return []
    local = locally_bound(analysis, unit)
    sites: dict[tuple, list[Node]] = {}
    items: dict[tuple, types.CallHierarchyItem | None] = {}
    for node in symbols_named(unit, None):
        if node.value in local or "#" in node.value or node.start == own:
            continue
        key = callee(server, analysis, node.value, items)
        if key is not None:
            sites.setdefault(key, []).append(node)
    return [types.CallHierarchyOutgoingCall(to=items[key], from_ranges=[node_range(analysis, n) for n in nodes])
            for key, nodes in sorted(sites.items(), key=lambda pair: pair[1][0].start)]


def callee(server, analysis: Analysis, name: str, items: dict) -> tuple | None:
    """The key of what a use of ``name`` calls (its item put in ``items``), None when it is no call we can show."""
    if name in analysis.top_level:
        key = (analysis.uri, name)
        if key not in items:
            items[key] = item_for(analysis, name)
    else:
        symbol = analysis.resolve(name)
        if symbol is None or symbol.kind not in CALLABLE:
            return None
        home = home_of(symbol)
        key = (home, symbol.name)
        if key not in items:
            target = Target(symbol.name, MODULE, analysis.uri, module=home)
            items[key] = None if is_language(server, symbol, home) else item_from_index(symbol, target)
    return key if items[key] is not None else None


def register(server) -> None:
    @server.feature(types.TEXT_DOCUMENT_PREPARE_CALL_HIERARCHY)
    async def prepare(params: types.CallHierarchyPrepareParams) -> list[types.CallHierarchyItem] | None:
        # a file's module (and so whom its definitions are searched in) is known once the scan has it:
        # an agent asks right after opening the file, while the first scan may still run
        await server.workspace_modules.settled()
        found = under_cursor(server, params.text_document.uri, params.position)
        if found is None or found[2] is None or found[2].scope == LOCAL:
            return None
        analysis, node, target = found
        if target.scope == MODULE and node.value not in analysis.top_level:
            symbol = analysis.resolve(node.value)
            if symbol is None or symbol.kind not in CALLABLE or is_language(server, symbol, target.module):
                return None
        where = defining_file(server, analysis, target)
        if where is not None:
            item = item_for(where, target.name, target)
        else:  # a library the index has no module file for, but a row with its source
            symbol = analysis.index.get(target.module, target.name) if target.module else None
            item = item_from_index(symbol, target) if symbol is not None and symbol.kind in CALLABLE else None
        return [item] if item is not None else None

    @server.feature(types.CALL_HIERARCHY_INCOMING_CALLS)
    async def incoming_calls(params: types.CallHierarchyIncomingCallsParams) -> list[types.CallHierarchyIncomingCall]:
        target = target_of(params.item)
        analysis = analysis_of(server, params.item.uri) if target is not None else None
        if analysis is None:
            return []
        calls: list[types.CallHierarchyIncomingCall] = []
        for uses in await all_uses(server, analysis, target):
            calls.extend(incoming(uses.analysis, uses.nodes, declaration_start(uses, target)))
        return calls[:MAX_LISTED]

    @server.feature(types.CALL_HIERARCHY_OUTGOING_CALLS)
    def outgoing_calls(params: types.CallHierarchyOutgoingCallsParams) -> list[types.CallHierarchyOutgoingCall]:
        analysis = analysis_of(server, params.item.uri)
        if analysis is None or params.item.name not in analysis.definitions:
            return []
        return outgoing(server, analysis, params.item.name)
