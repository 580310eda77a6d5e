"""The whole loop on real weights: harvested entries reach the threshold -> the daemon's trigger starts a
detached `gerbil-lsp retrain` -> dataset -> LoRA on SmolLM2 -> GGUF adapter -> eval gate (llama.cpp,
candidate vs the served base) -> promoted (settings point at base + adapter); then a worse one is kept.

The served model is SmolLM2-135M-Instruct embedded through llama.cpp (``model.backend = "llamacpp"``),
the same GGUF the candidate is trained on (transformers dequantizes it).
"""

from __future__ import annotations

import json
import time

import pytest

from gerbil_lsp.core import paths
from gerbil_lsp.core.settings import load_settings, set_value
from gerbil_lsp.harvest import retrain_trigger
from gerbil_lsp.harvest.records import chat_record, fim_record
from gerbil_lsp.harvest.retrain import run_retrain
from gerbil_lsp.harvest.store import HarvestStore
from gerbil_lsp.trainer import versions
from tests.real_weights import smollm2_gguf

pytestmark = pytest.mark.slow
pytest.importorskip("llama_cpp", reason="llama-cpp-python (the [local] extra) is not installed")
pytest.importorskip("peft", reason="the [train] extra is not installed")


def harvest(n: int, first: int = 0) -> list[int]:
    with HarvestStore() as store:
        ids = [store.add("fim", fim_record("(import :std/iter)\n", f"(def (table-keys{i} t) (hash-keys t))", "\n",
                                           path="/w/keys.ss", detail="watch"), source="watch") for i in range(first, first + n)]
        ids.append(store.add("chat", chat_record(
            [{"role": "user", "content": "How do I read a key from a hash table in Gerbil?"},
             {"role": "assistant", "content": "```scheme\n(def (port-of config)\n  (hash-get config 'port))\n```"}],
            file="/w", detail="opencode", group="opencode:s1"), source="opencode"))
    return ids


def run_report(status: dict) -> dict:
    assert status.get("report"), f"the retrain did not finish: {status}"
    return json.loads(open(status["report"].replace("report.md", "report.json")).read())


def configure(margin: float) -> None:
    """What a user of the embedded backend has in their config (retrain's promotion rewrites model.*)."""
    config = paths.user_config_file()
    base = str(smollm2_gguf())
    for key, value in {"model.backend": "llamacpp", "model.model": base, "model.num_ctx": "1024",
                       "train.base_model": base, "train.epochs": "1", "train.max_length": "256",
                       "train.batch_size": "2", "train.grad_accum": "1", "train.warmup_steps": "0",
                       "train.lora_r": "8", "train.lora_alpha": "16",
                       "eval.max_tokens": "24", "eval.concurrency": "1", "eval.temperature": "0",
                       "harvest.promote_margin": str(margin)}.items():
        set_value(config, key, value if not key.endswith(("model", "backend")) else f'"{value}"')


def test_retrain_trains_gates_and_promotes_then_keeps_a_worse_candidate(workspace, monkeypatch):
    base = str(smollm2_gguf())
    monkeypatch.setenv("GERBIL_LSP_HARVEST__RETRAIN_THRESHOLD", "5")  # the workspace opted in with 200
    ids = harvest(6)
    configure(margin=1.0)  # any candidate within 1.0 of the base is "not worse"

    with HarvestStore() as store:
        pending = store.counts()["pending"]
    threshold = load_settings().settings.harvest.retrain_threshold
    assert retrain_trigger.should_trigger(pending, threshold)  # 7 pending >= 5: what the daemon checks
    assert retrain_trigger.start_retrain() is not None  # detached, low priority, as the daemon starts it
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        status = retrain_trigger.read_status() or {}
        if status.get("state") not in (None, "running") and not retrain_trigger.retrain_running():
            break
        time.sleep(1)
    report = run_report(status)
    assert report["state"] == "promoted", report
    assert report["scores"].keys() == {"candidate", "current"}
    model = load_settings().settings.model
    assert model.backend == "llamacpp" and model.model == base
    assert model.adapter.endswith("adapter.gguf")  # the server now loads base + the new GGUF LoRA
    served = versions.current()
    assert served is not None and served.id in report["candidate"] and served.base == base
    assert served.eval_score == pytest.approx(report["scores"]["candidate"], abs=1e-4)  # the report rounds
    with HarvestStore() as store:
        assert {e.id for e in store.entries(status="used")} == set(ids)  # trained on: not trained on again
    assert status["report"].endswith("report.md") and "promoted" in open(status["report"]).read()

    # A candidate has to beat the current model by a whole point now: impossible, so it is kept.
    harvest(2, first=100)
    configure(margin=-1.0)
    second = run_retrain(force=True)
    assert second.state == "kept", second.summary()
    assert "2 new since the last retrain" in second.summary()
    assert load_settings().settings.model.adapter == model.adapter  # still serving the first candidate
    assert versions.current().id == served.id
    assert len(versions.list_versions()) == 2  # the kept candidate stays listed, for a look or a manual `use`
