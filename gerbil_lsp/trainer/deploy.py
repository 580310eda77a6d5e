"""Serve a trained adapter, then point the language server's settings at it.

Three ways, one job each:

* :func:`deploy_ollama` -- through the ``ollama`` client: ``create_blob`` for the
  GGUF LoRA adapter (Ollama cannot import a Qwen2 safetensors adapter), then
  ``create(model, from_=base, adapters=..., template=..., system=...,
  parameters=...)`` with the Modelfile parts of :mod:`gerbil_lsp.trainer.modelfile`
  (Qwen's ChatML template with FIM), then a test generation;
* :func:`deploy_together` -- registers the adapter in Together's model registry
  (a Together fine-tune's adapter is there already; a local PEFT folder is
  uploaded the way the SDK's own ``models upload`` does it; a Hugging Face repo
  is imported), and says plainly that a Qwen 7B LoRA needs a dedicated endpoint;
* :func:`deploy_openai_compatible` -- any OpenAI-compatible ``/v1`` endpoint.

Every deploy becomes (or updates) a model version with its ``serving`` settings
and makes it current, which writes ``model.*`` in the user config -- names of
keys only, never a key.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from gerbil_lsp.trainer import versions

DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"
#: Hugging Face base -> the same weights in Ollama's library (the adapter must match its base).
OLLAMA_BASES = {
    "Qwen/Qwen2.5-Coder-7B-Instruct": "qwen2.5-coder:7b-instruct",
    "unsloth/Qwen2.5-Coder-7B-Instruct-bnb-4bit": "qwen2.5-coder:7b-instruct",
    "Qwen/Qwen2.5-7B-Instruct": "qwen2.5:7b-instruct",
}
TEST_PROMPT = "Write a Gerbil Scheme function that returns the sum of a list of numbers."
PART_SIZE = 20 * 1024 * 1024  # what the together SDK's `models upload` uses


class DeployError(RuntimeError):
    """A deploy that cannot go on, with what to do about it."""


@dataclass
class DeployResult:
    version_id: str
    backend: str
    model: str
    base_url: str = ""
    test_output: str = ""
    notes: str = ""


def _serve(version: versions.Version, serving: dict[str, Any]) -> versions.Version:
    """Record how the version is served and make it current (settings first, pointer last)."""
    versions.update_version(version.id, serving=serving)
    return versions.use(version.id)


def resolve_version(version_id: str | None) -> versions.Version:
    if version_id:
        return versions.load_registry().get(version_id)
    version = versions.latest()
    if version is None:
        raise DeployError("no trained model versions yet: run `gerbil-lsp train`, or pass --adapter")
    return version


# --------------------------------------------------------------------------- Ollama


def find_gguf_adapter(path: Path) -> Path:
    """The GGUF LoRA adapter in ``path`` (the file itself, or the one .gguf in a folder)."""
    path = Path(path)
    if path.is_file() and path.suffix == ".gguf":
        return path
    if path.is_dir():
        found = sorted(path.rglob("*.gguf"))
        adapters = [f for f in found if f.name == "adapter.gguf"]  # what `gerbil-lsp export` writes
        found = adapters if len(adapters) == 1 else found
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise DeployError(f"{path} holds {len(found)} .gguf files; pass the adapter file itself")
        if (path / "adapter_config.json").is_file():
            raise DeployError(f"{path} is a PEFT adapter: Ollama cannot import a Qwen2 safetensors adapter. "
                              f"Convert it first: `gerbil-lsp export {path}` writes a GGUF LoRA adapter")
    raise DeployError(f"{path}: no GGUF LoRA adapter here (expected a .gguf file from `gerbil-lsp export`)")


def ollama_base_for(base: str) -> str | None:
    return OLLAMA_BASES.get(base)


def _modelfile_parts(num_ctx: int) -> tuple[str, str, dict[str, Any]]:
    """(template, system, parameters) for ``ollama.create`` from the trainer's Modelfile module."""
    try:
        from gerbil_lsp.trainer import modelfile
    except ImportError:
        raise DeployError("the Modelfile part (gerbil_lsp.trainer.modelfile: Qwen's ChatML + FIM template) is not "
                          "installed in this version; pass the template explicitly") from None
    return modelfile.TEMPLATE, modelfile.SYSTEM, modelfile.parameters(num_ctx=num_ctx)


