"""`deploy`: Ollama (real ``ollama`` client vs a loopback fake of /api/blobs + /api/create + /api/generate),
Together's model registry (real ``together`` SDK vs the Together fake), any OpenAI-compatible endpoint
(real ``openai`` SDK vs the OpenAI-style fake). Each deploy must point the server's settings at the model."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from gerbil_lsp.core import paths
from gerbil_lsp.core.settings import load_settings
from gerbil_lsp.trainer import deploy, versions
from tests.fakes.openai_fake import OpenAIFake
from tests.trainer.ollama_create_fake import OllamaCreateFake, write_gguf_adapter
from tests.trainer.together_fake import TogetherFake

# A test-owned template in the shape Ollama's Go templates take (FIM when .Suffix is set).
TEMPLATE = ("{{- if .Suffix }}<|fim_prefix|>{{ .Prompt }}<|fim_suffix|>{{ .Suffix }}<|fim_middle|>"
            "{{- else }}<|im_start|>user\n{{ .Prompt }}<|im_end|>\n<|im_start|>assistant\n{{ end }}")
PARAMETERS = {"temperature": 0.2, "num_ctx": 8192, "stop": ["<|im_end|>", "<|endoftext|>"]}
BASE = "qwen2.5-coder:7b-instruct"


def answer(body: dict) -> str:
    return "(def (sum xs) (apply + xs))"


@pytest.fixture
def ollama_fake():
    with OllamaCreateFake(models=(BASE,), responder=answer) as fake:
        yield fake


def deploy_ollama(fake, adapter, **kwargs):
    return deploy.deploy_ollama(adapter, host=fake.url, base=kwargs.pop("base", BASE), template=TEMPLATE,
                                system="You write Gerbil Scheme.", parameters=PARAMETERS, **kwargs)


def test_ollama_blob_create_generate_and_settings(ollama_fake, tmp_path):
    """POST /api/blobs/sha256:<digest> (201), POST /api/create streamed to "success", a test /api/generate."""
    gguf = write_gguf_adapter(tmp_path / "gerbil-lora.gguf")
    result = deploy_ollama(ollama_fake, gguf)
    digest = "sha256:" + hashlib.sha256(gguf.read_bytes()).hexdigest()
    assert ollama_fake.blobs[digest] == gguf.read_bytes()
    body = ollama_fake.created[f"{result.model}"]
    assert body["from"] == BASE and body["adapters"] == {"gerbil-lora.gguf": digest}
    assert body["template"] == TEMPLATE and body["system"] == "You write Gerbil Scheme."
    assert body["parameters"]["stop"] == PARAMETERS["stop"]
    assert result.test_output == answer({})
    assert "/api/generate" in ollama_fake.ledger.paths
    model = load_settings().settings.model
    assert (model.backend, model.model, model.base_url, model.api_key_name) == ("ollama", result.model,
                                                                                 ollama_fake.url, "")
    version = versions.current()
    assert version.id == result.version_id and version.serving["model"] == result.model
    assert (Path(version.path) / "gerbil-lora.gguf").read_bytes() == gguf.read_bytes()
    config = paths.user_config_file().read_text()
    assert "key" not in config.replace("api_key_name", "")  # names of keys only, never a key


def test_ollama_deploy_of_a_trained_version_and_rollback(ollama_fake, tmp_path):
    first_dir = tmp_path / "one"
    first_dir.mkdir()
    write_gguf_adapter(first_dir / "adapter.gguf")
    first = versions.add_version(first_dir, base="Qwen/Qwen2.5-Coder-7B-Instruct")
    second_dir = tmp_path / "two"
    second_dir.mkdir()
    write_gguf_adapter(second_dir / "adapter.gguf")
    second = versions.add_version(second_dir, base="Qwen/Qwen2.5-Coder-7B-Instruct")
    one = deploy.deploy_ollama(version_id=first.id, host=ollama_fake.url, template=TEMPLATE, parameters=PARAMETERS)
    two = deploy.deploy_ollama(version_id=second.id, host=ollama_fake.url, template=TEMPLATE, parameters=PARAMETERS)
    assert ollama_fake.created[one.model]["from"] == BASE  # the HF base was mapped to Ollama's library name
    assert load_settings().settings.model.model == two.model
    versions.rollback()
    assert load_settings().settings.model.model == one.model
    assert versions.current().id == first.id


def test_peft_folder_needs_export_first(ollama_fake, tmp_path):
    peft = tmp_path / "adapter"
    peft.mkdir()
    (peft / "adapter_config.json").write_text("{}")
    with pytest.raises(deploy.DeployError, match="gerbil-lsp export"):
        deploy_ollama(ollama_fake, peft)
    assert ollama_fake.ledger.paths == []


def test_missing_base_says_ollama_pull(ollama_fake, tmp_path):
    """POST /api/show of an unknown model is a 404."""
    gguf = write_gguf_adapter(tmp_path / "a.gguf")
    with pytest.raises(deploy.DeployError, match="ollama pull qwen2.5:7b-instruct"):
        deploy_ollama(ollama_fake, gguf, base="qwen2.5:7b-instruct")


def test_ollama_not_running(tmp_path):
    from tests.fakes.fixtures import closed_port_url

    gguf = write_gguf_adapter(tmp_path / "a.gguf")
    with pytest.raises(deploy.DeployError, match="ollama serve"):
        deploy.deploy_ollama(gguf, host=closed_port_url(), base=BASE, template=TEMPLATE)


def test_not_an_adapter_gguf_is_refused_and_settings_unchanged(ollama_fake, tmp_path):
    """/api/create parses the adapter GGUF: a file whose general.type is not ``adapter`` is an error line."""
    gguf = write_gguf_adapter(tmp_path / "model.gguf", kind="model")
    with pytest.raises(deploy.DeployError, match="not a GGUF LoRA adapter"):
        deploy_ollama(ollama_fake, gguf)
    assert load_settings().settings.model.backend == "none"
    assert versions.current() is None


# --------------------------------------------------------------------------- Together


@pytest.fixture
def together_fake(monkeypatch):
    monkeypatch.setenv("TOGETHER_API_KEY", "test-key")
    monkeypatch.setenv("TOGETHER_PROJECT_ID", "proj_fake")
    with TogetherFake(keys={"test-key"}) as fake:
        yield fake


def test_together_fine_tune_is_served_by_name_with_the_dedicated_endpoint_note(together_fake, tmp_path):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    version = versions.add_version(adapter, base="Qwen/Qwen2.5-7B-Instruct", source="together",
                                   meta={"job_id": "ft-1", "output_name": "me/Qwen2.5-7B-Instruct-gerbil-1"})
    result = deploy.deploy_together(version_id=version.id, base_url=together_fake.url)
    assert result.model == "me/Qwen2.5-7B-Instruct-gerbil-1"
    assert "dedicated endpoint" in result.notes
    model = load_settings().settings.model
    assert (model.backend, model.model, model.api_key_name) == ("together", result.model, "together")
    assert not any(p.startswith("/v2/") for _, p, _ in together_fake.calls)  # nothing to upload


def test_together_local_adapter_is_registered_and_uploaded(together_fake, tmp_path):
    """POST /v2/projects/{p}/models (type adapter), upload/create -> PUT parts (ETag) -> upload/complete."""
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "Qwen/Qwen2.5-7B-Instruct"}))
    (adapter / "adapter_model.safetensors").write_bytes(b"\x00" * 5000)
    result = deploy.deploy_together(adapter, base_url=together_fake.url)
    [model] = together_fake.models.values()
    assert model["baseModelId"] == "ml_qwen25_7b" and model["weights"]["type"] == "WEIGHTS_TYPE_ADAPTER"
    assert sorted(model["files"]) == ["adapter_config.json", "adapter_model.safetensors"]
    assert model["revision"].startswith("rv_")
    assert result.model == model["name"] == f"proj_fake/{model['name'].split('/')[1]}"
    assert load_settings().settings.model.model == result.model
    assert versions.current().meta["together_model_id"] == model["id"]


def test_together_registry_needs_a_project(together_fake, tmp_path, monkeypatch):
    monkeypatch.delenv("TOGETHER_PROJECT_ID")
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "Qwen/Qwen2.5-7B-Instruct"}))
    with pytest.raises(deploy.DeployError, match="--project-id"):
        deploy.deploy_together(adapter, base_url=together_fake.url)


def test_together_import_from_hugging_face(together_fake, tmp_path):
    """POST /v2/projects/{p}/models/uploads with the repo URL (Together pulls it)."""
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "Qwen/Qwen2.5-7B-Instruct"}))
    deploy.deploy_together(adapter, hf_repo="https://huggingface.co/me/gerbil-lora", base_url=together_fake.url)
    [body] = [b for m, p, b in together_fake.calls if p.endswith("/models/uploads")]
    assert body["remoteUrl"] == "https://huggingface.co/me/gerbil-lora"


def test_together_bad_key(together_fake, tmp_path, monkeypatch):
    monkeypatch.setenv("TOGETHER_API_KEY", "nope")
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "Qwen/Qwen2.5-7B-Instruct"}))
    with pytest.raises(deploy.DeployError, match="401"):
        deploy.deploy_together(adapter, base_url=together_fake.url)


# --------------------------------------------------------------------------- any OpenAI-compatible endpoint


def test_openai_compatible_endpoint_with_a_named_key(monkeypatch):
    """GET /v1/models with ``Authorization: Bearer``; the settings get the key's name, never the key."""
    monkeypatch.setenv("GERBIL_LSP_KEY_MYVLLM", "secret-vllm-key")
    with OpenAIFake(models=("gerbil-7b",), api_key="secret-vllm-key") as fake:
        result = deploy.deploy_openai_compatible(fake.url + "/v1", model="gerbil-7b", key_name="myvllm")
    model = load_settings().settings.model
    assert (model.backend, model.model, model.base_url, model.api_key_name) == ("openai", "gerbil-7b",
                                                                                 fake.url + "/v1", "myvllm")
    assert "secret-vllm-key" not in paths.user_config_file().read_text()
    assert versions.current().id == result.version_id and versions.current().source == "endpoint"


