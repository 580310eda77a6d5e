"""``textDocument/inlineCompletion`` (LSP 3.18): the model's ghost text.

Advertised with ``InlineCompletionOptions``. The work is the completer's
(``server.model``, None when no model is configured); this module only turns
the request into a call, wires the completer to the server (messages, index,
workspace root) and tells it which other documents are open, for context.
"""

from __future__ import annotations

import logging
from typing import Any

from lsprotocol import types

from gerbil_lsp.server.documents import open_document

log = logging.getLogger(__name__)


def attach(completer: Any, server: Any) -> None:
    """Give the completer what it needs from the server (once; cheap to repeat)."""
    if completer.notify is None:
        completer.notify = lambda message, kind: server.window_show_message(
            types.ShowMessageParams(type=kind, message=message)
        )
    if completer.index is None and getattr(server, "index", None) is not None:
        completer.index = server.index
    if completer.workspace_root is None:
        completer.workspace_root = getattr(server.workspace, "root_path", None)


def note_open_documents(completer: Any, server: Any, current: str) -> None:
    for document in server.workspace.text_documents.values():
        if document.uri != current:
            completer.recent.seen(document.uri, document.source, document.version)


def register(server: Any) -> None:
    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(params: types.InlineCompletionParams) -> types.InlineCompletionList | None:
        completer = getattr(server, "model", None)
        if completer is None:
            return None
        document = open_document(server, params.text_document.uri)
        if document is None:
            return None
        attach(completer, server)
        note_open_documents(completer, server, document.uri)
        items = await completer.inline_completions(document, params.position, params.context)
        return types.InlineCompletionList(items=items)
