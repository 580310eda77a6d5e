"""Accepted completions harvested through the real `gerbil-lsp serve` (pytest-lsp, command path).

The model is the loopback Ollama fake (its documented /api/generate), driven by
the server's real `ollama` client. The workspace opts in with its project file;
the accepted and kept completion must land in the harvest store as a FIM entry.
"""

from __future__ import annotations

import os
import sys
import time

import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from gerbil_lsp.harvest.store import HarvestStore
from tests.fakes.ollama_fake import OllamaFake

TEXT = "(def (square x)\n  (* x ))\n"


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "gerbil_lsp", "serve"]))
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


async def test_accepted_and_kept_completion_becomes_a_fim_entry(client: LanguageClient, tmp_path):
    (tmp_path / ".gerbil-lsp.toml").write_text("[harvest]\nenabled = true\nsettle_seconds = 0.2\n")
    path = tmp_path / "square.ss"
    path.write_text(TEXT)
    with OllamaFake() as fake:
        fake.responder = lambda body: "x))\n"
        await client.initialize_session(types.InitializeParams(
            capabilities=types.ClientCapabilities(), root_uri=tmp_path.as_uri(),
            initialization_options={"model": {"backend": "ollama", "model": "qwen2.5-coder:7b", "base_url": fake.url},
                                    "completion": {"debounce_ms": 0}}))
        uri = path.as_uri()
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="gerbil", version=1, text=TEXT)))
        result = await client.text_document_inline_completion_async(types.InlineCompletionParams(
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=1, character=7)))
    item = result.items[0]
    assert item.insert_text == "x"
    final = "(def (square x)\n  (* x x))\n"
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangePartial(
            range=types.Range(start=types.Position(line=1, character=7), end=types.Position(line=1, character=7)),
            text="x")]))
    await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command=item.command.command, arguments=item.command.arguments))
    path.write_text(final)
    client.text_document_did_save(types.DidSaveTextDocumentParams(
        text_document=types.TextDocumentIdentifier(uri=uri), text=final))

    store_path = os.path.join(os.environ["GERBIL_LSP_HOME"], "data", "harvest.sqlite")
    deadline = time.monotonic() + 20
    entries = []
    while time.monotonic() < deadline:
        if os.path.exists(store_path):
            with HarvestStore(store_path) as store:
                entries = store.entries(kind="fim")
            if entries:
                break
        await __import__("asyncio").sleep(0.2)
    assert entries, "the accepted completion never reached the harvest store"
    payload = entries[0].payload
    assert entries[0].status == "pending" and entries[0].file == str(path)
    assert "x" in str(payload)
