"""The one place the language server object is created; features register on it.

`GerbilLanguageServer` holds what every feature shares: the effective settings,
the symbol index (with the workspace's own modules, kept current by
:class:`WorkspaceModules`), the per-version document analyses, and the model
completer (None when no model is configured: the index features work without one).
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from gerbil_lsp import __version__
from gerbil_lsp.core.index import SymbolIndex, load_index
from gerbil_lsp.core.settings import LoadedSettings, SettingsError, load_settings, validate
from gerbil_lsp.server.analysis import Analysis, analyze
from gerbil_lsp.server.documents import open_document
from gerbil_lsp.server.heap import built_out_of_sight
from gerbil_lsp.server.workspace import WorkspaceModules

log = logging.getLogger(__name__)


def uri_to_path(uri: str) -> str | None:
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme == "file" else None


class GerbilLanguageServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("gerbil-lsp", __version__)
        self.settings: LoadedSettings = validate([])  # defaults until initialize names the workspace
        self.index: SymbolIndex | None = None
        self.model = None  # a ModelCompleter when a model is configured
        self.workspace_root: str | None = None
        self.watch_files = False  # the editor reports .ss files changed on disk (dynamic registration)
        self._analyses: dict[str, Analysis] = {}
        # Other parts plug in here at start-up (the server imports none of them): objects with
        # on_did_open/on_did_change/on_did_save/on_did_close, and callbacks run after initialize.
        self.document_listeners: list = []
        self.on_initialized: list = []
        # the workspace's own modules, scanned into the index once initialize names the workspace
        self.workspace_modules = WorkspaceModules(self)
        self.document_listeners.append(self.workspace_modules)

    def notify_listeners(self, event: str, *args) -> None:
        for listener in self.document_listeners:
            try:
                getattr(listener, event)(*args)
            except Exception:  # a listener's failure must never break editing
                log.exception("document listener %s failed on %s", type(listener).__name__, event)

    # -- settings and index ------------------------------------------------------------
    def configure(self, root: str | None, init_options: dict | None) -> None:
        """Load settings for the workspace and the index they name. Bad settings: tell the user, keep defaults."""
        self.workspace_root = root
        self._init_options = init_options or {}
        try:
            self.settings = load_settings(root, self._init_options)
        except SettingsError as exc:
            self.show(str(exc), types.MessageType.Error)
        self._load_index()

    def _load_index(self) -> None:
        try:
            self.index = load_index(self.settings.settings.index.path)
        except Exception as exc:  # a broken index file must not take the server down
            self.show(f"gerbil-lsp: could not load the symbol index ({exc}); using the bundled one", types.MessageType.Warning)
            self.index = load_index(None)
        self._analyses.clear()
        self.workspace_modules.index_replaced()

    def reload_settings(self, changes: dict | None) -> None:
        if changes:
            self._init_options = {**getattr(self, "_init_options", {}), **changes}
        old_index_path = self.settings.settings.index.path
        try:
            self.settings = load_settings(self.workspace_root, getattr(self, "_init_options", {}))
        except SettingsError as exc:
            self.show(str(exc), types.MessageType.Error)
            return
        if self.settings.settings.index.path != old_index_path:
            self._load_index()

    def show(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        try:
            self.window_show_message(types.ShowMessageParams(type=kind, message=message))
        except Exception:  # before initialize there is no client to tell
            log.warning("%s", message)

    # -- documents ---------------------------------------------------------------------
    def document(self, uri: str):
        """The open document for ``uri``, or None (see :func:`documents.open_document`)."""
        return open_document(self, uri)

    def analysis(self, uri: str) -> Analysis | None:
        """The analysis of the open document's current version (cached per version)."""
        document = self.document(uri)
        if document is None or self.index is None:
            return None
        cached = self._analyses.get(uri)
        if (cached is not None and cached.version == document.version and cached.result.text == document.source
                and cached.current):  # (a new index clears them all: see _load_index)
            return cached
        with built_out_of_sight(len(document.source)):
            fresh = analyze(document.source, uri, self.index, document.version, uri_to_path(uri), previous=cached)
        self._analyses[uri] = fresh
        return fresh

    def forget(self, uri: str) -> None:
        self._analyses.pop(uri, None)


def create_server(extensions=()) -> GerbilLanguageServer:
    """A server with every feature registered; each extension is called with it (e.g. harvest)."""
    from gerbil_lsp.server.features import register_all

    server = GerbilLanguageServer()
    register_all(server)
    for extend in extensions:
        extend(server)
    return server


def named_root(params: types.InitializeParams) -> str | None:
    """The workspace the editor named, or None (single-file mode)."""
    if params.root_uri:
        return uri_to_path(params.root_uri)
    if params.workspace_folders:
        return uri_to_path(params.workspace_folders[0].uri)
    return params.root_path or None


def named_roots(params: types.InitializeParams) -> list[str]:
    """Every workspace folder the editor named (its workspaceFolders, else its root), or none."""
    if params.workspace_folders:
        return [path for folder in params.workspace_folders if (path := uri_to_path(folder.uri))]
    root = named_root(params)
    return [root] if root else []


def root_of(params: types.InitializeParams) -> str | None:
    """The workspace for settings: the one the editor named, else the folder the server runs in."""
    return named_root(params) or str(Path.cwd())
