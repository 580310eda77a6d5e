"""Durability: kill -9 the harvester (a real subprocess) during a burst of saves; nothing is lost or corrupt."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gerbil_lsp.core import paths

FORM = re.compile(r"^\(def v(\d+) (\d+)\)$")


def start_daemon(log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "gerbil_lsp.harvest", "watch", "--no-retrain", "--poll", "60"],
                                   stdout=out, stderr=subprocess.STDOUT)
    status = paths.state_dir() / "harvest-daemon.json"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if status.exists():
            try:
                if json.loads(status.read_text())["pid"] == process.pid:
                    return process
            except (json.JSONDecodeError, KeyError):
                pass
        assert process.poll() is None, log.read_text()
        time.sleep(0.05)
    raise AssertionError("daemon did not start: " + log.read_text())


def harvested_forms(db_path: Path) -> tuple[set[int], list[str]]:
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    seen, bad = set(), []
    for (payload,) in db.execute("SELECT payload FROM entries WHERE file LIKE '%/src/burst_.ss'"):
        record = json.loads(payload)  # a torn row would fail here
        match = FORM.match(record["fim"]["middle"])
        if match and match.group(1) == match.group(2):
            seen.add(int(match.group(1)))
        else:
            bad.append(record["fim"]["middle"])
    db.close()
    return seen, bad


@pytest.mark.slow
def test_kill_9_during_a_burst_loses_nothing(workspace, tmp_path):
    log = tmp_path / "daemon.log"
    files = [workspace / "src" / f"burst{i}.ss" for i in range(4)]
    for f in files:
        f.write_text("")
    daemon = start_daemon(log)
    total, killed_at = 400, 150
    try:
        for i in range(total):
            target = files[i % len(files)]
            with open(target, "a") as fh:  # one save: append a form, close
                fh.write(f"(def v{i} {i})\n")
            if i == killed_at:
                os.kill(daemon.pid, signal.SIGKILL)
                daemon.wait()
            elif i == killed_at + 100:
                daemon = start_daemon(log)  # comes back mid-burst, catches up on what it missed
            time.sleep(0.002)
        store_path = paths.data_dir() / "harvest.sqlite"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            seen, bad = harvested_forms(store_path)
            if len(seen) == total:
                break
            time.sleep(0.2)
        assert bad == []
        assert sorted(set(range(total)) - seen) == [], "lost forms"
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
