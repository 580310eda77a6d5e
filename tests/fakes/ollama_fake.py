"""A loopback fake of Ollama's HTTP API, following its documented behaviour (docs/api.md).

Reproduced, because our backend depends on each:

* ``POST /api/generate``: ``model`` required (unknown -> HTTP 404
  ``{"error": "model \\"x\\" not found, try pulling it first"}``); ``stream``
  defaults to true and streams NDJSON objects ``{model, created_at, response,
  done: false}``; the final object has ``done: true``, ``done_reason`` ("stop" or
  "length") and the timings ``total_duration``, ``load_duration``,
  ``prompt_eval_count``, ``prompt_eval_duration``, ``eval_count``,
  ``eval_duration`` (nanoseconds); ``raw: true`` means the prompt is used as
  given and no ``context`` is returned (without ``raw`` the model template
  would apply and ``context`` comes back); ``options.num_predict`` limits the
  tokens, ``options.stop`` cuts the text; an empty prompt just loads the model
  (``done_reason: "load"``). ``stream: false`` answers one object.
* ``POST /api/chat``: ``message: {role: "assistant", content}`` per chunk, same final record.
* ``GET /`` and ``HEAD /``: "Ollama is running" (HEAD without the body, as Go's
  net/http answers it); ``GET /api/version``.
* ``GET /api/tags``: ``{"models": [{name, model, modified_at, size, digest, details}]}``.
* ``POST /api/show``: ``details``, ``model_info`` (``<arch>.context_length``),
  ``capabilities`` (``insert`` = FIM); unknown model -> 404.

What the fake's model "generates" comes from a responder function (tests script
it); a fixed delay stands in for prompt evaluation. The ledger counts
generations started / completed / aborted (client hung up mid-stream).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from tests.fakes.loopback import (
    ClientGone,
    FakeHandler,
    LoopbackServer,
    Responder,
    apply_stop,
    default_responder,
    limit_tokens,
    tokens_of,
)

DEFAULT_MODELS = ("qwen2.5-coder:7b", "gerbil-coder:latest")


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _canonical(name: str) -> str:
    """Ollama's convention: a name without a tag means ``:latest``."""
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


class OllamaHandler(FakeHandler):
    server: OllamaFake

    def do_GET(self) -> None:
        if self.path == "/api/tags":
            self.server.ledger.record(self.path, {})
            self.send_json(200, {"models": [self.server.describe(m) for m in self.server.models]})
        elif self.path == "/api/version":
            self.send_json(200, {"version": "0.0.0-fake"})
        elif self.path == "/":
            self.send_body(200, "text/plain; charset=utf-8", b"Ollama is running")
        else:
            self.send_json(404, {"error": "404 page not found"})

    def do_POST(self) -> None:
        body = self.read_json()
        if body is None:
            return
        if self.server.fail_with is not None:
            status, payload = self.server.fail_with
            self.send_json(status, payload)
            return
        if self.path in ("/api/generate", "/api/chat"):
            self.generate_or_chat(body, chat=self.path == "/api/chat")
        elif self.path == "/api/show":
            name = body.get("model") or body.get("name") or ""
            if not self.server.has(name):
                self.send_json(404, {"error": f"model '{name}' not found"})
                return
            self.send_json(200, self.server.show(name))
        else:
            self.send_json(404, {"error": "404 page not found"})

    def generate_or_chat(self, body: dict, *, chat: bool) -> None:
        model = body.get("model") or ""
        if not model:
            self.send_json(400, {"error": "model is required"})
            return
        if not self.server.has(model):
            self.send_json(404, {"error": f'model "{model}" not found, try pulling it first'})
            return
        options = body.get("options") or {}
        stream = body.get("stream", True)
        if chat:
            messages = body.get("messages") or []
            prompt = "\n".join(str(m.get("content", "")) for m in messages)
        else:
            prompt = body.get("prompt") or ""
            if not prompt:  # "If an empty prompt is provided, the model will be loaded into memory."
                self.send_json(200, {"model": model, "created_at": _now(), "response": "", "done": True,
                                     "done_reason": "load"})
                return
        text = self.server.responder(body)
        text, cut_length = limit_tokens(text, options.get("num_predict"))
        text, _ = apply_stop(text, options.get("stop"))
        t0 = time.perf_counter_ns()

        def record(piece: str, done: bool) -> dict:
            out = {"model": model, "created_at": _now(), "done": done}
            if chat:
                out["message"] = {"role": "assistant", "content": piece}
            else:
                out["response"] = piece
            return out

        def final(full: str) -> dict:
            total = time.perf_counter_ns() - t0
            out = record("" if stream else full, True)
            out.update({
                "done_reason": "length" if cut_length else "stop",
                "total_duration": total,
                "load_duration": 1_000,
                "prompt_eval_count": len(tokens_of(prompt)),
                "prompt_eval_duration": int(self.server.delay_s * 1e9),
                "eval_count": len(tokens_of(full)),
                "eval_duration": max(1, total - int(self.server.delay_s * 1e9)),
            })
            if not chat and not body.get("raw"):
                out["context"] = list(range(1, 1 + len(tokens_of(prompt))))  # only without raw
            return out

        if not stream:
            try:
                self.generate(body, lambda piece: None, text)
            except ClientGone:
                return
            self.send_json(200, final(text))
            return
        self.start_stream("application/x-ndjson")
        try:
            self.generate(body, lambda piece: self.send_chunk(json.dumps(record(piece, False)).encode() + b"\n"),
                          text)
            self.send_chunk(json.dumps(final(text)).encode() + b"\n")
            self.end_stream()
        except ClientGone:
            return


class OllamaFake(LoopbackServer):
    """``with OllamaFake(delay_s=0.05) as fake: AsyncClient(host=fake.url)``."""

    def __init__(self, *, models: tuple[str, ...] = DEFAULT_MODELS, delay_s: float = 0.0,
                 token_delay_s: float = 0.0, responder: Responder = default_responder, context_length: int = 32768,
                 port: int = 0) -> None:
        super().__init__(OllamaHandler, delay_s=delay_s, token_delay_s=token_delay_s, responder=responder,
                         port=port)
        self.models = [_canonical(m) for m in models]
        self.context_length = context_length

    def has(self, name: str) -> bool:
        return bool(name) and _canonical(name) in self.models

    def describe(self, name: str) -> dict:
        return {
            "name": name, "model": name, "modified_at": _now(), "size": 4_683_075_271,
            "digest": "0" * 64,
            "details": {"parent_model": "", "format": "gguf", "family": "qwen2", "families": ["qwen2"],
                        "parameter_size": "7.6B", "quantization_level": "Q4_K_M"},
        }

    def show(self, name: str) -> dict:
        return {
            "modelfile": f"FROM {name}\n",
            "parameters": 'stop                           "<|endoftext|>"',
            "template": "{{ .Prompt }}",
            "details": self.describe(name)["details"],
            "model_info": {"general.architecture": "qwen2", "qwen2.context_length": self.context_length},
            "capabilities": ["completion", "insert"],
        }
