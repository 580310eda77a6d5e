"""Backend spec strings and [model] settings pick the right backend, or say what is wrong."""

from __future__ import annotations

import pytest

from gerbil_lsp.core.settings import ModelSettings, Settings
from gerbil_lsp.server.backends import (
    Backend,
    BackendUnavailable,
    SpecError,
    backend_from_settings,
    backend_from_spec,
)
from gerbil_lsp.server.backends.ollama import OllamaBackend
from gerbil_lsp.server.backends.openai_compatible import OpenAICompatibleBackend
from gerbil_lsp.server.backends.together import TogetherBackend


def test_ollama_spec_with_and_without_url():
    backend = backend_from_spec("ollama:qwen2.5-coder:7b@http://gpu-box:11434")
    assert isinstance(backend, OllamaBackend) and isinstance(backend, Backend)
    assert backend.model == "qwen2.5-coder:7b" and backend.base_url == "http://gpu-box:11434"
    plain = backend_from_spec("ollama:gerbil-coder", ModelSettings(num_ctx=2048, keep_alive="1h"))
    assert plain.base_url == "http://127.0.0.1:11434" and plain.num_ctx == 2048 and plain.keep_alive == "1h"


def test_openai_specs():
    backend = backend_from_spec("openai:http://127.0.0.1:8000/v1#Qwen/Qwen2.5-Coder-7B")
    assert isinstance(backend, OpenAICompatibleBackend)
    assert backend.model == "Qwen/Qwen2.5-Coder-7B" and backend.where == "http://127.0.0.1:8000/v1"
    assert backend.fim is True and backend.name == "openai"
    chat = backend_from_spec("openai-chat:https://example.test/v1#m")
    assert chat.fim is False and chat.name == "openai-chat"
    with pytest.raises(SpecError, match="openai:URL#MODEL"):
        backend_from_spec("openai:http://127.0.0.1:8000/v1")


def test_together_spec_uses_the_key(monkeypatch):
    monkeypatch.setenv("TOGETHER_API_KEY", "tgp_v1_abcdefghijklmnopqrstuvwxyz")
    backend = backend_from_spec("together:Qwen/Qwen2.5-Coder-7B-Instruct")
    assert isinstance(backend, TogetherBackend) and backend.model == "Qwen/Qwen2.5-Coder-7B-Instruct"


@pytest.mark.parametrize("spec", ["", "ollama", "ollama:", "vllm:x", "nonsense"])
def test_bad_specs_list_the_forms(spec):
    with pytest.raises(SpecError, match="ollama:MODEL"):
        backend_from_spec(spec)


def test_gguf_and_hf_paths_must_exist(tmp_path):
    with pytest.raises(BackendUnavailable, match="GGUF model not found"):
        backend_from_spec(f"gguf:{tmp_path}/model.gguf")
    with pytest.raises(BackendUnavailable, match="not a transformers model"):
        backend_from_spec(f"hf:{tmp_path}")


def test_from_settings():
    assert backend_from_settings(Settings()) is None
    backend = backend_from_settings(ModelSettings(backend="ollama", model="gerbil-coder",
                                                  base_url="http://127.0.0.1:9999"))
    assert isinstance(backend, OllamaBackend) and backend.base_url == "http://127.0.0.1:9999"
    chat = backend_from_settings(ModelSettings(backend="openai", model="m", base_url="http://h/v1", chat_only=True))
    assert chat.fim is False
    with pytest.raises(SpecError, match="model.model is empty"):
        backend_from_settings(ModelSettings(backend="ollama"))
    with pytest.raises(SpecError, match="base_url"):
        backend_from_settings(ModelSettings(backend="openai", model="m"))
