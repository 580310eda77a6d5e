"""initialize, document sync, workspace folders and files changing, and workspace/didChangeConfiguration.

Settings come from the settings model with the editor's initializationOptions
on top; a configuration change re-reads them and re-tunes the model in place.
"""

from __future__ import annotations

import logging

from lsprotocol import types

from gerbil_lsp.server.app import named_roots, root_of, uri_to_path
from gerbil_lsp.server.features.diagnostics import schedule

log = logging.getLogger(__name__)


def register(server) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(params: types.InitializeParams) -> None:
        server.configure(root_of(params), params.initialization_options or None)
        _start_model(server)
        for callback in server.on_initialized:
            callback(server)
        server.workspace_modules.start(named_roots(params))
        watched = params.capabilities.workspace and params.capabilities.workspace.did_change_watched_files
        server.watch_files = bool(watched and watched.dynamic_registration)

    @server.feature(types.INITIALIZED)
    async def initialized(params: types.InitializedParams) -> None:
        """Ask the editor to report .ss files changed on disk (a checkout, a generator), where it can."""
        if not server.watch_files:
            return
        try:
            await server.client_register_capability_async(types.RegistrationParams(registrations=[
                types.Registration(id="gerbil-lsp-watch-ss", method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                                   register_options=types.DidChangeWatchedFilesRegistrationOptions(
                                       watchers=[types.FileSystemWatcher(glob_pattern="**/*.ss")]))]))
        except Exception as exc:  # then saves and closes in the editor still keep the index current
            log.info("the editor will not report files changed on disk: %s", exc)

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def did_change_workspace_folders(params: types.DidChangeWorkspaceFoldersParams) -> None:
        """Folders added to the workspace are scanned; the modules of folders removed are forgotten."""
        def paths(folders) -> list[str]:
            return [path for folder in folders or [] if (path := uri_to_path(folder.uri))]

        server.workspace_modules.folders_changed(paths(params.event.added), paths(params.event.removed))

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(params: types.DidChangeWatchedFilesParams) -> None:
        server.workspace_modules.files_changed(params.changes)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(params: types.DidChangeConfigurationParams) -> None:
        changes = params.settings
        if isinstance(changes, dict) and isinstance(changes.get("gerbil-lsp"), dict):
            changes = changes["gerbil-lsp"]
        server.reload_settings(changes if isinstance(changes, dict) else None)
        if server.model is not None:
            await server.model.apply_settings(server.settings.settings)
        else:
            _start_model(server)
        for document in list(server.workspace.text_documents.values()):  # keyed by the decoded URI
            server.forget(document.uri)
            schedule(server, document.uri, delay_ms=0)

    @server.feature(types.SHUTDOWN)
    async def shutdown(params: None) -> None:
        if server.model is not None:
            await server.model.aclose()

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: types.DidCloseTextDocumentParams) -> None:
        server.forget(params.text_document.uri)
        server.notify_listeners("on_did_close", params.text_document.uri)
        server.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[])
        )


def _start_model(server) -> None:
    """Build the model completer when a model is configured (never fatal: index features still work)."""
    try:
        from gerbil_lsp.server.completion import ModelCompleter
    except ImportError:
        return
    try:
        server.model = ModelCompleter.from_settings(
            server.settings.settings, index=server.index, workspace_root=server.workspace_root
        )
    except Exception as exc:
        server.show(f"gerbil-lsp: model completions are off: {exc}", types.MessageType.Warning)
        server.model = None
