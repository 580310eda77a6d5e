"""The Together backend, driven through the real ``together`` SDK against a loopback fake of Together's REST API.

Each test names the documented behaviour of Together's API (see together_fake.py)
that it reproduces.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gerbil_lsp.core import paths
from gerbil_lsp.core.settings import TrainSettings
from gerbil_lsp.trainer import together, versions
from gerbil_lsp.trainer.dataset import DatasetError
from gerbil_lsp.trainer.recipe import Recipe
from tests.trainer.together_fake import ADAPTER_CONFIG, TogetherFake

FIXTURES = Path(__file__).parent / "fixtures"
DATASET = FIXTURES / "dataset"
MODEL = "Qwen/Qwen2.5-7B-Instruct"


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setenv("TOGETHER_API_KEY", "test-key")
    monkeypatch.delenv("TOGETHER_BASE_URL", raising=False)
    with TogetherFake(keys={"test-key"}) as server:
        yield server


def recipe(**overrides) -> Recipe:
    return Recipe.from_settings(TrainSettings(), **overrides)


def train(fake, **kwargs):
    return together.train(kwargs.pop("recipe", recipe()), kwargs.pop("dataset", DATASET), model=kwargs.pop("model", MODEL),
                          base_url=fake.url, poll_s=0.01, **kwargs)


def posted(fake, path):
    return [body for method, p, body in fake.calls if method == "POST" and p == path]


def as_a_terminal_starts_it() -> None:
    """In the child before exec: Ctrl-C as a terminal delivers it. A shell's background job (a CI runner)
    starts with SIGINT ignored, and a Python that starts so never turns it into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt_once_running(proc, fake, *, wait_s: float) -> str:
    """Ctrl-C the training process as soon as the fake has a running job; its output."""
    try:
        deadline = time.monotonic() + wait_s
        while not any(job.status == "running" for job in fake.jobs.values()):
            assert time.monotonic() < deadline and proc.poll() is None, proc.stdout.read() if proc.poll() else ""
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return out


def test_full_flow_uploads_trains_downloads_and_registers(fake):
    """Signed-URL upload (POST /v1/files -> 302 -> PUT -> preprocess), create, events, adapter download (.tar.zst)."""
    run = train(fake)
    # the uploaded bytes are our converted file, and the checksum the SDK announced matches them
    [(file_id, stored)] = list(fake.files.items())
    uploaded = stored["data"]
    assert hashlib.sha256(uploaded).hexdigest() == stored["form"]["checksum"]
    lines = [json.loads(line) for line in uploaded.decode().splitlines()]
    assert len(lines) == 6 and all(set(line) == {"messages"} for line in lines)  # Together refuses extra columns
    assert run.skipped_fim == 2
    # the recipe reached Together mapped onto its parameters
    [body] = posted(fake, "/v1/fine-tunes")
    assert body["model"] == MODEL and body["training_file"] == file_id
    assert body["training_type"] == {"type": "Lora", "lora_r": 16, "lora_alpha": 32, "lora_dropout": 0.0,
                                     "lora_trainable_modules": "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj"}
    assert (body["n_epochs"], body["batch_size"], body["learning_rate"], body["max_seq_length"]) == (3, 8, 2e-4, 4096)
    assert body["random_seed"] == 42 and body["packing"] is True
    assert body["training_method"] == {"method": "sft", "train_on_inputs": "auto"}
    # followed to the end, adapter unpacked, version registered, records written
    assert run.status == "completed"
    adapter = Path(run.adapter_dir)
    assert json.loads((adapter / "adapter_config.json").read_text()) == ADAPTER_CONFIG
    assert (adapter / "adapter_model.safetensors").is_file()
    version = versions.load_registry().get(run.version_id)
    assert version.source == "together" and version.base == MODEL
    assert version.meta["job_id"] == run.job_id and version.dataset_sha256 == run.dataset_sha256
    assert (Path(version.path) / "adapter_config.json").is_file()
    saved = json.loads((Path(run.run_dir) / "job.json").read_text())
    assert saved["job_id"] == run.job_id and saved["status"] == "completed"
    assert json.loads((Path(run.run_dir) / "run.json").read_text())["version_id"] == run.version_id


