"""The server through real editors' LSP clients: Neovim (headless) and Emacs eglot (batch).

Each editor opens a Gerbil file with a wrong-arity call, then asks for hover,
completion, and a workspace symbol defined in another file of the folder, and
formats a third file with its own formatting command; Neovim also lists who calls
a procedure (a caller in a file it never opened); the client's own view of
the results (the formatted buffer's text) is written to JSON and checked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "editors"
SOURCE = "(def h (make-hash-table))\n(hash-get h 'a 'b)\n(hash-\n"
UTIL = "(export frobnicate-widget)\n(def (frobnicate-widget w) w)\n"
CALLS = "(import ./util)\n(def (polish w)\n  (frobnicate-widget w))\n"
MESSY = "(def (f x)\n(let ((a 1)\n(b 2))\n(g a\nb)))\n"
TIDY = "(def (f x)\n  (let ((a 1)\n        (b 2))\n    (g a\n       b)))\n"


def run_editor(command: list[str], tmp_path: Path) -> dict:
    result_json = tmp_path / "result.json"
    env = {**os.environ, "GERBIL_LSP_PYTHON": sys.executable, "RESULT_JSON": str(result_json),
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result_json.is_file(), f"editor wrote no result\nstdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-2000:]}"
    return json.loads(result_json.read_text())


def check(result: dict) -> None:
    messages = result["diagnostics"]
    messages = [m["message"] if isinstance(m, dict) else m for m in messages]
    assert any("'hash-get' takes 2 arguments, given 3" in m for m in messages), messages
    assert "(hash-get hash key)" in result["hover"] and "#f" in result["hover"]
    assert "hash-get" in result["completion"] and "hash-put!" in result["completion"]
    assert result["workspace_symbols"] == ["frobnicate-widget"]  # from util.ss, which the editor never opened
    assert result["formatted"].rstrip("\n") == TIDY.rstrip("\n")


def folder(tmp_path: Path) -> Path:
    (tmp_path / "util.ss").write_text(UTIL)
    (tmp_path / "messy.ss").write_text(MESSY)
    (tmp_path / "calls.ss").write_text(CALLS)
    source = tmp_path / "main.ss"
    source.write_text(SOURCE)
    return source


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("nvim") is None, reason="Debian's neovim is not installed (.ci/run installs it)")
def test_neovim_headless(tmp_path):
    source = folder(tmp_path)
    result = run_editor(["nvim", "--headless", "-u", "NONE", "-c", f"luafile {HERE / 'neovim_client.lua'}", str(source)],
                        tmp_path)
    check(result)
    # its quickfix list, from :lua vim.lsp.buf.incoming_calls() (eglot 1.9 has no call hierarchy)
    assert result["incoming_calls"] == [{"caller": "polish", "file": "calls.ss", "line": 3}]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("emacs") is None, reason="Debian's emacs-nox is not installed (.ci/run installs it)")
def test_emacs_eglot_batch(tmp_path):
    source = folder(tmp_path)
    check(run_editor(["emacs", "--batch", "-q", "-l", str(HERE / "eglot_client.el"), str(source)], tmp_path))
