"""The CLI as a user meets it: the real console entry point in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def run_cli(*args: str, home, cwd=None, stdin: str | None = None, env_extra=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GERBIL_LSP_")}
    env.update({"GERBIL_LSP_HOME": str(home), "COLUMNS": "200", "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "gerbil_lsp", *args],
        cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=120,
    )


def test_help_lists_commands(_isolated_home):
    result = run_cli("--help", home=_isolated_home)
    assert result.returncode == 0
    for command in ("config", "login", "status", "version"):
        assert command in result.stdout


def test_version(_isolated_home):
    result = run_cli("version", home=_isolated_home)
    assert result.returncode == 0 and result.stdout.startswith("gerbil-lsp ")


def test_config_set_then_show_reports_origin(_isolated_home, tmp_path):
    result = run_cli("config", "set", "model.backend", "ollama", home=_isolated_home, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    user_file = _isolated_home / "config" / "config.toml"
    assert "backend = \"ollama\"" in user_file.read_text()

    result = run_cli("config", "set", "train.epochs", "1", "--project", home=_isolated_home, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / ".gerbil-lsp.toml").is_file()

    shown = run_cli("config", "show", home=_isolated_home, cwd=tmp_path, env_extra={"GERBIL_LSP_MODEL__MODEL": "gerbil-qwen"})
    assert shown.returncode == 0, shown.stderr
    lines = {line.split()[1]: line for line in shown.stdout.splitlines() if line.count("│") >= 3}
    assert "ollama" in lines["model.backend"] and "config.toml" in lines["model.backend"]
    assert ".gerbil-lsp.toml" in lines["train.epochs"]
    assert "environment" in lines["model.model"]
    assert "default" in lines["train.lora_r"]


def test_config_bad_value_is_a_clear_error(_isolated_home, tmp_path):
    (tmp_path / ".gerbil-lsp.toml").write_text("[diagnostics]\ndebounce_ms = 'soon'\n")
    result = run_cli("config", "show", home=_isolated_home, cwd=tmp_path)
    assert result.returncode == 1
    assert "diagnostics.debounce_ms" in result.stderr and ".gerbil-lsp.toml" in result.stderr
    assert "Traceback" not in result.stderr


def test_login_without_keyring_refuses_plaintext(_isolated_home, tmp_path):
    result = run_cli("login", "together", home=_isolated_home, cwd=tmp_path, stdin="tgp_v1_secret_value_1234567890\n")
    assert result.returncode == 1
    assert "TOGETHER_API_KEY" in result.stderr
    written = [p for p in _isolated_home.rglob("*") if p.is_file()]
    assert all("tgp_v1_secret" not in p.read_text(errors="ignore") for p in written)


@pytest.mark.parametrize("args", [("config", "set", "model.nope", "1"), ("config", "set", "model.temperature", "hot")])
def test_config_set_refuses_bad_edits(_isolated_home, tmp_path, args):
    result = run_cli(*args, home=_isolated_home, cwd=tmp_path)
    assert result.returncode == 1 and "error:" in result.stderr


def test_status_shows_index_model_and_keys(_isolated_home, tmp_path):
    result = run_cli("status", home=_isolated_home, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "bundled (reference docs only)" in result.stdout and "unbound-identifier checks off" in result.stdout
    assert "none (index features only)" in result.stdout
    assert "together key" in result.stdout and "not set" in result.stdout