def deploy_ollama(adapter: Path | None = None, *, version_id: str | None = None, name: str | None = None,
                  base: str | None = None, host: str | None = None, num_ctx: int = 8192,
                  template: str | None = None, system: str | None = None, parameters: dict | None = None,
                  console: Console | None = None, client: Any = None) -> DeployResult:
    """Create an Ollama model (base + GGUF adapter + template), test it, and serve it."""
    import ollama

    console = console or Console()
    if adapter is not None:
        gguf = find_gguf_adapter(adapter)
        version = None
    else:
        version = resolve_version(version_id)
        if not version.path:
            raise DeployError(f"version {version.id} has no adapter files (it is a registered endpoint)")
        gguf = find_gguf_adapter(Path(version.path))
    trained_on = version.base if version else ""
    base = base or ollama_base_for(trained_on)
    if not base:
        raise DeployError(f"which Ollama model is the adapter's base ({trained_on or 'unknown'})? Pass --base, "
                          "e.g. --base qwen2.5-coder:7b-instruct (it must be the same weights the LoRA was trained on)")
    host = host or os.environ.get("OLLAMA_HOST") or DEFAULT_OLLAMA_HOST
    if not host.startswith(("http://", "https://")):
        host = "http://" + host
    client = client or ollama.Client(host=host)
    if template is None:
        template, default_system, default_parameters = _modelfile_parts(num_ctx)
        system = default_system if system is None else system
        parameters = default_parameters if parameters is None else parameters
    try:
        client.show(base)
    except ollama.ResponseError as exc:
        if exc.status_code == 404:
            raise DeployError(f"Ollama at {host} does not have the base model {base}: run `ollama pull {base}` "
                              "first") from None
        raise DeployError(f"Ollama at {host} answered {exc.status_code}: {exc.error}") from None
    except ConnectionError as exc:
        raise DeployError(f"Ollama is not reachable at {host} ({exc}); start it with `ollama serve`, or pass "
                          "--host") from None
    if version is None:
        version = versions.add_version(gguf, base=base, source="local", meta={"gguf": gguf.name})
        gguf = Path(version.path) / gguf.name
    name = name or f"gerbil-coder:{version.id}"
    console.print(f"uploading the adapter {gguf.name} ({gguf.stat().st_size / 1e6:.1f} MB) to Ollama at {host}")
    digest = client.create_blob(gguf)
    try:
        with console.status(f"creating {name} from {base}") as status:
            for progress in client.create(model=name, from_=base, adapters={gguf.name: digest}, template=template,
                                          system=system, parameters=parameters, stream=True):
                status.update(f"creating {name}: {progress.status}")
        reply = client.generate(model=name, prompt=TEST_PROMPT, options={"num_predict": 96, "temperature": 0.2})
    except ollama.ResponseError as exc:
        raise DeployError(f"Ollama could not create or run {name}: {exc.error}; settings unchanged") from None
    answer = (reply.response or "").strip()
    if not answer:
        raise DeployError(f"{name} was created but answered nothing to a test prompt; settings unchanged")
    console.print(f"[bold]test generation[/] ({name}):\n{answer}")
    _serve(version, {"backend": "ollama", "model": name, "base_url": host, "api_key_name": "", "adapter": "",
                     "chat_only": False})
    versions.update_version(version.id, meta={"ollama_model": name, "ollama_base": base})
    console.print(f"now serving [bold]{name}[/] (version {version.id}); `ollama run {name}` talks to it too")
    return DeployResult(version.id, "ollama", name, host, answer)


# --------------------------------------------------------------------------- Together

DEDICATED_NOTE = (
    "A LoRA on a Qwen 7B base is not served by Together's serverless tier: it needs a dedicated endpoint, "
    "billed per GPU-hour while it runs. Create one (console: Models -> your model -> Deploy, or the "
    "`together endpoints` CLI/API with the model name above), then completions work; stop it when idle."
)


