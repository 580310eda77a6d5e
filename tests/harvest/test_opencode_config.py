"""`gerbil-lsp opencode install`: merge keeps every other key and every comment; idempotent; backups; dry-run."""

from __future__ import annotations

import json

import json5
import pytest
from typer.testing import CliRunner

from gerbil_lsp.harvest.cli import opencode_app
from gerbil_lsp.harvest.opencode_config import (
    ConfigEditError,
    OpenCodeInstall,
    install_config,
    merge_config,
)

USER_JSONC = """{
  // my OpenCode setup
  "$schema": "https://opencode.ai/config.json",
  "theme": "tokyonight",
  "mcp": {
    "gerbil": { "type": "local", "command": ["gerbil-mcp"], "enabled": true }, // the MCP server
  },
  /* two providers I use */
  "provider": {
    "anthropic": { "options": { "apiKey": "{env:ANTHROPIC_API_KEY}" } }, // keep me
    "ollama": {
      "npm": "@ai-sdk/openai-compatible",
      "options": { "baseURL": "http://localhost:11434/v1" },
      "models": { "qwen2.5-coder:7b": {} },
    },
  },
  "lsp": { "pyright": { "disabled": true } },
  "plugin": ["opencode-notify"],
  "model": "anthropic/claude-sonnet-4" // the old default
}
"""

INSTALL = OpenCodeInstall(base_url="http://127.0.0.1:8080/v1", model="gerbil-qwen", api_key_env="GERBIL_LSP_KEY",
                          plugin_spec="file:///home/u/.local/share/gerbil-lsp/data/opencode/gerbil-lsp-harvest.ts",
                          socket="/run/user/1/gerbil-lsp/harvest.sock")


def test_merge_keeps_other_keys_and_every_comment():
    merged, notes = merge_config(USER_JSONC, INSTALL)
    for comment in ("// my OpenCode setup", "// the MCP server", "/* two providers I use */", "// keep me",
                    "// the old default"):
        assert comment in merged
    config = json5.loads(merged)
    assert config["mcp"] == {"gerbil": {"type": "local", "command": ["gerbil-mcp"], "enabled": True}}
    assert config["theme"] == "tokyonight"
    assert set(config["provider"]) == {"anthropic", "ollama", "gerbil-lsp"}
    ours = config["provider"]["gerbil-lsp"]
    assert ours["npm"] == "@ai-sdk/openai-compatible"
    assert ours["options"] == {"baseURL": "http://127.0.0.1:8080/v1", "apiKey": "{env:GERBIL_LSP_KEY}"}
    assert "gerbil-qwen" in ours["models"]
    assert config["model"] == "gerbil-lsp/gerbil-qwen"
    assert config["lsp"]["pyright"] == {"disabled": True}
    assert config["lsp"]["gerbil-lsp"] == {"command": ["gerbil-lsp", "serve"], "extensions": [".ss", ".scm", ".sld"]}
    assert config["plugin"][0] == "opencode-notify" and config["plugin"][1][0].endswith("gerbil-lsp-harvest.ts")
    assert any("was anthropic/claude-sonnet-4" in n for n in notes)
    # the untouched parts are byte for byte what the user wrote
    assert merged.startswith(USER_JSONC[: USER_JSONC.index('"provider"')])


def test_merge_is_idempotent_and_updates_in_place():
    once, _ = merge_config(USER_JSONC, INSTALL)
    twice, notes = merge_config(once, INSTALL)
    assert twice == once and notes == []
    moved = OpenCodeInstall(**{**INSTALL.__dict__, "base_url": "http://127.0.0.1:9090/v1"})
    updated, _ = merge_config(once, moved)
    assert json5.loads(updated)["provider"]["gerbil-lsp"]["options"]["baseURL"] == "http://127.0.0.1:9090/v1"
    assert updated.count('"gerbil-lsp": {') == once.count('"gerbil-lsp": {')
    assert len(json5.loads(updated)["plugin"]) == 2


def test_plain_json_stays_plain_json(tmp_path):
    (tmp_path / "opencode.json").write_text(json.dumps({"mcp": {"x": {"type": "remote", "url": "https://x"}},
                                                        "provider": {"openai": {}}}, indent=2))
    result = install_config(tmp_path, INSTALL)
    config = json.loads(result.path.read_text())  # strict JSON still parses
    assert config["mcp"] == {"x": {"type": "remote", "url": "https://x"}} and "openai" in config["provider"]
    assert result.backup is not None and json.loads(result.backup.read_text())["provider"] == {"openai": {}}
    again = install_config(tmp_path, INSTALL)
    assert not again.changed and again.backup is None


def test_the_key_itself_is_never_written(tmp_path, monkeypatch):
    monkeypatch.setenv("GERBIL_LSP_KEY", "sk-" + "z" * 40)
    result = install_config(tmp_path, INSTALL)
    assert "sk-" not in result.path.read_text() and "{env:GERBIL_LSP_KEY}" in result.path.read_text()


def test_lsp_false_is_respected_and_bad_files_are_refused(tmp_path):
    merged, notes = merge_config('{"lsp": false}', INSTALL)
    assert json5.loads(merged)["lsp"] is False and any("left as it is" in n for n in notes)
    with pytest.raises(ConfigEditError, match="not valid JSON"):
        merge_config('{"provider": ', INSTALL)
    with pytest.raises(ConfigEditError, match="'plugin' is not a list"):
        merge_config('{"plugin": "x"}', INSTALL)


def test_cli_dry_run_shows_a_diff_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "opencode.jsonc").write_text(USER_JSONC)
    result = CliRunner().invoke(opencode_app, ["install", "--project", "--dry-run", "--base-url",
                                               "http://127.0.0.1:8080/v1", "--model", "gerbil-qwen"])
    assert result.exit_code == 0, result.output
    assert "+" in result.output and "gerbil-lsp" in result.output
    assert (tmp_path / "opencode.jsonc").read_text() == USER_JSONC
    result = CliRunner().invoke(opencode_app, ["install", "--project", "--base-url", "http://127.0.0.1:8080/v1",
                                               "--model", "gerbil-qwen"])
    assert result.exit_code == 0, result.output
    written = json5.loads((tmp_path / "opencode.jsonc").read_text())
    plugin_file = written["plugin"][1][0].removeprefix("file://")
    assert open(plugin_file).read().startswith("/**")  # the plugin was copied where the config points
    assert list(tmp_path.glob("opencode.jsonc.bak-*"))


def test_cli_without_a_model_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(opencode_app, ["install", "--project"])
    assert result.exit_code == 1 and "--base-url" in result.output
