"""textDocument/implementation: the ``defmethod`` forms that implement a method, across the workspace.

Gerbil calls a method as ``{area shape}``; each type implements it with
``(defmethod {area circle} ...)``, and an interface declares it as
``(definterface Shape (area))``. On the method's name in any of these places
the answer is every ``{area T}`` of a ``defmethod`` in the open documents and
the workspace's ``.ss`` files (read on a worker thread, as references are).
What a call dispatches to at run time depends on the object: all are listed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from lsprotocol import types

from gerbil_lsp.core.macros import top_forms
from gerbil_lsp.core.reader import LIST, SYMBOL, Node, read_source
from gerbil_lsp.server.features.positions import node_range, offset_of
from gerbil_lsp.server.occurrences import SearchedFile, spelled_in

DEFINERS = frozenset(("defmethod", "defmethod/alias"))
MAX_LISTED = 1_000


def called_method(node: Node) -> Node | None:
    """The method symbol of a ``{method obj ...}`` list (a call, or a ``defmethod``'s target), else None."""
    head = node.children[0] if node.delimiter == "{" and node.children else None
    return head if head is not None and head.kind is SYMBOL else None


def method_at(path: list[Node]) -> str | None:
    """The method named by the symbol at the end of ``path`` (root first), when it names one."""
    if len(path) < 2 or path[-1].kind is not SYMBOL:
        return None
    node, parent = path[-1], path[-2]
    if parent.kind is not LIST or not parent.children or parent.children[0] is not node:
        return None
    if called_method(parent) is node:  # {area shape}, and the {area circle} of a defmethod
        return node.value
    interface = path[-3] if len(path) > 2 else None
    if interface is not None and interface.head == "definterface" and any(parent is c for c in interface.children[2:]):
        return node.value  # (definterface Shape (area) ...): a method's declaration
    return None


def implementations(forms: Iterable[Node], name: str) -> Iterator[Node]:
    """The ``{name T}`` targets of the top-level ``defmethod`` forms among ``forms``."""
    for top in forms:
        for form in top_forms(top):
            if form.kind is not LIST or form.head not in DEFINERS or len(form.children) < 2:
                continue
            target = form.children[1]
            method = called_method(target)
            if method is not None and method.value == name:
                yield target


def on_disk(name: str, files: Iterable[SearchedFile]) -> list[types.Location]:
    """:func:`implementations` in files not open in the editor. Runs on a worker thread."""
    may_use = spelled_in(name)
    out = []
    for uri, text, _ in files:
        if "defmethod" not in text or not may_use(text):
            continue
        result = read_source(text)
        lines = result.lines
        for target in implementations(result.forms, name):
            start, end = lines.pos(target.start), lines.pos(target.end)
            out.append(types.Location(uri=uri, range=types.Range(
                start=types.Position(line=start.line, character=start.character),
                end=types.Position(line=end.line, character=end.character))))
    return out


async def method_implementations(server, analysis, position: types.Position) -> list[types.Location] | None:
    """The ``defmethod`` forms of the method named at ``position``; None when no method is named there."""
    offset = offset_of(analysis, position)
    name = next((found for probe in (offset, offset - 1) if probe >= 0
                 and (found := method_at(analysis.result.node_at(probe))) is not None), None)
    if name is None:
        return None
    found = await server.workspace_modules.search(lambda files: on_disk(name, files))
    # the open documents after the wait, on the event loop: their trees are only read here
    may_use = spelled_in(name)
    for uri in list(server.workspace.text_documents):
        opened = server.analysis(uri)
        if opened is not None and may_use(opened.result.text):
            found.extend(types.Location(uri=uri, range=node_range(opened, target))
                         for target in implementations(opened.result.forms, name))
    found.sort(key=lambda at: (at.uri, at.range.start.line, at.range.start.character))
    return found[:MAX_LISTED]


def register(server) -> None:
    @server.feature(types.TEXT_DOCUMENT_IMPLEMENTATION)
    async def implementation(params: types.ImplementationParams) -> list[types.Location] | None:
        analysis = server.analysis(params.text_document.uri)
        return await method_implementations(server, analysis, params.position) if analysis is not None else None