def _resolve_base_model_id(client: Any, base: str) -> str:
    if base.startswith("ml_"):
        return base
    ids = {}
    for model in client.models.list_supported(search=base):
        for profile in model.deployment_profiles or []:
            if profile.api_model_name == base or model.name == base:
                ids[model.id] = model.name
    if len(ids) != 1:
        raise DeployError(f"Together lists {len(ids)} deployable base models named {base!r}; pass the base's "
                          "model id (ml_...) with --base-model-id")
    return next(iter(ids))


def _part_etags(path: Path) -> tuple[str, int]:
    """S3-style ETag of the whole file (md5, or md5-of-md5s-N for several parts) and the part count."""
    md5s = []
    with open(path, "rb") as fh:
        while chunk := fh.read(PART_SIZE):
            md5s.append(hashlib.md5(chunk).digest())  # noqa: S324 -- S3 ETags are md5
    if len(md5s) == 1:
        return md5s[0].hex(), 1
    return f"{hashlib.md5(b''.join(md5s)).hexdigest()}-{len(md5s)}", len(md5s)  # noqa: S324


def upload_adapter_files(client: Any, model_id: str, folder: Path, *, console: Console) -> str:
    """Upload a PEFT folder's files to a registered model; the revision id.

    The protocol the together SDK's own ``models upload`` command uses:
    ``upload/create`` hands out a signed URL per part, each part is PUT (its ETag
    is kept), ``upload/complete`` turns the parts into a model revision.
    """
    import httpx

    files = [p for p in sorted(folder.rglob("*")) if p.is_file() and not any(
        part.startswith(".") for part in p.relative_to(folder).parts) and p.stat().st_size]
    local = {p.relative_to(folder).as_posix(): p for p in files}
    plan = []
    for rel, path in local.items():
        etag, parts = _part_etags(path)
        plan.append({"path": rel, "hash": etag, "numParts": parts})
    project = client._get_project_id_path_param()
    created = client.post(f"/v2/projects/{project}/models/upload/create", cast_to=object,
                          body={"objectId": model_id, "files": plan})
    done = []
    with httpx.Client(timeout=httpx.Timeout(30 * 60)) as http:
        for remote in created.get("files") or []:
            path = local[remote["path"]]
            entry = next(p for p in plan if p["path"] == remote["path"])
            if remote.get("skipUpload"):
                done.append({"path": remote["path"], "hash": entry["hash"], "skipUpload": True})
                continue
            parts = []
            with open(path, "rb") as fh:
                for part in sorted(remote.get("parts") or [], key=lambda p: int(p["partNumber"])):
                    number = int(part["partNumber"])
                    fh.seek((number - 1) * PART_SIZE)
                    data = fh.read(PART_SIZE)
                    response = http.put(part["url"], content=data, headers=dict(part.get("headers") or {}))
                    if response.status_code != 200:
                        raise DeployError(f"uploading {remote['path']} part {number} failed: HTTP "
                                          f"{response.status_code} {response.text[:200]}")
                    parts.append({"partNumber": number, "hash": response.headers.get("ETag", "").strip('"')})
            console.print(f"  uploaded {remote['path']} ({path.stat().st_size / 1e6:.1f} MB)")
            done.append({"path": remote["path"], "hash": entry["hash"],
                         "uploadDetails": {"uploadId": remote.get("uploadId", ""), "parts": parts}})
    completed = client.post(f"/v2/projects/{project}/models/upload/complete", cast_to=object,
                            body={"objectId": model_id, "files": done})
    return str(completed.get("revisionId") or "")