def test_openai_compatible_wrong_key_and_unreachable(monkeypatch):
    """401 ``invalid_api_key``; a closed port."""
    from tests.fakes.fixtures import closed_port_url

    monkeypatch.setenv("GERBIL_LSP_KEY_MYVLLM", "wrong")
    with OpenAIFake(models=("gerbil-7b",), api_key="right") as fake:
        with pytest.raises(deploy.DeployError, match="refused the key"):
            deploy.deploy_openai_compatible(fake.url + "/v1", model="gerbil-7b", key_name="myvllm")
    with pytest.raises(deploy.DeployError, match="did not answer"):
        deploy.deploy_openai_compatible(closed_port_url() + "/v1", model="m")
    assert load_settings().settings.model.backend == "none"


def test_deploy_cli_openai_compatible():
    from typer.testing import CliRunner

    from gerbil_lsp.cli import app

    with OpenAIFake(models=("gerbil-7b",)) as fake:
        result = CliRunner().invoke(app, ["deploy", "openai-compatible", fake.url + "/v1", "--model", "gerbil-7b"])
    assert result.exit_code == 0, result.output
    assert load_settings().settings.model.base_url == fake.url + "/v1"
    bad = CliRunner().invoke(app, ["deploy", "openai-compatible", "ftp://x", "--model", "m"])
    assert bad.exit_code == 1 and "not an http(s) URL" in bad.output


def test_default_template_comes_from_the_modelfile_part(ollama_fake, tmp_path):
    """Once the trainer's Modelfile module is installed, `deploy ollama` uses its FIM template (``.Suffix``)."""
    pytest.importorskip("gerbil_lsp.trainer.modelfile")
    gguf = write_gguf_adapter(tmp_path / "a.gguf")
    result = deploy.deploy_ollama(gguf, host=ollama_fake.url, base=BASE)
    assert ".Suffix" in ollama_fake.created[result.model]["template"]
