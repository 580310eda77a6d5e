"""Where gerbil-lsp keeps what it writes: platform dirs, overridable for tests.

Everything the tool writes goes under these directories (platformdirs), never
next to the user's code. ``GERBIL_LSP_HOME`` puts all of them under one folder,
which is what tests and portable installs want.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "gerbil-lsp"


def _home_override() -> Path | None:
    home = os.environ.get("GERBIL_LSP_HOME")
    return Path(home).expanduser() if home else None


def _dir(kind: str) -> Path:
    home = _home_override()
    if home is not None:
        path = home / kind
    else:
        path = Path(getattr(platformdirs, f"user_{kind}_dir")(APP, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    return _dir("config")


def data_dir() -> Path:
    return _dir("data")


def cache_dir() -> Path:
    return _dir("cache")


def state_dir() -> Path:
    return _dir("state")


def log_dir() -> Path:
    return _dir("log")


def user_config_file() -> Path:
    return config_dir() / "config.toml"


def index_file() -> Path:
    """The user's built symbol index (the bundled one is used when absent)."""
    return data_dir() / "index.json.gz"


def runs_dir() -> Path:
    path = data_dir() / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    path = data_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path
