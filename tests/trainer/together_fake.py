"""A loopback fake of Together's REST API for fine-tuning and model registration.

Reproduced from Together's API reference (docs.together.ai/reference) and from
what the installed ``together`` SDK (3.x) actually sends, which the real SDK
drives here unchanged (``Together(base_url=fake.url)``):

* every call needs ``Authorization: Bearer <key>``; an unknown key -> HTTP 401
  ``{"error": {"message": "Invalid API key provided", "type": "invalid_request_error"}}``;
* files, signed-URL flow: ``POST /v1/files`` (multipart form: purpose, file_name,
  file_type, checksum) answers **302** with ``Location`` (a signed upload URL)
  and ``X-Together-File-Id``; the SDK ``PUT``s the bytes there (200), then
  ``POST /v1/files/{id}/preprocess`` returns the file object; the fake checks the
  upload's sha256 against the form's ``checksum`` and validates the JSONL
  (``processing_status`` COMPLETED or INVALID_FORMAT); ``GET /v1/files/{id}``;
* ``GET /v1/fine-tunes/models/limits?model_name=`` -> the model's limits; a model
  not in the fine-tunable list -> 400 (Qwen2.5-Coder-7B-Instruct is not in it);
* ``POST /v1/fine-tunes/estimate-price`` -> ``estimation_available``,
  ``allowed_to_proceed``, ``estimated_total_price``, ``estimated_train_token_count``;
* ``POST /v1/fine-tunes`` -> the job (``id`` "ft-..."), after validating the body:
  unknown/unprocessed training file, LoRA rank above ``max_rank``, batch size
  outside the LoRA range, unknown target modules -> 400 with a message; a body
  without ``training_file``/``model`` -> 422; an account without credit -> 402;
* ``GET /v1/fine-tunes/{id}``: the job's status moves pending -> queued -> running
  (``steps_per_poll`` steps per look) -> compressing -> uploading -> completed;
  ``GET /v1/fine-tunes/{id}/events`` -> ``{"data": [fine-tune-event...]}`` with
  ``step``/``total_steps`` on training events; ``POST /v1/fine-tunes/{id}/cancel``;
* ``GET /v1/finetune/download?ft_id=&checkpoint=adapter`` -> the adapter as a
  ``.tar.zst`` archive (adapter_config.json + adapter_model.safetensors at its
  root), ``Content-Length`` set; before completion -> 400;
* v2 model registry (dedicated inference): ``GET /v2/supported-models?search=``,
  ``POST /v2/projects/{p}/models`` (register ``type: adapter``; v2 bodies are camelCase: ``baseModelId``),
  ``POST /v2/projects/{p}/models/upload/create`` -> per-file part URLs,
  ``PUT`` each part (ETag = md5), ``POST .../models/upload/complete`` -> ``revisionId``;
  ``POST /v2/projects/{p}/models/uploads`` (import from a Hugging Face URL).
* 429 answers carry ``retry-after-ms`` so the SDK's documented retries are quick.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import io
import json
import tarfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.fakes.loopback import LoopbackServer

ADAPTER_CONFIG = {"peft_type": "LORA", "r": 16, "lora_alpha": 32, "base_model_name_or_path": "Qwen/Qwen2.5-7B-Instruct",
                  "target_modules": ["q_proj", "v_proj"], "task_type": "CAUSAL_LM"}
LIMITS = {
    "Qwen/Qwen2.5-7B-Instruct": {
        "model_name": "Qwen/Qwen2.5-7B-Instruct", "default_gradient_accumulation_steps": 1,
        "lora_training": {"default_rank": 64, "max_batch_size": 96, "max_batch_size_dpo": 48, "max_rank": 64,
                          "min_batch_size": 8,
                          "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                             "down_proj"]},
        "full_training": {"max_batch_size": 32, "max_batch_size_dpo": 16, "min_batch_size": 8},
        "max_learning_rate": 1.0, "min_learning_rate": 1e-8, "max_num_checkpoints": 10, "max_num_epochs": 20,
        "max_num_evals": 100, "max_seq_length_sft": 32768, "max_seq_length_dpo": 16384, "min_max_seq_length": 512,
        "merge_output_lora": True, "supports_full_training": True, "supports_reasoning": False,
        "supports_tools": True, "supports_vision": False,
    },
}


def adapter_archive() -> bytes:
    """A LoRA adapter as Together ships it: a zstd-compressed tar, files at the root."""
    import zstandard

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (("adapter_config.json", json.dumps(ADAPTER_CONFIG).encode()),
                           ("adapter_model.safetensors", b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return zstandard.ZstdCompressor().compress(buf.getvalue())


@dataclass
class Job:
    id: str
    body: dict
    status: str = "pending"
    step: int = 0
    total_steps: int = 12
    events: list[dict] = field(default_factory=list)
    created: float = field(default_factory=time.time)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


class TogetherHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: TogetherFake

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # ------------------------------------------------------------------ plumbing

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, payload: Any = None, headers: dict | None = None, raw: bytes | None = None) -> None:
        data = raw if raw is not None else (b"" if payload is None else json.dumps(payload).encode())
        self.send_response(status)
        if raw is None:
            self.send_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        headers = {"retry-after-ms": "5"} if status == 429 else None
        self._send(status, {"error": {"message": message, "type": kind}}, headers)

    def _authorized(self) -> bool:
        auth = self.headers.get("Authorization", "")
        if auth.removeprefix("Bearer ") not in self.server.keys:
            self._error(401, "Invalid API key provided")
            return False
        return True

    def _record(self, method: str, path: str, body: Any = None) -> None:
        with self.server.lock:
            self.server.calls.append((method, path, body))

    # ------------------------------------------------------------------ verbs

    def do_GET(self) -> None:
        url = urlparse(self.path)
        self._record("GET", url.path)
        if not self._authorized():
            return
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        parts = url.path.strip("/").split("/")
        fake = self.server
        if url.path == "/v1/fine-tunes/models/limits":
            limits = LIMITS.get(query.get("model_name", ""))
            if limits is None:
                self._error(400, f"Model {query.get('model_name')} is not supported for fine-tuning; see "
                                 "https://docs.together.ai/docs/fine-tuning-models")
            else:
                self._send(200, limits)
        elif parts[:2] == ["v1", "files"] and len(parts) == 3:
            file = fake.files.get(parts[2])
            self._send(200, file["meta"]) if file else self._error(404, f"file {parts[2]} not found")
        elif parts[:2] == ["v1", "fine-tunes"] and len(parts) == 3:
            job = fake.jobs.get(parts[2])
            if job is None:
                self._error(404, f"fine-tune job {parts[2]} not found")
                return
            fake.advance(job)
            self._send(200, fake.describe(job))
        elif parts[:2] == ["v1", "fine-tunes"] and len(parts) == 4 and parts[3] == "events":
            job = fake.jobs.get(parts[2])
            self._send(200, {"data": list(job.events)}) if job else self._error(404, "job not found")
        elif url.path == "/v1/finetune/download":
            job = fake.jobs.get(query.get("ft_id", ""))
            if job is None or job.status != "completed":
                self._error(400, "Fine-tune job is not completed; nothing to download")
                return
            if query.get("checkpoint") not in ("adapter", "merged", None):
                self._error(400, f"unknown checkpoint {query.get('checkpoint')!r}")
                return
            data = fake.archive
            self._send(200, raw=data, headers={"Content-Type": "application/octet-stream",
                                               "Content-Disposition": f'attachment; filename="{job.id}-adapter.tar.zst"'})
        elif url.path == "/v2/supported-models":
            search = query.get("search", "").lower()
            models = [m for m in fake.supported if search in m["name"].lower()]
            self._send(200, {"data": models, "object": "list"})
        else:
            self._error(404, f"no route {url.path}")

    def do_PUT(self) -> None:
        url = urlparse(self.path)
        data = self._body()
        self._record("PUT", url.path, len(data))
        parts = url.path.strip("/").split("/")
        fake = self.server
        if parts[0] == "signed-upload":  # a presigned storage URL: no Together auth header
            file = fake.files.get(parts[1])
            if file is None:
                self._send(403, raw=b"<Error>SignatureDoesNotMatch</Error>")
                return
            file["data"] = data
            self._send(200, raw=b"")
        elif parts[0] == "signed-part":  # /signed-part/<object>/<path...>/<part>
            etag = hashlib.md5(data).hexdigest()  # noqa: S324 -- S3's ETag of a part
            with fake.lock:
                fake.model_parts[(parts[1], "/".join(parts[2:-1]), int(parts[-1]))] = data
            self._send(200, raw=b"", headers={"ETag": f'"{etag}"'})
        else:
            self._error(404, f"no route {url.path}")

    def do_POST(self) -> None:
        url = urlparse(self.path)
        raw = self._body()
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("multipart/form-data"):
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
            body = {part.get_param("name", header="content-disposition"): part.get_content()
                    for part in message.iter_parts()}
        else:
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                self._error(400, "invalid JSON body")
                return
        self._record("POST", url.path, body)
        if not self._authorized():
            return
        parts = url.path.strip("/").split("/")
        fake = self.server
        if url.path == "/v1/files":
            if body.get("purpose") != "fine-tune" or body.get("file_type") not in ("jsonl", "parquet", "csv"):
                self._error(400, "purpose must be fine-tune and file_type jsonl, parquet or csv")
                return
            file_id = f"file-{uuid.uuid4()}"
            fake.files[file_id] = {"form": body, "data": None, "meta": None}
            self._send(302, headers={"Location": f"{fake.url}/signed-upload/{file_id}",
                                     "X-Together-File-Id": file_id})
        elif parts[:2] == ["v1", "files"] and len(parts) == 4 and parts[3] == "preprocess":
            self._preprocess(parts[2])
        elif url.path == "/v1/fine-tunes/estimate-price":
            file = fake.files.get(body.get("training_file", ""))
            if file is None or file["meta"] is None:
                self._send(200, {"estimation_available": False, "unavailable_reason": "train_file_not_validated"})
                return
            tokens = len(file["data"]) / 4 * int(body.get("n_epochs") or 1)
            price = tokens / 1e6 * fake.price_per_mtok
            self._send(200, {"estimation_available": True, "allowed_to_proceed": fake.allowed_to_proceed,
                             "estimated_total_price": price, "estimated_train_token_count": tokens,
                             "estimated_eval_token_count": 0, "user_limit": fake.user_limit})
        elif url.path == "/v1/fine-tunes":
            self._create(body)
        elif parts[:2] == ["v1", "fine-tunes"] and len(parts) == 4 and parts[3] == "cancel":
            job = fake.jobs.get(parts[2])
            if job is None:
                self._error(404, "job not found")
                return
            if job.status not in ("completed", "error", "cancelled"):
                job.status = "cancelled"
                job.events.append(fake.event("cancel_requested", "Job cancellation requested"))
            self._send(200, fake.describe(job))
        elif parts[:1] == ["v2"] and parts[1] == "projects":
            self._registry(parts[2], parts[3:], body)
        else:
            self._error(404, f"no route {url.path}")

    # ------------------------------------------------------------------ routes

    def _preprocess(self, file_id: str) -> None:
        fake = self.server
        file = fake.files.get(file_id)
        if file is None or file["data"] is None:
            self._error(404, f"file {file_id} was never uploaded")
            return
        if hashlib.sha256(file["data"]).hexdigest() != file["form"].get("checksum"):
            self._error(400, "checksum mismatch: the uploaded bytes differ from the announced checksum")
            return
        lines = file["data"].decode("utf-8", "replace").splitlines()
        valid = all(isinstance(json.loads(line), dict) and "messages" in json.loads(line) for line in lines if line)
        file["meta"] = {"id": file_id, "object": "file", "bytes": len(file["data"]), "created_at": int(time.time()),
                        "filename": file["form"].get("file_name"), "FileType": "jsonl", "purpose": "fine-tune",
                        "processing_status": "COMPLETED" if valid else "INVALID_FORMAT",
                        "validation_report": {"valid": valid, "dataset_format": "CONVERSATION", "nlines": len(lines)}}
        self._send(200, file["meta"])

    def _create(self, body: dict) -> None:
        fake = self.server
        if fake.create_fails is not None:
            status, message = fake.create_fails
            self._error(status, message)
            return
        if not body.get("training_file") or not (body.get("model") or body.get("from_checkpoint")):
            self._error(422, "training_file and model are required")
            return
        file = fake.files.get(body["training_file"])
        if file is None or not file["meta"] or file["meta"]["processing_status"] != "COMPLETED":
            self._error(400, f"training file {body['training_file']} is not a validated fine-tuning file")
            return
        limits = LIMITS.get(body["model"])
        if limits is None:
            self._error(400, f"Model {body['model']} is not supported for fine-tuning")
            return
        lora = limits["lora_training"]
        training_type = body.get("training_type") or {}
        if training_type.get("type") == "Lora":
            if training_type.get("lora_r", 0) > lora["max_rank"]:
                self._error(400, f"lora_r must be at most {lora['max_rank']}")
                return
            modules = [m for m in str(training_type.get("lora_trainable_modules", "all-linear")).split(",") if m]
            if modules != ["all-linear"] and any(m not in lora["target_modules"] for m in modules):
                self._error(400, f"lora_trainable_modules must be among {lora['target_modules']}")
                return
        batch = body.get("batch_size")
        if isinstance(batch, int) and not lora["min_batch_size"] <= batch <= lora["max_batch_size"]:
            self._error(400, f"batch_size must be in [{lora['min_batch_size']}, {lora['max_batch_size']}]")
            return
        job = Job(f"ft-{uuid.uuid4()}", body, total_steps=fake.total_steps)
        job.events.append(fake.event("job_pending", "Fine tune request created"))
        fake.jobs[job.id] = job
        self._send(200, fake.describe(job))

    def _registry(self, project: str, rest: list[str], body: dict) -> None:
        fake = self.server
        if rest == ["models"]:
            if body.get("type") not in ("model", "adapter", "models", "adapters") or not body.get("name"):
                self._error(400, "name and type (model or adapter) are required")
                return
            if body.get("baseModelId") not in {m["id"] for m in fake.supported}:
                self._error(400, f"unknown baseModelId {body.get('baseModelId')!r}")
                return
            model_id = f"ml_{uuid.uuid4().hex[:12]}"
            model = {"id": model_id, "name": f"{project}/{body['name']}", "organizationId": "org_fake",
                     "projectId": project, "visibility": "VISIBILITY_PRIVATE",
                     "weights": {"type": "WEIGHTS_TYPE_ADAPTER"}, "baseModelId": body["baseModelId"],
                     "description": body.get("description", "")}
            fake.models[model_id] = model
            self._send(200, model)
        elif rest == ["models", "upload", "create"]:
            object_id = body.get("objectId")
            if object_id not in fake.models:
                self._error(404, f"model {object_id} not found")
                return
            files = []
            for item in body.get("files", []):
                upload_id = uuid.uuid4().hex
                files.append({"path": item["path"], "uploadId": upload_id, "parts": [
                    {"partNumber": n, "url": f"{fake.url}/signed-part/{object_id}/{item['path']}/{n}", "headers": {}}
                    for n in range(1, int(item["numParts"]) + 1)]})
            self._send(200, {"files": files})
        elif rest == ["models", "upload", "complete"]:
            object_id = body.get("objectId")
            for item in body.get("files", []):
                for part in item.get("uploadDetails", {}).get("parts", []):
                    data = fake.model_parts.get((object_id, item["path"], int(part["partNumber"])))
                    if data is None or hashlib.md5(data).hexdigest() != part["hash"]:  # noqa: S324
                        self._error(400, f"part {part['partNumber']} of {item['path']} missing or its ETag differs")
                        return
            revision = f"rv_{uuid.uuid4().hex[:10]}"
            fake.models[object_id]["revision"] = revision
            fake.models[object_id]["files"] = [f["path"] for f in body.get("files", [])]
            self._send(200, {"revisionId": revision})
        elif rest == ["models", "uploads"]:
            if body.get("modelId") not in fake.models:
                self._error(404, "model not found")
                return
            self._send(200, {"id": f"ru_{uuid.uuid4().hex[:8]}", "createdAt": _now(), "modelId": body["modelId"],
                             "projectId": project, "remoteUrl": body.get("remoteUrl"),
                             "status": "REMOTE_UPLOAD_STATUS_PENDING"})
        else:
            self._error(404, f"no route /v2/projects/{project}/{'/'.join(rest)}")


class TogetherFake(LoopbackServer):
    """``with TogetherFake(keys={"tk"}) as fake: Together(api_key="tk", base_url=fake.url)``."""

    def __init__(self, *, keys: set[str] | None = None, total_steps: int = 12, steps_per_poll: int = 4) -> None:
        super().__init__(TogetherHandler)
        self.keys = keys or {"test-key"}
        self.total_steps = total_steps
        self.steps_per_poll = steps_per_poll
        self.lock = threading.Lock()
        self.calls: list[tuple[str, str, Any]] = []
        self.files: dict[str, dict] = {}
        self.jobs: dict[str, Job] = {}
        self.models: dict[str, dict] = {}
        self.model_parts: dict[tuple[str, str, int], bytes] = {}
        self.create_fails: tuple[int, str] | None = None
        self.allowed_to_proceed = True
        self.user_limit = 100.0
        self.price_per_mtok = 0.48
        self.archive = adapter_archive()
        self.supported = [{
            "id": "ml_qwen25_7b", "baseModel": "projects/together/models/ml_qwen25_7b", "baseModelId": "ml_qwen25_7b",
            "capabilities": ["CAPABILITY_CHAT"], "createdAt": _now(), "updatedAt": _now(),
            "displayName": "Qwen2.5 7B Instruct", "displayType": "chat", "inputModalities": ["MODALITY_TEXT"],
            "outputModalities": ["MODALITY_TEXT"], "name": "Qwen/Qwen2.5-7B-Instruct",
            "products": ["PRODUCT_DEDICATED", "PRODUCT_FINE_TUNING"], "publisher": "Qwen",
            "status": "SUPPORTED_MODEL_STATUS_SUPPORTED",
            "deploymentProfiles": [{"model": "projects/together/models/ml_qwen25_7b",
                                    "modelName": "Qwen/Qwen2.5-7B-Instruct", "gpuCount": 1, "gpuType": "H100",
                                    "adapterMode": "ADAPTER_MODE_DYNAMIC"}],
        }]

    # the job's life, one step per look (Together's own pace is minutes)
    def event(self, kind: str, message: str, **extra: Any) -> dict:
        return {"object": "fine-tune-event", "created_at": _now(), "type": kind, "message": message,
                "level": "info", **extra}

    def advance(self, job: Job) -> None:
        with self.lock:
            if job.status == "pending":
                job.status = "queued"
                job.events.append(self.event("job_pending", "Job is queued"))
            elif job.status == "queued":
                job.status = "running"
                job.events.append(self.event("training_start", "Training started", step=0,
                                             total_steps=job.total_steps))
            elif job.status == "running":
                job.step = min(job.total_steps, job.step + self.steps_per_poll)
                job.events.append(self.event("checkpoint_save", f"Training step {job.step}/{job.total_steps}",
                                             step=job.step, total_steps=job.total_steps))
                if job.step >= job.total_steps:
                    job.status = "compressing"
                    job.events.append(self.event("training_complete", "Training completed"))
            elif job.status == "compressing":
                job.status = "uploading"
                job.events.append(self.event("model_uploading", "Uploading the adapter"))
            elif job.status == "uploading":
                job.status = "completed"
                job.events.append(self.event("job_complete", "Fine-tuning job completed"))

    def describe(self, job: Job) -> dict:
        body = job.body
        name = f"fake-user/{body['model'].split('/')[-1]}-{body.get('suffix') or 'ft'}-{job.id[3:9]}"
        return {"id": job.id, "status": job.status, "user_id": "u_fake", "model": body["model"],
                "created_at": _now(), "updated_at": _now(), "model_output_name": name,
                "adapter_object_name": name + "-adapter", "from_hf_model": body.get("from_hf_model"),
                "training_file": body["training_file"], "n_epochs": body.get("n_epochs"),
                "batch_size": body.get("batch_size"), "learning_rate": body.get("learning_rate"),
                "training_type": body.get("training_type"), "events": []}
