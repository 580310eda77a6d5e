"""The watcher on a real temporary workspace: real files, real inotify events, real git."""

from __future__ import annotations

import os
import time

import pytest

from gerbil_lsp.harvest.privacy import HarvestPolicy
from gerbil_lsp.harvest.store import HarvestStore
from gerbil_lsp.harvest.watcher import WorkspaceWatcher


def wait_until(predicate, timeout=15.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


@pytest.fixture
def running(workspace):
    store = HarvestStore()
    watcher = WorkspaceWatcher(store, HarvestPolicy.from_settings(), debounce_s=0.05)
    watcher.start()
    assert wait_until(lambda: watcher.idle() and watcher.harvested >= 1)
    yield watcher, store
    watcher.stop()
    store.close()


def middles(store):
    return [e.payload["fim"]["middle"] for e in store.entries()]


def settle(watcher):
    time.sleep(0.3)
    assert wait_until(watcher.idle)


def test_catch_up_scan_harvests_existing_files(running, workspace):
    watcher, store = running
    assert any(m.startswith("(def (greet name)") for m in middles(store))
    entry = store.entries()[0]
    assert entry.file == str(workspace / "src" / "greet.ss") and entry.source == "watch"
    fim = entry.payload["fim"]
    assert fim["prefix"] + fim["middle"] + fim["suffix"] == (workspace / "src" / "greet.ss").read_text()


def test_a_save_adds_only_the_changed_forms(running, workspace):
    watcher, store = running
    before = len(store.entries())
    path = workspace / "src" / "greet.ss"
    path.write_text(path.read_text() + "\n(def (shout name)\n  (string-upcase (greet name)))\n")
    assert wait_until(lambda: len(store.entries()) == before + 1)
    assert middles(store)[-1].startswith("(def (shout name)")
    settle(watcher)
    assert len(store.entries()) == before + 1


def test_files_that_do_not_read_cleanly_wait(running, workspace):
    watcher, store = running
    path = workspace / "src" / "half.ss"
    path.write_text("(def (half x)\n  (/ x 2)\n")  # unclosed
    settle(watcher)
    assert not any("half" in m for m in middles(store))
    path.write_text("(def (half x)\n  (/ x 2))\n")
    assert wait_until(lambda: any(m.startswith("(def (half x)") for m in middles(store)))


def test_ignored_excluded_binary_and_big_files_are_skipped(running, workspace):
    watcher, store = running
    (workspace / "ignored").mkdir()
    (workspace / "ignored" / "a.ss").write_text("(def ignored-by-git 1)\n")
    (workspace / "src" / "x.gen.ss").write_text("(def generated 1)\n")
    (workspace / "build").mkdir()
    (workspace / "build" / "b.ss").write_text("(def build-output 1)\n")
    (workspace / ".gerbil").mkdir()
    (workspace / ".gerbil" / "c.ss").write_text("(def gerbil-cache 1)\n")
    (workspace / "src" / "bin.ss").write_bytes(b"(def binary 1)\0\1\2")
    (workspace / "src" / "big.ss").write_text("(def big 1)\n" + ";" * (600 * 1024) + "\n")
    (workspace / "src" / "note.txt").write_text("(def not-gerbil 1)\n")
    (workspace / "src" / "ok.ss").write_text("(def kept 1)\n")
    assert wait_until(lambda: any("kept" in m for m in middles(store)))
    settle(watcher)
    found = " ".join(middles(store))
    for name in ("ignored-by-git", "generated", "build-output", "gerbil-cache", "binary", "(def big", "not-gerbil"):
        assert name not in found, name


def test_renames_deletes_and_atomic_saves(running, workspace):
    watcher, store = running
    src = workspace / "src" / "greet.ss"
    count = len(store.entries())
    src.rename(workspace / "src" / "hello.ss")  # a rename is not new code
    settle(watcher)
    assert len(store.entries()) == count
    # an editor's atomic save: write a temp file, rename it over the target
    target = workspace / "src" / "hello.ss"
    tmp = workspace / "src" / ".hello.ss.tmp"
    tmp.write_text(target.read_text() + "\n(def (wave) 'hi)\n")
    os.replace(tmp, target)
    assert wait_until(lambda: any(m.startswith("(def (wave)") for m in middles(store)))
    target.unlink()
    settle(watcher)
    (workspace / "src" / "new.ss").write_text("(def after-delete 1)\n")
    assert wait_until(lambda: any("after-delete" in m for m in middles(store)))


def test_symlink_loops_do_not_trap_the_scan(workspace, monkeypatch):
    (workspace / "src" / "loop").symlink_to(workspace / "src", target_is_directory=True)
    (workspace / "self").symlink_to(workspace, target_is_directory=True)
    store = HarvestStore()
    watcher = WorkspaceWatcher(store, HarvestPolicy.from_settings(), debounce_s=0.05)
    watcher.start()
    try:
        assert wait_until(lambda: watcher.idle() and watcher.harvested >= 1, timeout=20)
        assert len(store.entries()) == 2  # greet.ss's two forms once, not once per loop turn
        (workspace / "src" / "more.ss").write_text("(def more 1)\n")
        assert wait_until(lambda: len(store.entries()) == 3)
    finally:
        watcher.stop()
        store.close()


def test_workspaces_not_opted_in_are_never_read(tmp_path, monkeypatch, workspace):
    other = tmp_path / "private"
    other.mkdir()
    (other / "secret.ss").write_text("(def private-code 1)\n")
    policy = HarvestPolicy.from_settings(extra_roots=[other])
    assert policy.allows(workspace / "src" / "greet.ss")
    assert not policy.allows(other / "secret.ss")
    (other / ".gerbil-lsp.toml").write_text("[harvest]\nenabled = false\n")
    assert not HarvestPolicy.from_settings(extra_roots=[other]).allows(other / "secret.ss")


def test_secrets_are_scrubbed_before_storing(running, workspace):
    watcher, store = running
    key = "tgp_v1_" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"
    (workspace / "src" / "conf.ss").write_text(f'(def api-key "{key}")\n(def (use) api-key)\n')
    assert wait_until(lambda: any("(def (use)" in m for m in middles(store)))
    with open(store.path, "rb") as fh:
        assert key.encode() not in fh.read()
    everything = " ".join(e.payload["fim"]["prefix"] + e.payload["fim"]["middle"] for e in store.entries())
    assert key not in everything and "REDACTED" in everything
