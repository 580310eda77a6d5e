"""`gerbil-lsp init`: detection on this machine, the recommendation and estimate, and the resumable walk."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from typer.testing import CliRunner

from gerbil_lsp.core.settings import load_settings
from gerbil_lsp.trainer import init as plan
from gerbil_lsp.trainer.deploy_cli import init as init_command
from tests.fakes.fixtures import closed_port_url
from tests.fakes.ollama_fake import OllamaFake

DATASET = Path(__file__).parent / "fixtures" / "dataset"


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("init")(init_command)
    app.command("noop")(lambda: None)  # a second command keeps `init` a named subcommand
    return app


def test_detection_on_this_machine(monkeypatch):
    import torch

    monkeypatch.setenv("OLLAMA_HOST", closed_port_url())
    monkeypatch.setenv("TOGETHER_API_KEY", "tk-test")
    machine = plan.detect(load_settings().settings)
    assert bool(machine.cuda) == torch.cuda.is_available()
    assert machine.cuda_source == "torch"
    assert machine.ollama_version is None
    assert machine.together_key == "TOGETHER_API_KEY"  # where the key is, never the key
    if not machine.cuda:
        path, why = plan.recommend(machine)
        assert path == "together" and "no CUDA GPU" in why


def test_reachable_ollama_is_detected(monkeypatch):
    """GET /api/version answers {"version": ...}."""
    with OllamaFake() as fake:
        monkeypatch.setenv("OLLAMA_HOST", fake.url)
        machine = plan.detect(load_settings().settings)
    assert machine.ollama_version == "0.0.0-fake" and machine.ollama_url == fake.url


def test_recommendation_rules():
    assert plan.recommend(plan.Machine(cuda=[("RTX 4090", 24.0)]))[0] == "local"
    assert plan.recommend(plan.Machine(cuda=[("RTX 3060", 12.0)], together_key="keyring"))[0] == "together"
    assert plan.recommend(plan.Machine(ollama_version="0.9.0"))[0] == "rented"
    assert plan.recommend(plan.Machine())[0] == "together"


def test_estimate_uses_dataset_tokens_and_price_settings(monkeypatch):
    from gerbil_lsp.data.stats import LengthCounter

    monkeypatch.setenv("GERBIL_LSP_PRICES__TOGETHER_LORA_PER_MTOK", "1000")
    monkeypatch.setenv("GERBIL_LSP_PRICES__GPU_HOUR", "3.5")
    settings = load_settings().settings
    texts = []
    for line in (DATASET / "train.messages.jsonl").read_text().splitlines():
        texts.append("\n".join(m["content"] for m in json.loads(line)["messages"]))
    for line in (DATASET / "train.fim.jsonl").read_text().splitlines():
        row = json.loads(line)
        texts.append(row["prompt"] + row["completion"])
    expected_tokens = sum(LengthCounter().lengths(texts))
    tokens, method = plan.dataset_tokens(DATASET)
    assert tokens == expected_tokens and "estimate" in method
    found = plan.estimates(tokens, settings, plan.Machine())
    assert found["together"].usd == tokens * 3 / 1e6 * 1000
    rate = plan.throughput()["cuda"]
    assert found["rented"].usd == (tokens * 3 / rate / 3600 + plan.RENTED_SETUP_HOURS) * 3.5
    assert found["local"].usd == 0.0


def test_init_yes_dry_run_recommends_together_with_an_estimate(monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", closed_port_url())
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    monkeypatch.setenv("GERBIL_LSP_PRICES__TOGETHER_LORA_PER_MTOK", "1000")
    result = CliRunner().invoke(_app(), ["init", "--yes", "--dry-run", "--dataset", str(DATASET)],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    import torch

    if not torch.cuda.is_available():
        assert "recommended: together" in out
    tokens, _ = plan.dataset_tokens(DATASET)
    assert f"estimates for {tokens:,} dataset tokens" in out
    assert f"{tokens * 3 / 1e6 * 1000:.2f}" in out  # the Together cost, from the price setting
    for step in ("build the dataset", "train (together)", "configure OpenCode", "evaluate the served model"):
        assert step in out
    assert "dry run: nothing was run" in out
    assert not plan.state_path().exists()


def _step(name: str, code: str, needs=()) -> plan.Step:
    return plan.Step(name, name, lambda ctx: [sys.executable, "-c", code], [list(n) for n in needs])


def test_walk_is_resumable_and_reports_unavailable_steps(tmp_path):
    log = tmp_path / "log"
    flag = tmp_path / "second-time"
    append = f"open({str(log)!r}, 'a').write('{{}}\\n')"
    steps = [
        _step("one", append.format("one")),
        _step("two", f"import os, sys; {append.format('two')}; "
                     f"sys.exit(0 if os.path.exists({str(flag)!r}) else 3)"),
        _step("three", append.format("three")),
    ]
    ctx = plan.Context("together", DATASET, load_settings().settings)
    console = plan.Console(record=True, width=200)
    state = plan.walk(steps, ctx, console=console)
    assert log.read_text().split() == ["one", "two"]
    assert state["steps"]["one"]["status"] == "done" and state["steps"]["two"] == {
        **state["steps"]["two"], "status": "failed", "rc": 3}
    assert "finished" not in state and "re-run `gerbil-lsp init`" in console.export_text()

    flag.write_text("fixed")
    state = plan.walk(steps, ctx, console=console)
    assert log.read_text().split() == ["one", "two", "two", "three"]  # step one was not run again
    assert state.get("finished") and all(s["status"] == "done" for s in state["steps"].values())
    assert json.loads(plan.state_path().read_text())["finished"] == state["finished"]


def test_a_step_whose_part_is_missing_is_unavailable_not_faked(tmp_path):
    marker = tmp_path / "ran"
    steps = [_step("real", "pass"), _step("missing", f"open({str(marker)!r}, 'w')", needs=[["no-such-part"]])]
    ctx = plan.Context("local", DATASET, load_settings().settings)
    state = plan.walk(steps, ctx, console=plan.Console(record=True, width=200))
    assert state["steps"]["missing"]["status"] == "unavailable"
    assert "no-such-part" in state["steps"]["missing"]["reason"]
    assert not marker.exists()


def test_existing_dataset_is_kept_not_rebuilt():
    ctx = plan.Context("together", DATASET, load_settings().settings)
    [data_step] = [s for s in plan.default_steps("together") if s.name == "data"]
    assert "already" in data_step.already(ctx)
