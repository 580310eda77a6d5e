"""``textDocument/inlineCompletion`` and ``gerbil-lsp.completionAccepted`` through a real server process.

pytest-lsp starts the language server over stdio (``gerbil-lsp serve`` once the
application module exists, else the harness that mounts the same feature
modules); the model is the loopback Ollama fake driven by the server's real
``ollama`` client, or real SmolLM2 weights in the embedded llama.cpp backend.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.fakes.ollama_fake import OllamaFake
from tests.real_weights import smollm2_gguf

ROOT = Path(__file__).resolve().parents[2]
if importlib.util.find_spec("gerbil_lsp.server.app") is not None:
    SERVER = [sys.executable, "-m", "gerbil_lsp", "serve"]
else:
    SERVER = [sys.executable, "-m", "tests.server.inline_harness"]

TEXT = "(import :std/iter)\n\n(def (square x)\n  (* x ))\n"
CURSOR = types.Position(line=3, character=7)


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


async def start(client: LanguageClient, tmp_path: Path, model: dict, completion: dict | None = None) -> str:
    result = await client.initialize_session(types.InitializeParams(
        capabilities=types.ClientCapabilities(),
        root_uri=tmp_path.as_uri(),
        initialization_options={"model": model, "completion": {"debounce_ms": 0, **(completion or {})}},
    ))
    assert result.capabilities.inline_completion_provider is not None
    assert "gerbil-lsp.completionAccepted" in result.capabilities.execute_command_provider.commands
    uri = (tmp_path / "main.ss").as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="gerbil", version=1, text=TEXT)))
    return uri


def inline_params(uri: str, position: types.Position = CURSOR) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
        text_document=types.TextDocumentIdentifier(uri=uri), position=position)


async def test_ghost_text_from_ollama_with_the_accept_command(client: LanguageClient, tmp_path):
    with OllamaFake() as fake:
        fake.responder = lambda body: "x))\n\n(def (cube x) (* x x x))\n"
        uri = await start(client, tmp_path, {"backend": "ollama", "model": "qwen2.5-coder:7b", "base_url": fake.url})
        result = await client.text_document_inline_completion_async(inline_params(uri))
        assert fake.ledger.requests[-1]["raw"] is True
    assert [item.insert_text for item in result.items] == ["x"]
    command = result.items[0].command
    assert command.command == "gerbil-lsp.completionAccepted"
    accepted = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command=command.command, arguments=command.arguments))
    assert accepted == {"accepted": [command.arguments[0]["id"]]}
    again = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command=command.command, arguments=command.arguments))
    assert again == {"accepted": []}


async def test_backend_down_one_message_and_empty_answers(client: LanguageClient, tmp_path):
    fake = OllamaFake()
    url = fake.url
    fake.server_close()  # nothing listens there now
    uri = await start(client, tmp_path, {"backend": "ollama", "model": "qwen2.5-coder:7b", "base_url": url})
    for _ in range(5):
        result = await client.text_document_inline_completion_async(inline_params(uri))
        assert not result.items
    messages = [m for m in client.messages if "model" in m.message]
    assert len(messages) == 1 and messages[0].type == types.MessageType.Warning


async def test_unknown_document_and_out_of_range_positions(client: LanguageClient, tmp_path):
    with OllamaFake() as fake:
        uri = await start(client, tmp_path, {"backend": "ollama", "model": "qwen2.5-coder:7b", "base_url": fake.url})
        unknown = await client.text_document_inline_completion_async(inline_params(uri + "-never-opened"))
        far = await client.text_document_inline_completion_async(
            inline_params(uri, types.Position(line=999, character=999)))
    assert unknown is None or not unknown.items
    assert far is not None  # clamped to the end of the document, answered


async def test_no_model_configured_answers_nothing(client: LanguageClient, tmp_path):
    result = await client.initialize_session(types.InitializeParams(
        capabilities=types.ClientCapabilities(), root_uri=tmp_path.as_uri()))
    assert result.capabilities.inline_completion_provider is not None
    uri = (tmp_path / "main.ss").as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="gerbil", version=1, text=TEXT)))
    answer = await client.text_document_inline_completion_async(inline_params(uri))
    assert answer is None or not answer.items


GREETING = '(def (greet name)\n  (displayln "Hello, "))\n'
IN_STRING = types.Position(line=1, character=21)  # just after the space in "Hello, "


@pytest.mark.slow
async def test_embedded_gguf_completion_through_the_server(client: LanguageClient, tmp_path):
    """Real weights in the server process. SmolLM2 is no Gerbil coder, so the cursor is in a
    string, where any words it writes survive post-processing (cut before its closing quote)."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python (the [local] extra) is not installed")
    gguf = smollm2_gguf()
    uri = await start(client, tmp_path, {"backend": "llamacpp", "model": str(gguf), "max_tokens": 12,
                                         "num_ctx": 2048, "temperature": 0.0},
                      {"budget_ms": 120_000, "repo_context_tokens": 0})
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=GREETING)]))
    result = await client.text_document_inline_completion_async(inline_params(uri, IN_STRING))
    assert result.items, "the embedded model produced nothing that survived post-processing"
    text = result.items[0].insert_text
    assert text.strip() and '"' not in text
    assert result.items[0].command.command == "gerbil-lsp.completionAccepted"
