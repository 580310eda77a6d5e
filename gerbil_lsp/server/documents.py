"""Finding an open document by the URI a request carries."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote


def open_document(server: Any, uri: str) -> Any | None:
    """The open document for ``uri``; None for documents the editor never opened.

    pygls keys open documents by the percent-decoded URI (``my%20dir`` is stored as ``my dir``)
    while requests carry the URI as the editor wrote it.
    """
    documents = server.workspace.text_documents
    return documents.get(uri) or documents.get(unquote(uri))