def test_broken_dataset_stops_before_any_request(fake):
    """A dataset with broken lines costs nothing: no call reaches Together, and the lines are named."""
    with pytest.raises(DatasetError) as caught:
        train(fake, dataset=FIXTURES / "broken")
    message = str(caught.value)
    assert "train.messages.jsonl:2" in message and "not JSON" in message
    assert "train.messages.jsonl:4" in message and "first message" in message
    assert fake.calls == []


def test_rejected_key_is_a_clear_401_message(fake, monkeypatch):
    """401 ``Invalid API key provided`` for an unknown bearer token."""
    monkeypatch.setenv("TOGETHER_API_KEY", "wrong-key")
    with pytest.raises(together.TogetherTrainError) as caught:
        train(fake)
    assert "401" in str(caught.value) and "gerbil-lsp login together" in str(caught.value)
    assert "wrong-key" not in str(caught.value)
    assert posted(fake, "/v1/fine-tunes") == []


def test_no_key_at_all_says_how_to_add_one(fake, monkeypatch):
    monkeypatch.delenv("TOGETHER_API_KEY")
    with pytest.raises(together.TogetherTrainError, match="gerbil-lsp login together"):
        train(fake)
    assert fake.calls == []


def test_no_credit_402_is_explained(fake):
    """402 Payment Required when the account cannot pay: nothing trains, the user is told to add credits."""
    fake.create_fails = (402, "Insufficient balance to start this job")
    with pytest.raises(together.TogetherTrainError, match="Billing"):
        train(fake)
    assert fake.jobs == {}


def test_over_the_credit_limit_stops_before_create(fake):
    """estimate-price ``allowed_to_proceed: false``: we stop instead of starting a job that gets cancelled."""
    fake.allowed_to_proceed = False
    with pytest.raises(together.TogetherTrainError, match="credit limit"):
        train(fake)
    assert posted(fake, "/v1/fine-tunes") == []


def test_rate_limit_429_is_retried_by_the_sdk_then_explained(fake):
    """429 with ``retry-after-ms``: the SDK retries (max_retries=2), then we say to wait."""
    fake.create_fails = (429, "Too many fine-tuning jobs in progress")
    with pytest.raises(together.TogetherTrainError, match="rate limit or quota"):
        train(fake)
    assert len(posted(fake, "/v1/fine-tunes")) == 3


def test_validation_errors_400_and_422_name_what_to_fix(fake):
    """400 for a model outside the fine-tunable list (Qwen2.5-Coder-7B-Instruct); 422 for an invalid body."""
    with pytest.raises(together.TogetherTrainError) as caught:
        train(fake, model="Qwen/Qwen2.5-Coder-7B-Instruct")
    assert "not supported for fine-tuning" in str(caught.value) and "--from-hf-model" in str(caught.value)
    fake.create_fails = (422, "n_epochs: value is not a valid integer")
    with pytest.raises(together.TogetherTrainError, match="422.*n_epochs"):
        train(fake)


def test_from_hf_model_and_limits_mapping(fake):
    """``from_hf_model`` goes with the base ``model``; batch/rank outside the model's limits are clamped and said."""
    run = train(fake, recipe=recipe(batch_size=1, grad_accum=2, lora_r=128), from_hf_model="Qwen/Qwen2.5-Coder-7B-Instruct")
    [body] = posted(fake, "/v1/fine-tunes")
    assert body["from_hf_model"] == "Qwen/Qwen2.5-Coder-7B-Instruct" and body["model"] == MODEL
    assert body["batch_size"] == 8 and body["training_type"]["lora_r"] == 64
    assert any("using 8" in note for note in run.notes) and any("maximum rank" in note for note in run.notes)
    assert versions.load_registry().get(run.version_id).base == "Qwen/Qwen2.5-Coder-7B-Instruct"


