"""textDocument/completion: names in scope from the index, then the model's suggestions.

Locals and this file's definitions first, then the exports of the file's
imports and the prelude, then (for prefixes of 2+ characters) names from
modules the file does not import yet, which add the import when chosen. Model
items come last and only within the completion budget: the model never delays
or hides the index items.

A client that resolves documentation lazily (``resolveSupport`` naming it, as
VS Code and nvim-cmp do) gets items without it, and asks
``completionItem/resolve`` for the one it shows: a list of 200 items is half the
bytes, and a third of the time to write, without their Markdown.
"""

from __future__ import annotations

import asyncio
import logging

from lsprotocol import types

from gerbil_lsp.core.index import Symbol
from gerbil_lsp.server.analysis import _bound_names
from gerbil_lsp.server.features.imports import add_import_edit
from gerbil_lsp.server.features.markup import completion_formats, for_client
from gerbil_lsp.server.features.positions import offset_of, word_before

log = logging.getLogger(__name__)
MAX_ITEMS = 200

_KIND = {
    "procedure": types.CompletionItemKind.Function,
    "macro": types.CompletionItemKind.Keyword,
    "syntax": types.CompletionItemKind.Keyword,
    "struct": types.CompletionItemKind.Struct,
    "class": types.CompletionItemKind.Class,
    "error-class": types.CompletionItemKind.Class,
    "method": types.CompletionItemKind.Method,
    "value": types.CompletionItemKind.Variable,
    "parameter": types.CompletionItemKind.Variable,
}


def documentation(symbol: Symbol) -> types.MarkupContent | None:
    doc = symbol.summary or ""
    if symbol.doc_url:
        doc = f"{doc}\n\n[Documentation]({symbol.doc_url})".strip()
    return types.MarkupContent(kind=types.MarkupKind.Markdown, value=doc) if doc else None


def _item(symbol: Symbol, name: str, rank: str, edit=None, lazy: bool = False) -> types.CompletionItem:
    where = symbol.module or "prelude"
    detail = symbol.signatures[0] if symbol.signatures else symbol.kind
    return types.CompletionItem(
        label=name,
        kind=_KIND.get(symbol.kind, types.CompletionItemKind.Text),
        detail=f"{detail}  [{where}]" if edit is None else f"{detail}  [adds (import {where})]",
        label_details=types.CompletionItemLabelDetails(description=where),
        documentation=None if lazy else documentation(symbol),
        sort_text=f"{rank}{name}",
        additional_text_edits=[edit] if edit is not None else None,
        data={"module": symbol.module, "name": symbol.name} if lazy else None,
    )


def resolves_documentation(capabilities: types.ClientCapabilities) -> bool:
    """Whether the client asks ``completionItem/resolve`` for an item's documentation."""
    completion = capabilities.text_document.completion if capabilities.text_document else None
    item = completion.completion_item if completion else None
    support = item.resolve_support if item else None
    return support is not None and "documentation" in support.properties


def index_items(analysis, offset: int, lazy: bool = False) -> tuple[list[types.CompletionItem], bool]:
    """Completion items from the reader and the index; (items, truncated). ``lazy``: documentation on resolve."""
    _, prefix = word_before(analysis.result.text, offset)
    items: list[types.CompletionItem] = []
    seen: set[str] = set()

    enclosing = analysis.result.node_at(max(offset - 1, 0))
    locals_here = _bound_names(enclosing[0]) if enclosing else set()
    for name in sorted(locals_here):
        if name.startswith(prefix) and name != prefix and name not in seen:
            seen.add(name)
            items.append(types.CompletionItem(label=name, kind=types.CompletionItemKind.Variable,
                                              detail="local", sort_text=f"0{name}"))
    for name, local in sorted(analysis.definitions.items()):
        if name.startswith(prefix) and name not in seen:
            seen.add(name)
            items.append(types.CompletionItem(label=name, kind=types.CompletionItemKind.Function,
                                              detail=local.signature or local.kind, sort_text=f"1{name}"))
    visible = analysis.visible
    for name in visible.starting(prefix):
        if len(items) > MAX_ITEMS:
            break  # one past the last shown: the list is incomplete
        if name not in seen:
            seen.add(name)
            symbol = visible[name]
            items.append(_item(symbol, name, "2" if symbol.module else "3", lazy=lazy))
    if len(prefix) >= 2:
        for name in analysis.index.names_starting(prefix):
            if len(items) > MAX_ITEMS:
                break  # one past the last shown: the list is incomplete
            if name in seen:
                continue
            modules = analysis.index.modules_exporting(name)
            if not modules:
                continue
            symbol = analysis.index.get(modules[0], name)
            if symbol is None:
                continue
            seen.add(name)
            items.append(_item(symbol, name, "4", add_import_edit(analysis, modules[0]), lazy=lazy))
    truncated = len(items) > MAX_ITEMS
    return items[:MAX_ITEMS], truncated


def register(server) -> None:
    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION,
        types.CompletionOptions(trigger_characters=["(", ":", "/"], resolve_provider=True),
    )
    async def completion(params: types.CompletionParams) -> types.CompletionList | None:
        analysis = server.analysis(params.text_document.uri)
        if analysis is None:
            return None
        lazy = resolves_documentation(server.client_capabilities)
        items, truncated = index_items(analysis, offset_of(analysis, params.position), lazy)
        items.extend(await _model_items(server, params))
        for_client(items, completion_formats(server.client_capabilities))
        return types.CompletionList(is_incomplete=truncated or server.model is not None, items=items)

    @server.feature(types.COMPLETION_ITEM_RESOLVE)
    def resolve(item: types.CompletionItem) -> types.CompletionItem:
        """The documentation left out of the list; any other item comes back as it was."""
        data = item.data if isinstance(item.data, dict) else {}
        name = data.get("name")
        if item.documentation is None and isinstance(name, str) and server.index is not None:
            symbol = server.index.get(data.get("module"), name)
            if symbol is not None:
                item.documentation = documentation(symbol)
                for_client([item], completion_formats(server.client_capabilities))
        return item


async def _model_items(server, params: types.CompletionParams) -> list[types.CompletionItem]:
    settings = server.settings.settings.completion
    if server.model is None or not settings.model_items:
        return []
    document = server.document(params.text_document.uri)
    if document is None:
        return []
    try:
        return await asyncio.wait_for(server.model.completion_items(document, params.position),
                                      timeout=settings.budget_ms / 1000)
    except (TimeoutError, Exception) as exc:  # the index items must come back regardless
        log.info("model completion items skipped: %s", exc)
        return []
