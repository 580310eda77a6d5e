"""A loopback fake of the OpenAI-style HTTP API (``/v1/completions``, ``/v1/chat/completions``, ``/v1/models``).

Reproduced from OpenAI's API reference, which vLLM, llama.cpp's server and
Together follow:

* ``POST /v1/completions`` (``model``, ``prompt``, ``max_tokens`` default 16,
  ``temperature``, ``stop`` (string or list), ``stream``): a ``text_completion``
  object with ``choices[{text, index, logprobs, finish_reason}]`` and ``usage``;
  with ``stream: true``, Server-Sent Events ``data: {chunk}`` lines, the last
  chunk carrying ``finish_reason`` ("stop" / "length"), then ``data: [DONE]``.
* ``POST /v1/chat/completions``: ``chat.completion`` / ``chat.completion.chunk``
  objects whose choices carry ``message`` / ``delta`` ``{role, content}``.
* ``GET /v1/models``: ``{"object": "list", "data": [{id, object: "model", ...}]}``.
* ``HEAD`` of any path answers as ``GET`` would, without the body (an unknown
  path is a 404 that keeps the connection open), as uvicorn and Go servers do.
* A configured key is checked as ``Authorization: Bearer KEY`` (401 with an
  ``invalid_api_key`` error otherwise); an unknown model is a 404
  ``model_not_found`` error; ``chat_only=True`` makes ``/v1/completions`` a 404
  like endpoints that only serve chat.

``flavor="together"`` shapes stream chunks as Together's API documents them
(and its SDK's ``CompletionChunk`` type models them): each chunk also carries
``token {id, text, logprob, special}``, ``finish_reason`` sits on the chunk as
well, and ``GET /v1/models`` answers a bare JSON list.
"""

from __future__ import annotations

import json
import time
import uuid

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

DEFAULT_MODELS = ("gerbil-coder", "Qwen/Qwen2.5-Coder-7B-Instruct")


def _error(message: str, type_: str, code: str | None, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


class OpenAIHandler(FakeHandler):
    server: OpenAIFake

    def authorized(self) -> bool:
        key = self.server.api_key
        if key is None or self.headers.get("Authorization") == f"Bearer {key}":
            return True
        self.send_json(401, _error("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"))
        return False

    def do_GET(self) -> None:
        if not self.authorized():
            return
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self.server.ledger.record(self.path, {})
            models = [{"id": m, "object": "model", "created": 1_700_000_000, "owned_by": "fake"}
                      for m in self.server.models]
            self.send_json(200, models if self.server.flavor == "together" else {"object": "list", "data": models})
        else:
            self.send_json(404, _error(f"Unknown request URL: GET {self.path}", "invalid_request_error", None))

    def do_POST(self) -> None:
        if not self.authorized():
            return
        body = self.read_json()
        if body is None:
            return
        if self.server.fail_with is not None:
            status, payload = self.server.fail_with
            self.send_json(status, payload)
            return
        path = self.path.rstrip("/")
        if path == "/v1/completions" and not self.server.chat_only:
            self.respond(body, chat=False)
        elif path == "/v1/chat/completions":
            self.respond(body, chat=True)
        else:
            self.send_json(404, _error(f"Unknown request URL: POST {self.path}", "invalid_request_error", None))

    def respond(self, body: dict, *, chat: bool) -> None:
        model = body.get("model")
        if model not in self.server.models:
            self.send_json(404, _error(f"The model `{model}` does not exist", "invalid_request_error",
                                       "model_not_found", "model"))
            return
        if chat:
            messages = body.get("messages") or []
            prompt = "\n".join(str(m.get("content", "")) for m in messages)
        else:
            prompt = body.get("prompt")
            if not isinstance(prompt, str):
                self.send_json(400, _error("prompt must be a string here", "invalid_request_error", None, "prompt"))
                return
        stop = body.get("stop")
        if isinstance(stop, list) and self.server.max_stop is not None and len(stop) > self.server.max_stop:
            self.send_json(400, _error(f"stop: at most {self.server.max_stop} sequences", "invalid_request_error",
                                       None, "stop"))
            return
        max_tokens = body.get("max_tokens", None if chat else 16)
        text = self.server.responder(body)
        text, cut_length = limit_tokens(text, max_tokens)
        text, _ = apply_stop(text, stop)
        finish = "length" if cut_length else "stop"
        ident = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:24]
        created = int(time.time())
        usage = {"prompt_tokens": len(tokens_of(prompt)), "completion_tokens": len(tokens_of(text)),
                 "total_tokens": len(tokens_of(prompt)) + len(tokens_of(text))}
        if not body.get("stream"):
            try:
                self.generate(body, lambda piece: None, text)
            except ClientGone:
                return
            choice = {"index": 0, "finish_reason": finish, "logprobs": None}
            if chat:
                choice["message"] = {"role": "assistant", "content": text}
            else:
                choice["text"] = text
            self.send_json(200, {"id": ident, "object": "chat.completion" if chat else "text_completion",
                                 "created": created, "model": model, "choices": [choice], "usage": usage})
            return
        together = self.server.flavor == "together"
        counter = iter(range(1, 10**9))

        def chunk(piece: str, finish_reason: str | None, last: bool) -> bytes:
            choice: dict = {"index": 0, "finish_reason": finish_reason, "logprobs": None}
            if chat:
                choice["delta"] = {"role": "assistant", "content": piece}
            else:
                choice["text"] = piece
            out = {"id": ident, "object": "chat.completion.chunk" if chat else "text_completion",
                   "created": created, "model": model, "choices": [choice]}
            if together:
                out["object"] = "chat.completion.chunk" if chat else "completion.chunk"
                out["token"] = {"id": next(counter), "text": piece, "logprob": -0.1, "special": False}
                out["finish_reason"] = finish_reason
                out["usage"] = usage if last else None
            return b"data: " + json.dumps(out).encode() + b"\n\n"

        self.start_stream("text/event-stream")
        try:
            self.generate(body, lambda piece: self.send_chunk(chunk(piece, None, False)), text)
            self.send_chunk(chunk("", finish, True))
            self.send_chunk(b"data: [DONE]\n\n")
            self.end_stream()
        except ClientGone:
            return


class OpenAIFake(LoopbackServer):
    """``with OpenAIFake(delay_s=0.05) as fake: AsyncOpenAI(base_url=fake.url + "/v1")``."""

    def __init__(self, *, models: tuple[str, ...] = DEFAULT_MODELS, delay_s: float = 0.0,
                 token_delay_s: float = 0.0, responder: Responder = default_responder, api_key: str | None = None,
                 chat_only: bool = False, flavor: str = "openai", max_stop: int | None = None,
                 port: int = 0) -> None:
        super().__init__(OpenAIHandler, delay_s=delay_s, token_delay_s=token_delay_s, responder=responder,
                         port=port)
        self.models = list(models)
        self.api_key = api_key
        self.chat_only = chat_only
        self.flavor = flavor
        self.max_stop = max_stop
