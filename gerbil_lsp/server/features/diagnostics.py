"""textDocument/publishDiagnostics, debounced on change.

Reader errors, unbound identifiers (with the modules that export them), wrong
arity for known procedures, and names the docs show but the source no longer
exports. Errors use Error severity because OpenCode forwards only errors to
its model.
"""

from __future__ import annotations

import asyncio

from lsprotocol import types

from gerbil_lsp.core import collector
from gerbil_lsp.server import heap
from gerbil_lsp.server.features.positions import range_of

_pending: dict[str, asyncio.Task] = {}

_SEVERITY = {"error": types.DiagnosticSeverity.Error, "warning": types.DiagnosticSeverity.Warning}


def diagnostics_for(server, uri: str) -> list[types.Diagnostic]:
    analysis = server.analysis(uri)
    if analysis is None:
        return []
    options = server.settings.settings.diagnostics
    wanted = {"unbound": options.unbound, "arity": options.arity, "doc-drift": options.drift}
    out = []
    for problem in analysis.problems:
        if not wanted.get(problem.code, True):
            continue
        data = None
        if problem.modules or problem.instead:  # for the quick fixes: an import, or a name to write instead
            data = {"name": problem.name, "modules": list(problem.modules),
                    "instead": [list(pair) for pair in problem.instead]}
        out.append(types.Diagnostic(
            range=range_of(analysis, problem.start, problem.end),
            message=problem.message,
            severity=_SEVERITY[problem.severity],
            code=problem.code,
            source="gerbil-lsp",
            data=data,
        ))
    return out


def publish(server, uri: str) -> None:
    """Analyse (if the text changed) and send, with the collector off until the message is written.

    Reading a file builds a tree whose nodes all survive, and the collector's
    next young pass walks each of them (some 10 ms for 5,000 lines). Off, that
    pass comes after the editor has its diagnostics instead of before.
    """
    if server.document(uri) is None:
        return
    with collector.paused():
        server.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics_for(server, uri))
        )
    heap.reclaim_if_due()  # now that the editor has them


def schedule(server, uri: str, delay_ms: int | None = None) -> None:
    """Publish after the debounce; a newer change replaces the pending run."""
    delay = server.settings.settings.diagnostics.debounce_ms if delay_ms is None else delay_ms
    previous = _pending.pop(uri, None)
    if previous is not None:
        previous.cancel()

    async def later() -> None:
        if delay:
            await asyncio.sleep(delay / 1000)
        _pending.pop(uri, None)
        publish(server, uri)

    _pending[uri] = asyncio.get_running_loop().create_task(later())


def register(server) -> None:
    # Plain functions, not coroutines: pygls runs a coroutine handler as a task, later, so a
    # request read in the same batch (an item's accept command after the didChange that
    # inserted it) would reach the listeners before the change did. These run in order.
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: types.DidOpenTextDocumentParams) -> None:
        doc = params.text_document
        server.notify_listeners("on_did_open", doc.uri, doc.text, doc.version)
        schedule(server, doc.uri, delay_ms=0)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: types.DidChangeTextDocumentParams) -> None:
        doc = params.text_document
        server.notify_listeners("on_did_change", doc.uri, list(params.content_changes), doc.version)
        schedule(server, doc.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(params: types.DidSaveTextDocumentParams) -> None:
        uri = params.text_document.uri
        document = server.document(uri)
        server.notify_listeners("on_did_save", uri, params.text or (document.source if document else None))
        schedule(server, uri, delay_ms=0)
