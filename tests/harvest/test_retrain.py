"""Retrain orchestration: dry-run, threshold, the lock (two triggers -> one retrain), status and report."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import typer
from typer.testing import CliRunner

from gerbil_lsp.core import paths
from gerbil_lsp.harvest import retrain_trigger
from gerbil_lsp.harvest.cli import retrain
from gerbil_lsp.harvest.records import chat_record, fim_record
from gerbil_lsp.harvest.retrain import RetrainError, harvest_records, run_retrain
from gerbil_lsp.harvest.store import HarvestStore


def fill(n: int) -> list[int]:
    with HarvestStore() as store:
        ids = [store.add("fim", fim_record("(import :std/iter)\n", f"(def (sq{i} x) (* x x {i}))", "\n",
                                           path="/w/a.ss", detail="watch"), source="watch") for i in range(n)]
        ids.append(store.add("chat", chat_record([{"role": "user", "content": "gerbil: square?"},
                                                  {"role": "assistant", "content": "```scheme\n(def (sq x) (* x x))\n```"}],
                                                 file="/w", detail="opencode", group="opencode:s"), source="opencode"))
    return ids


def cli() -> typer.Typer:
    app = typer.Typer()
    app.command()(retrain)
    return app


def test_dry_run_says_what_a_retrain_would_use_and_do(workspace):
    fill(3)
    result = CliRunner().invoke(cli(), ["--dry-run", "--force"])
    assert result.exit_code == 0, result.output
    assert "dry-run" in result.output and "fim/watch 3" in result.output and "chat/opencode 1" in result.output
    assert "gate" in result.output and "promote" in result.output
    assert not retrain_trigger.status_path().exists()  # a dry run changes nothing
    with HarvestStore() as store:
        assert store.counts()["pending"] == 4


def test_below_the_threshold_it_refuses_without_force(workspace):
    fill(2)
    with pytest.raises(RetrainError, match="below the threshold of 200"):
        run_retrain()
    assert "below the threshold" in run_retrain(dry_run=True).reason


def test_records_match_what_the_data_part_reads(workspace):
    fill(1)
    from gerbil_lsp.data import entries_from_harvest

    with HarvestStore() as store:
        records = harvest_records(store.entries())
    entries = entries_from_harvest(records)
    assert [e.kind for e in entries] == ["fim", "chat"]
    assert entries[0].fim.middle == "(def (sq0 x) (* x x 0))" and entries[0].provenance.source == "harvest"


def test_trigger_waits_for_threshold_lock_and_failure_backoff(workspace):
    assert not retrain_trigger.should_trigger(5, 10)
    assert retrain_trigger.should_trigger(10, 10)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from filelock import FileLock; l = FileLock(sys.argv[1]); l.acquire(); "
        "print('held', flush=True); time.sleep(60)"), str(retrain_trigger.retrain_lock_path())],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert retrain_trigger.retrain_running()
        assert not retrain_trigger.should_trigger(10, 10)
        assert retrain_trigger.start_retrain(["--force"]) is None
    finally:
        holder.kill()
        holder.wait()
    assert not retrain_trigger.retrain_running()
    retrain_trigger.write_status(state="failed", message="boom")
    assert not retrain_trigger.should_trigger(10, 10)  # backs off after a failure
    assert retrain_trigger.should_trigger(10, 10, now=time.time() + retrain_trigger.FAILURE_COOLDOWN_S + 1)


@pytest.mark.slow
def test_two_triggers_at_once_start_one_retrain(workspace):
    ids = fill(3)
    log = paths.log_dir() / "retrain.log"
    first = retrain_trigger.start_retrain(["--force"])
    second = retrain_trigger.start_retrain(["--force"])  # the first has not taken the lock yet: both start...
    assert first and second
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        status = retrain_trigger.read_status()
        if status and status.get("state") != "running" and not retrain_trigger.retrain_running():
            break
        time.sleep(0.5)
    time.sleep(3)  # the loser's 2 s wait for the lock
    runs = list(paths.runs_dir().glob("retrain-*"))
    assert len(runs) == 1, runs  # ...but only one of them retrains
    assert "a retrain is already running" in log.read_text()
    status = retrain_trigger.read_status()
    assert (runs[0] / "report.md").exists() and status["report"] == str(runs[0] / "report.md")
    if status["state"] == "failed":  # the default 7B base is not here: entries are kept for the next try
        with HarvestStore() as store:
            assert {e.id for e in store.entries(status="pending")} == set(ids)
