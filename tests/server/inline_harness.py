"""A pygls server carrying only the model-completion features, until ``gerbil_lsp.server.app`` exists.

Run as ``python -m tests.server.inline_harness``. It registers the real
feature modules (``features.inline_completion``, ``features.commands``) on a
real pygls ``LanguageServer`` and builds ``server.model`` from the settings the
way the application does, so the tests speak LSP over stdio to the real code.
test_inline_completion.py uses the real ``gerbil-lsp serve`` whenever the
application module is present.
"""

from __future__ import annotations

import logging

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from gerbil_lsp.core.settings import load_settings
from gerbil_lsp.server.completion.completer import ModelCompleter
from gerbil_lsp.server.features import commands, inline_completion


class HarnessServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("gerbil-lsp-inline-harness", "0")
        self.settings = None
        self.index = None
        self.model: ModelCompleter | None = None


def build() -> HarnessServer:
    server = HarnessServer()

    @server.feature(types.INITIALIZE)
    def initialize(params: types.InitializeParams) -> None:
        root = params.root_uri[len("file://"):] if params.root_uri else None
        server.settings = load_settings(root, params.initialization_options or None)
        server.model = ModelCompleter.from_settings(server.settings)

    inline_completion.register(server)
    commands.register(server)
    return server


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    build().start_io()
