"""The loopback Ollama fake, plus model creation: ``/api/blobs/:digest`` and ``/api/create``.

Reproduced from Ollama's API docs (docs/api.md, "Create a Model" / "Push a Blob"):

* ``HEAD /api/blobs/:digest`` -> 200 when the server has the blob, 404 when not;
* ``POST /api/blobs/:digest`` (the file as the body) -> 201 Created; the server
  hashes what it received and answers 400 when that is not ``digest``;
* ``POST /api/create`` ``{model, from, adapters: {filename: digest}, template,
  system, parameters, stream}`` -> with ``stream`` (the default) NDJSON status
  objects ending in ``{"status": "success"}``; a failure is an ``{"error": ...}``
  object (a missing ``from`` model, an adapter digest never pushed, an adapter
  that is not a GGUF LoRA adapter: Ollama parses the GGUF and needs
  ``general.type = adapter``). The created model then answers ``/api/generate``
  and ``/api/show`` (its ``template``, ``system``, ``parameters``).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

from tests.fakes.ollama_fake import OllamaFake, OllamaHandler, _canonical


def gguf_kind(data: bytes) -> str | None:
    """``general.type`` of a GGUF file (None when it is not GGUF), read with the gguf library like Ollama parses it."""
    if data[:4] != b"GGUF":
        return None
    from gguf import GGUFReader

    with tempfile.NamedTemporaryFile(suffix=".gguf") as fh:
        fh.write(data)
        fh.flush()
        field = GGUFReader(fh.name).get_field("general.type")
        return field.contents() if field is not None else ""


class OllamaCreateHandler(OllamaHandler):
    server: OllamaCreateFake

    def _read_raw(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_HEAD(self) -> None:
        if self.path.startswith("/api/blobs/"):
            status = 200 if self.path.rsplit("/", 1)[-1] in self.server.blobs else 404
        else:
            status = 404
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        if self.path.startswith("/api/blobs/"):
            digest = self.path.rsplit("/", 1)[-1]
            data = self._read_raw()
            self.server.ledger.record(self.path, {"bytes": len(data)})
            if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
                self.send_json(400, {"error": "digest mismatch"})
                return
            self.server.blobs[digest] = data
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/api/create":
            body = self.read_json()
            if body is not None:
                self.create(body)
        else:
            super().do_POST()

    def create(self, body: dict) -> None:
        fake = self.server
        name, base = body.get("model") or "", body.get("from") or ""
        problems = []
        if not name:
            problems.append("model name is required")
        if base and not fake.has(base):
            problems.append(f"pull model manifest: file does not exist ({base})")
        for filename, digest in (body.get("adapters") or {}).items():
            data = fake.blobs.get(digest)
            if data is None:
                problems.append(f"adapter {filename}: blob {digest} not found; push it to /api/blobs first")
            elif gguf_kind(data) != "adapter":
                problems.append(f"adapter {filename}: not a GGUF LoRA adapter (general.type must be adapter)")
        if not body.get("stream", True):
            if problems:
                self.send_json(400, {"error": problems[0]})
            else:
                fake.register(name, body)
                self.send_json(200, {"status": "success"})
            return
        self.start_stream("application/x-ndjson")
        self.send_chunk(json.dumps({"status": "reading model metadata"}).encode() + b"\n")
        if problems:
            self.send_chunk(json.dumps({"error": problems[0]}).encode() + b"\n")
            self.end_stream()
            return
        for digest in (body.get("adapters") or {}).values():
            self.send_chunk(json.dumps({"status": f"using already created layer {digest}"}).encode() + b"\n")
        for status in ("creating template layer", "creating system layer", "creating parameters layer",
                       "writing manifest", "success"):
            self.send_chunk(json.dumps({"status": status}).encode() + b"\n")
        fake.register(name, body)
        self.end_stream()


class OllamaCreateFake(OllamaFake):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.RequestHandlerClass = OllamaCreateHandler
        self.blobs: dict[str, bytes] = {}
        self.created: dict[str, dict] = {}

    def register(self, name: str, body: dict) -> None:
        self.created[_canonical(name)] = body
        if _canonical(name) not in self.models:
            self.models.append(_canonical(name))

    def show(self, name: str) -> dict:
        shown = super().show(name)
        body = self.created.get(_canonical(name))
        if body:
            shown["template"] = body.get("template", "")
            shown["system"] = body.get("system", "")
            shown["parameters"] = json.dumps(body.get("parameters", {}))
        return shown


def write_gguf_adapter(path: Path, *, kind: str = "adapter") -> Path:
    """A tiny GGUF LoRA adapter file (the metadata llama.cpp and Ollama check, one small tensor pair)."""
    import numpy as np
    from gguf import GGUFWriter

    writer = GGUFWriter(str(path), "qwen2")
    writer.add_type(kind)
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", 32.0)
    writer.add_tensor("blk.0.attn_q.weight.lora_a", np.zeros((4, 8), dtype=np.float32))
    writer.add_tensor("blk.0.attn_q.weight.lora_b", np.zeros((8, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
