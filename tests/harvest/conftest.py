"""Harvest test set-up: an opted-in workspace (a real folder, a real git repo) under a private home."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

GREET = '(import :std/format)\n\n(def (greet name)\n  (format "hello ~a" name))\n'


def opt_in(monkeypatch, *roots: Path, threshold: int = 200, settle: float = 0.5) -> None:
    """Enable harvesting for ``roots`` the way a user would: settings (here, environment layer)."""
    monkeypatch.setenv("GERBIL_LSP_HARVEST__ENABLED", "true")
    monkeypatch.setenv("GERBIL_LSP_HARVEST__WORKSPACES", json.dumps([str(r) for r in roots]))
    monkeypatch.setenv("GERBIL_LSP_HARVEST__RETRAIN_THRESHOLD", str(threshold))
    monkeypatch.setenv("GERBIL_LSP_HARVEST__SETTLE_SECONDS", str(settle))


@pytest.fixture
def workspace(tmp_path, monkeypatch) -> Path:
    """A git repository with a .gitignore, opted in to harvesting."""
    root = tmp_path / "ws"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".gitignore").write_text("ignored/\n*.gen.ss\n")
    (root / "src").mkdir()
    (root / "src" / "greet.ss").write_text(GREET)
    opt_in(monkeypatch, root)
    return root.resolve()


@pytest.fixture(autouse=True)
def _private_xdg(tmp_path_factory, monkeypatch):
    """OpenCode's and gerbil-lsp's XDG dirs point into the test's tmp dir, never the real home."""
    base = tmp_path_factory.mktemp("xdg")
    for name in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        path = base / name.lower()
        path.mkdir()
        monkeypatch.setenv(name, str(path))
    return base
