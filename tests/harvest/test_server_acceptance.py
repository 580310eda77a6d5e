"""Accepted completions harvested through the real `gerbil-lsp serve` (pytest-lsp, command path).

The model is the loopback Ollama fake (its documented /api/generate), driven by
the server's real `ollama` client. The workspace opts in with its project file;
the accepted and kept completion must land in the harvest store as a FIM entry.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

import pytest
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


class _Held:
    """Stands in for the client's writer, keeping what it is given."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.parts.append(data)


@pytest.mark.parametrize("one_write", [False, True], ids=["messages-apart", "change-and-accept-in-one-write"])
async def test_accepted_and_kept_completion_becomes_a_fim_entry(client: LanguageClient, tmp_path, one_write):
    # In one write, the accept command and the didChange that inserted the completion reach the
    # server together: the harvest must still see the change first (it is what it accepts).
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
    held = _Held()
    real_writer = client.protocol.writer
    if one_write:  # the server reads both messages at once, as it does when busy
        client.protocol.set_writer(held)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangePartial(
            range=types.Range(start=types.Position(line=1, character=7), end=types.Position(line=1, character=7)),
            text="x")]))
    accepted = asyncio.ensure_future(client.workspace_execute_command_async(types.ExecuteCommandParams(
        command=item.command.command, arguments=item.command.arguments)))
    if one_write:
        while len(held.parts) < 2:
            await asyncio.sleep(0)  # the request is sent when its coroutine first runs
        client.protocol.set_writer(real_writer)
        real_writer.write(b"".join(held.parts))
    await accepted
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
        await asyncio.sleep(0.2)
    assert entries, "the accepted completion never reached the harvest store"
    payload = entries[0].payload
    assert entries[0].status == "pending" and entries[0].file == str(path)
    assert "x" in str(payload)
