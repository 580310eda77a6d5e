"""Shared test set-up: every test writes under its own GERBIL_LSP_HOME, never the user's dirs."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("gerbil-lsp-home")
    monkeypatch.setenv("GERBIL_LSP_HOME", str(home))
    for name in list(__import__("os").environ):
        if name.startswith("GERBIL_LSP_") and name != "GERBIL_LSP_HOME":
            monkeypatch.delenv(name, raising=False)
    yield home
