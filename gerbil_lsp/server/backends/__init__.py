"""Model backends behind one small interface; pick one by a spec string or by settings.

Spec forms (what ``eval``, ``deploy`` and ``--model`` flags take):

=============================  ===============================================
``ollama:MODEL[@URL]``         Ollama's ``/api/generate`` (raw FIM prompt)
``openai:URL#MODEL``           any OpenAI-compatible ``/v1/completions``
``openai-chat:URL#MODEL``      chat-only endpoints (``/v1/chat/completions``)
``together:MODEL``             Together AI through its SDK
``gguf:PATH[+ADAPTER.gguf]``   embedded llama-cpp-python, optional GGUF LoRA
``hf:DIR[+ADAPTER_DIR]``       a local transformers dir, optional PEFT adapter
=============================  ===============================================

Keys come from ``model.api_key_name`` through :mod:`gerbil_lsp.core.secrets`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gerbil_lsp.core import secrets
from gerbil_lsp.core.settings import LoadedSettings, ModelSettings, Settings
from gerbil_lsp.server.backends.base import Backend, BackendError, BackendUnavailable, Completion

__all__ = [
    "Backend",
    "BackendError",
    "BackendUnavailable",
    "Completion",
    "SpecError",
    "backend_from_settings",
    "backend_from_spec",
]

SPEC_FORMS = (
    "ollama:MODEL[@URL], openai:URL#MODEL, openai-chat:URL#MODEL, together:MODEL, "
    "gguf:PATH[+ADAPTER.gguf], hf:DIR[+ADAPTER_DIR]"
)


class SpecError(ValueError):
    """A backend spec that does not parse; the message lists the forms that do."""


def _model_settings(settings: Any) -> ModelSettings:
    if settings is None:
        return ModelSettings()
    if isinstance(settings, LoadedSettings):
        return settings.settings.model
    if isinstance(settings, Settings):
        return settings.model
    if isinstance(settings, ModelSettings):
        return settings
    raise TypeError(f"expected settings, got {type(settings).__name__}")


def _key(model: ModelSettings, default_name: str | None = None) -> str | None:
    name = model.api_key_name or default_name
    return secrets.get_secret(name) if name else None


def _split_ollama(rest: str) -> tuple[str, str]:
    model, at, url = rest.rpartition("@")
    if at and url.startswith(("http://", "https://")):
        return model, url
    return rest, ""


def _split_plus(rest: str, is_base) -> tuple[str, str | None]:
    """``A+B`` -> (A, B) when A names a base (paths may contain '+' themselves)."""
    base, plus, adapter = rest.rpartition("+")
    if plus and adapter and is_base(base):
        return base, adapter
    return rest, None


def backend_from_spec(spec: str, settings: Any = None) -> Backend:
    """The backend a spec string names, with defaults (timeouts, num_ctx, key) from settings."""
    model = _model_settings(settings)
    kind, colon, rest = spec.partition(":")
    if not colon or not rest:
        raise SpecError(f"bad model spec {spec!r}: expected one of {SPEC_FORMS}")
    if kind == "ollama":
        from gerbil_lsp.server.backends.ollama import OllamaBackend

        name, url = _split_ollama(rest)
        return OllamaBackend(name, url or model.base_url, num_ctx=model.num_ctx, keep_alive=model.keep_alive,
                             timeout_s=model.timeout_s, api_key=_key(model))
    if kind in ("openai", "openai-chat"):
        from gerbil_lsp.server.backends.openai_compatible import OpenAICompatibleBackend

        url, hash_, name = rest.rpartition("#")
        if not hash_ or not url or not name:
            raise SpecError(f"bad model spec {spec!r}: expected {kind}:URL#MODEL")
        return OpenAICompatibleBackend(url, name, api_key=_key(model), chat_only=kind == "openai-chat",
                                       timeout_s=model.timeout_s)
    if kind == "together":
        from gerbil_lsp.server.backends.together import TogetherBackend

        return TogetherBackend(rest, key_name=model.api_key_name or "together", base_url=model.base_url or None,
                               chat_only=model.chat_only, timeout_s=model.timeout_s)
    if kind == "gguf":
        from gerbil_lsp.server.backends.llamacpp import LlamaCppBackend

        path, adapter = _split_plus(rest, lambda base: base.endswith(".gguf"))
        return LlamaCppBackend(path, adapter_path=adapter, num_ctx=model.num_ctx)
    if kind == "hf":
        from gerbil_lsp.server.backends.hf import HFBackend

        path, adapter = _split_plus(rest, lambda base: Path(base).expanduser().is_dir())
        return HFBackend(path, adapter_dir=adapter)
    raise SpecError(f"unknown backend {kind!r} in {spec!r}: expected one of {SPEC_FORMS}")


def backend_from_settings(settings: Any) -> Backend | None:
    """The backend ``[model]`` settings describe; None when ``model.backend = "none"``."""
    spec = spec_from_settings(settings)
    return None if spec is None else backend_from_spec(spec, _model_settings(settings))


def spec_from_settings(settings: Any) -> str | None:
    """The spec string of the model ``[model]`` settings serve (what `eval run --model` takes); None for none."""
    model = _model_settings(settings)
    if model.backend == "none":
        return None
    if not model.model:
        raise SpecError(f"model.backend is {model.backend!r} but model.model is empty: set the model name")
    if model.backend == "ollama":
        spec = f"ollama:{model.model}" + (f"@{model.base_url}" if model.base_url else "")
    elif model.backend == "openai":
        if not model.base_url:
            raise SpecError("model.backend is 'openai' but model.base_url is empty: set the endpoint's /v1 URL")
        spec = f"{'openai-chat' if model.chat_only else 'openai'}:{model.base_url}#{model.model}"
    elif model.backend == "together":
        spec = f"together:{model.model}"
    elif model.backend == "llamacpp":
        spec = f"gguf:{model.model}" + (f"+{model.adapter}" if model.adapter else "")
    else:  # pragma: no cover - the settings model forbids other values
        raise SpecError(f"unknown model.backend {model.backend!r}")
    return spec