def deploy_together(adapter: Path | None = None, *, version_id: str | None = None, name: str | None = None,
                    base_model: str | None = None, hf_repo: str | None = None, project_id: str | None = None,
                    base_url: str | None = None, console: Console | None = None) -> DeployResult:
    """Register the adapter with Together and point the settings at it."""
    import together

    from gerbil_lsp.trainer.together import TogetherTrainError, explain, make_client

    console = console or Console()
    version = None if adapter is not None else resolve_version(version_id)
    try:
        client = make_client(base_url)
        if project_id:
            client.project_id = project_id
        if version is not None and version.source == "together" and version.meta.get("output_name") \
                and adapter is None and not hf_repo:
            served = version.meta["output_name"]  # a Together fine-tune: in the registry already
            console.print(f"{served} is the adapter Together trained (job {version.meta.get('job_id')}); "
                          "nothing to upload")
        else:
            folder = Path(adapter) if adapter is not None else Path(version.path)
            if not hf_repo and not (folder / "adapter_config.json").is_file():
                raise DeployError(f"{folder}: not a PEFT adapter folder (adapter_config.json and "
                                  "adapter_model.safetensors); Together imports those")
            base_model = base_model or (version.base if version else None) or _peft_base(folder)
            if not client.project_id:
                raise DeployError("Together's model registry works per project: pass --project-id or set "
                                  "TOGETHER_PROJECT_ID (Settings -> Projects at api.together.ai)")
            base_id = _resolve_base_model_id(client, base_model)
            name = name or f"gerbil-coder-{(version.id if version else 'adapter')}".lower()
            model = client.models.create(base_model_id=base_id, name=name, type="adapter",
                                         description=f"gerbil-lsp LoRA adapter on {base_model}")
            if hf_repo:
                job = client.models.remote_uploads.create(model_id=model.id, remote_url=hf_repo)
                console.print(f"Together is importing {hf_repo} (job {job.id}, {job.status})")
            else:
                revision = upload_adapter_files(client, model.id, folder, console=console)
                console.print(f"uploaded the adapter as {model.name} (revision {revision})")
            served = model.name
            if version is None:
                version = versions.add_version(folder, base=base_model, source="local")
            versions.update_version(version.id, meta={"together_model_id": model.id, "together_model": model.name})
    except together.TogetherError as exc:
        raise DeployError(explain(exc)) from None
    except TogetherTrainError as exc:
        raise DeployError(str(exc)) from None
    _serve(version, {"backend": "together", "model": served, "base_url": "", "api_key_name": "together",
                     "adapter": "", "chat_only": False})
    console.print(f"now serving [bold]together:{served}[/] (version {version.id})")
    console.print(f"[yellow]{DEDICATED_NOTE}[/]")
    return DeployResult(version.id, "together", served, notes=DEDICATED_NOTE)


def _peft_base(folder: Path) -> str:
    try:
        return json.loads((folder / "adapter_config.json").read_text())["base_model_name_or_path"]
    except (OSError, KeyError, json.JSONDecodeError):
        raise DeployError(f"{folder}: cannot tell the adapter's base model; pass --base-model") from None


# --------------------------------------------------------------------------- any OpenAI-compatible endpoint


def deploy_openai_compatible(url: str, *, model: str, key_name: str = "", chat_only: bool = False,
                             check: bool = True, console: Console | None = None) -> DeployResult:
    """Serve from any OpenAI-compatible endpoint (vLLM, llama.cpp's server, LM Studio, a hosted API)."""
    console = console or Console()
    url = url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise DeployError(f"{url!r} is not an http(s) URL; give the endpoint's /v1 base, e.g. http://host:8000/v1")
    if check:
        import openai

        from gerbil_lsp.core.secrets import get_secret

        key = get_secret(key_name) if key_name else None
        if key_name and key is None:
            raise DeployError(f"no key named {key_name!r}: run `gerbil-lsp login {key_name}` first")
        try:
            listed = [m.id for m in openai.OpenAI(base_url=url, api_key=key or "none", max_retries=0,
                                                  timeout=10).models.list()]
        except openai.AuthenticationError:
            raise DeployError(f"{url} refused the key ({key_name or 'none given'}): pass --key-name with a key "
                              "stored by `gerbil-lsp login`") from None
        except openai.APIError as exc:
            raise DeployError(f"{url} did not answer GET /models ({exc}); check the URL (it should end in /v1) "
                              "or pass --no-check") from None
        if model not in listed:
            console.print(f"[yellow]{url} lists {len(listed)} models and not {model!r}; using it anyway[/]")
    version = versions.add_version(None, base=model, source="endpoint", meta={"url": url})
    _serve(version, {"backend": "openai", "model": model, "base_url": url, "api_key_name": key_name,
                     "adapter": "", "chat_only": chat_only})
    console.print(f"now serving [bold]{model}[/] at {url} (version {version.id})")
    return DeployResult(version.id, "openai", model, url)
