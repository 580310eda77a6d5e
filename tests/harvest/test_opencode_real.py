"""Real OpenCode 1.18, offline, writes a real opencode.db; we harvest it, and its plugin reaches our daemon.

OpenCode runs under ``unshare -n`` (only loopback), against the loopback fake
OpenAI chat model in :mod:`tests.harvest.fake_chat_model`. It is installed from
npm (``opencode-ai@1.18.33``) into ``tests/.tools/opencode`` on first use.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gerbil_lsp.harvest.daemon import HarvestDaemon, socket_path
from gerbil_lsp.harvest.opencode import harvest_opencode
from gerbil_lsp.harvest.privacy import HarvestPolicy
from gerbil_lsp.harvest.store import HarvestStore
from tests.harvest.conftest import opt_in

HERE = Path(__file__).parent
REPO = HERE.parent.parent
TOOLS = REPO / "tests" / ".tools" / "opencode"
VERSION = "1.18.33"
PLUGIN = REPO / "plugin" / "opencode" / "src" / "index.ts"

PROMPT = """Add a Gerbil procedure that squares a number.
WRITE square.ss
```scheme
(export square)
(def (square x) (* x x))
```
"""


def _binary() -> Path | None:
    for name in ("opencode-linux-x64", "opencode-linux-x64-baseline", "opencode-linux-arm64"):
        candidate = TOOLS / "node_modules" / name / "bin" / "opencode"
        if candidate.is_file():
            return candidate
    return None


@pytest.fixture(scope="session")
def opencode_bin() -> Path:
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        pytest.skip("running OpenCode offline needs root for `unshare -n` and `ip`")
    if _binary() is None:
        if not shutil.which("npm"):
            pytest.skip("npm is needed to install opencode-ai")
        TOOLS.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", str(TOOLS), "--no-audit", "--no-fund", f"opencode-ai@{VERSION}"],
                       check=True, timeout=600, capture_output=True)
    binary = _binary()
    if binary is None:
        pytest.skip("no OpenCode binary for this platform")
    version = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    assert version == VERSION, f"tests/.tools has OpenCode {version}, expected {VERSION}: delete it to reinstall"
    return binary


def run_opencode(binary: Path, home: Path, workspace: Path, prompts: list[str], config: dict | None = None,
                 log: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    command = ["unshare", "-n", sys.executable, str(HERE / "opencode_offline.py"), "--opencode", str(binary),
               "--home", str(home), "--workspace", str(workspace), "--config", json.dumps(config or {})]
    for prompt in prompts:
        command += ["--prompt", prompt]
    for name, value in (env or {}).items():
        command += ["--env", f"{name}={value}"]
    if log:
        command += ["--log", str(log)]
    return subprocess.run(command, capture_output=True, text=True, timeout=580)


def _digest(folder: Path) -> dict[str, str]:
    """The database and its WAL; not ``-shm``, the WAL index every reader updates its read mark in."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.glob("opencode.db*")) if not p.name.endswith("-shm")}


@pytest.mark.slow
def test_opencode_session_with_plugin_is_harvested_at_once(opencode_bin, tmp_path, monkeypatch):
    home, workspace = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    workspace.mkdir()
    opt_in(monkeypatch, workspace)
    # no polling: only the plugin's notice can make it harvest
    daemon = HarvestDaemon(poll_s=3600, retrain=False, opencode_dir=home / ".local" / "share" / "opencode")
    daemon.start()
    try:
        plugin = [[PLUGIN.as_uri(), {"socket": str(socket_path())}]]
        done = run_opencode(opencode_bin, home, workspace, [PROMPT, "How do I use square with for/collect in Gerbil?"],
                            config={"plugin": plugin}, log=tmp_path / "model.jsonl")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert (workspace / "square.ss").read_text() == "(export square)\n(def (square x) (* x x))\n"
        idle = [e for e in daemon.events if e["type"] == "session.idle"]
        assert idle, "the plugin never told the daemon (OpenCode output:\n" + done.stdout[-2000:] + ")"
        entries = daemon.store.entries(kind="chat")
        assert len(entries) == 1 and entries[0].source == "opencode"
    finally:
        daemon.stop()
    messages = entries[0].payload["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert "squares a number" in messages[0]["content"]
    assert "for/collect" in messages[2]["content"]
    assert "(def (square x) (* x x))" in messages[-1]["content"]  # the final code of the edited file
    assert entries[0].session_id == idle[-1]["sessionID"]


@pytest.mark.slow
def test_real_opencode_db_read_only_and_edits_must_survive(opencode_bin, tmp_path, monkeypatch):
    home, workspace = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    workspace.mkdir()
    opt_in(monkeypatch, workspace)
    done = run_opencode(opencode_bin, home, workspace,
                        [PROMPT, "What does (import :std/sugar) give me?"])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    data_dir = home / ".local" / "share" / "opencode"
    assert (data_dir / "opencode.db").is_file()
    before = _digest(data_dir)
    # the user later throws away what the session wrote: nothing to learn from it
    (workspace / "square.ss").write_text("(export cube)\n(def (cube x) (* x x x))\n")
    with HarvestStore() as store:
        result = harvest_opencode(store, HarvestPolicy.from_settings(), data_dir=data_dir)
        assert list(result.outcomes.values()) == ["edits-gone"] and store.entries() == []
        # the code comes back as OpenCode wrote it: the session's time is unchanged, so it is looked at again only
        # when OpenCode updates it; a fresh store sees it
    assert _digest(data_dir) == before, "harvesting wrote to OpenCode's database"
    (workspace / "square.ss").write_text("(export square)\n\n(def (square x) (* x x))\n")
    with HarvestStore(tmp_path / "fresh.sqlite") as fresh:
        result = harvest_opencode(fresh, HarvestPolicy.from_settings(), data_dir=data_dir)
        assert list(result.outcomes.values()) == ["harvested"]
        (entry,) = fresh.entries()
        assert "(import :std/sugar)" in entry.payload["messages"][2]["content"]
        # a second look finds nothing new
        assert harvest_opencode(fresh, HarvestPolicy.from_settings(), data_dir=data_dir).stored == []
    assert _digest(data_dir) == before


def test_the_plugin_typechecks_against_opencode_plugin_types():
    tsc = REPO / "plugin" / "opencode" / "node_modules" / ".bin" / "tsc"
    if not tsc.exists():
        pytest.skip("run `npm install` in plugin/opencode to typecheck the plugin")
    done = subprocess.run([str(tsc), "--noEmit", "-p", str(REPO / "plugin" / "opencode")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


