"""The language server as the tests' client sees it: a real `gerbil-lsp serve` process over stdio (pytest-lsp)."""

from __future__ import annotations

import sys

import pytest_lsp
from pytest_lsp import ClientServerConfig, LanguageClient


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "gerbil_lsp", "serve"]))
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()