def test_ctrl_c_keeps_the_job_and_attach_finishes_it(fake):
    """Interrupt while following (the job keeps running server-side), then re-attach by id and finish."""
    fake.steps_per_poll = 1
    script = textwrap.dedent(f"""
        from pathlib import Path
        from gerbil_lsp.core.settings import TrainSettings
        from gerbil_lsp.trainer import together
        from gerbil_lsp.trainer.recipe import Recipe
        together.train(Recipe.from_settings(TrainSettings()), Path({str(DATASET)!r}), model={MODEL!r},
                       base_url={fake.url!r}, poll_s=0.3)
    """)
    env = {**os.environ, "TOGETHER_API_KEY": "test-key"}
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, preexec_fn=as_a_terminal_starts_it)
    out = interrupt_once_running(proc, fake, wait_s=60)
    [job] = fake.jobs.values()
    assert job.status == "running"  # Ctrl-C did not cancel the paid job
    assert f"--attach {job.id}" in " ".join(out.split())  # rich wraps at 80 columns when not a terminal
    [job_file] = paths.runs_dir().glob("*/job.json")
    assert json.loads(job_file.read_text())["job_id"] == job.id

    run = together.train(recipe(), DATASET, model=MODEL, base_url=fake.url, poll_s=0.01, attach=job.id)
    assert run.run_dir == str(job_file.parent)  # the same run folder, found by the job id
    assert run.status == "completed" and (Path(run.adapter_dir) / "adapter_config.json").is_file()
    assert len(posted(fake, "/v1/files")) == 1  # nothing uploaded twice


def test_attach_to_a_job_started_elsewhere(fake):
    """``GET /v1/fine-tunes/{id}`` of a job this machine never saw: a new run folder, then the usual finish."""
    first = train(fake)
    for job_file in paths.runs_dir().glob("*/job.json"):
        job_file.unlink()
    run = together.train(recipe(), DATASET, model=MODEL, base_url=fake.url, poll_s=0.01, attach=first.job_id)
    assert run.run_dir != first.run_dir and Path(run.run_dir).name == f"together-{first.job_id}"
    assert (Path(run.adapter_dir) / "adapter_model.safetensors").is_file()


def test_cancel(fake):
    """``POST /v1/fine-tunes/{id}/cancel``."""
    fake.total_steps = 1000
    client = together.make_client(fake.url)
    body = json.loads((DATASET / "train.messages.jsonl").read_text().splitlines()[0])
    assert body  # the fixture is readable
    run = together.submit(client, recipe(), DATASET, model=MODEL, console=together.Console(), output=None)
    assert together.cancel(run.job_id, base_url=fake.url) == "cancelled"
    assert fake.jobs[run.job_id].status == "cancelled"


def test_job_that_fails_on_together_is_reported(fake):
    """A job ending in ``error``: no download is attempted, the message names the job and the run folder."""
    original = fake.advance

    def fail_when_running(job):
        original(job)
        if job.status == "running":
            job.status = "error"
            job.events.append(fake.event("job_error", "CUDA error: out of memory", level="error"))

    fake.advance = fail_when_running
    with pytest.raises(together.TogetherTrainError, match="ended error: CUDA error"):
        train(fake)
    assert not any(p == "/v1/finetune/download" for _, p, _ in fake.calls)


def _cli(args, fake, **popen):
    env = {**os.environ, "TOGETHER_API_KEY": "test-key", "TOGETHER_BASE_URL": fake.url,
           "GERBIL_LSP_TRAIN__TOGETHER_POLL_S": "0.2", "COLUMNS": "200"}
    return subprocess.Popen([sys.executable, "-m", "gerbil_lsp", "train", "--backend", "together", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            preexec_fn=as_a_terminal_starts_it, **popen)


def test_cli_train_interrupt_then_attach(fake):
    """`gerbil-lsp train --backend together`: Ctrl-C (exit 130, job kept), then `--attach ID` downloads the adapter."""
    fake.steps_per_poll = 1
    proc = _cli(["--dataset", str(DATASET)], fake)
    out = interrupt_once_running(proc, fake, wait_s=90)
    assert proc.returncode == 130, out
    [job] = fake.jobs.values()
    assert f"--attach {job.id}" in " ".join(out.split())
    attach = _cli(["--attach", job.id], fake)
    out, _ = attach.communicate(timeout=120)
    assert attach.returncode == 0, out
    assert "model version: v" in out and job.status == "completed"


def test_cli_broken_dataset_exits_1_naming_lines(fake):
    proc = _cli(["--dataset", str(FIXTURES / "broken")], fake)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "train.messages.jsonl:2" in out and "train.messages.jsonl:4" in out
    assert fake.calls == []
