"""Settings: merge order, origins, clear errors, comment-preserving edits."""

from __future__ import annotations

import pytest

from gerbil_lsp.core import paths
from gerbil_lsp.core.settings import (
    Layer,
    SettingsError,
    env_layer,
    find_project_file,
    load_settings,
    set_value,
    validate,
)


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_when_nothing_is_set(tmp_path):
    loaded = load_settings(tmp_path, environ={})
    assert loaded.settings.model.backend == "none"
    assert loaded.settings.train.lora_r == 16
    assert loaded.origin("model.backend") == "default"


def test_merge_order_user_project_env_init_options(tmp_path):
    user = write(paths.user_config_file(), "[model]\nbackend = 'ollama'\nmodel = 'user-model'\ntemperature = 0.5\n")
    project_root = tmp_path / "proj"
    project = write(project_root / ".gerbil-lsp.toml", "[model]\nmodel = 'project-model'\n[train]\nepochs = 1\n")
    nested = project_root / "src" / "deep"
    nested.mkdir(parents=True)

    loaded = load_settings(
        nested,
        init_options={"train": {"epochs": 2}},
        environ={"GERBIL_LSP_MODEL__TEMPERATURE": "0.1"},
    )
    s = loaded.settings
    assert s.model.backend == "ollama" and loaded.origin("model.backend") == str(user)
    assert s.model.model == "project-model" and loaded.origin("model.model") == str(project)
    assert s.model.temperature == 0.1 and loaded.origin("model.temperature") == "environment"
    assert s.train.epochs == 2 and loaded.origin("train.epochs") == "initializationOptions"


def test_bad_value_names_file_key_expected_and_found(tmp_path):
    write(tmp_path / ".gerbil-lsp.toml", "[model]\ntemperature = 'hot'\n")
    with pytest.raises(SettingsError) as info:
        load_settings(tmp_path, environ={})
    message = str(info.value)
    assert str(tmp_path / ".gerbil-lsp.toml") in message
    assert "model.temperature" in message
    assert "'hot'" in message
    assert "number" in message


def test_unknown_key_and_bad_literal_are_reported(tmp_path):
    with pytest.raises(SettingsError, match="unknown key 'model.colour'"):
        validate([Layer("x.toml", {"model": {"colour": "red"}})])
    with pytest.raises(SettingsError, match="expected input should be 'none', 'ollama'"):
        validate([Layer("x.toml", {"model": {"backend": "gpt"}})])


def test_invalid_toml_names_the_file(tmp_path):
    bad = write(tmp_path / ".gerbil-lsp.toml", "[model\nbackend = 1\n")
    with pytest.raises(SettingsError, match="invalid TOML") as info:
        load_settings(tmp_path, environ={})
    assert str(bad) in str(info.value)


def test_env_values_parse_as_toml_literals():
    layer = env_layer({"GERBIL_LSP_HARVEST__ENABLED": "true", "GERBIL_LSP_HARVEST__WORKSPACES": "['/a', '/b']",
                       "GERBIL_LSP_MODEL__MODEL": "qwen2.5-coder:7b", "OTHER": "x", "GERBIL_LSP_HOME": "/tmp"})
    assert layer.values == {"harvest": {"enabled": True, "workspaces": ["/a", "/b"]}, "model": {"model": "qwen2.5-coder:7b"}}


def test_find_project_file_walks_upward(tmp_path):
    assert find_project_file(tmp_path) is None
    target = write(tmp_path / ".gerbil-lsp.toml", "")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_project_file(deep) == target


def test_set_value_keeps_comments_and_validates(tmp_path):
    file = write(tmp_path / "config.toml", "# my settings\n[model]  # the model\nbackend = 'ollama' # local\n")
    set_value(file, "model.model", "gerbil-qwen")
    set_value(file, "train.epochs", "1")
    text = file.read_text()
    assert "# my settings" in text and "# the model" in text and "# local" in text
    loaded = validate([Layer(str(file), __import__("tomllib").loads(text))])
    assert loaded.settings.model.model == "gerbil-qwen" and loaded.settings.train.epochs == 1

    before = file.read_text()
    with pytest.raises(SettingsError):
        set_value(file, "model.temperature", "'hot'")
    with pytest.raises(SettingsError, match="unknown key"):
        set_value(file, "model.nope", "1")
    assert file.read_text() == before  # a refused edit leaves the file untouched
