"""One validated settings model, merged from every place a user can set things.

Order, weakest first: defaults < user ``config.toml`` (platform config dir) <
project ``.gerbil-lsp.toml`` (found upward from the workspace) < environment
``GERBIL_LSP_SECTION__KEY`` < LSP initializationOptions. Each effective key
remembers where it came from, so ``gerbil-lsp config show`` can say so and a
bad value can be reported with the file, key, expected and found.

Secrets never live here: see :mod:`gerbil_lsp.core.secrets`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import tomlkit
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gerbil_lsp.core import paths
from gerbil_lsp.core.atomic import write_text_atomic

PROJECT_FILE = ".gerbil-lsp.toml"
ENV_PREFIX = "GERBIL_LSP_"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class IndexSettings(_Section):
    """Where the symbol index comes from."""

    path: str | None = Field(None, description="index file to load; default: the built one in the data dir, else the bundled one")
    docs: str | None = Field(None, description="Gerbil docs folder (markdown) for `index build`")
    gerbil_src: str | None = Field(None, description="Gerbil source tree (its src/) for `index build`")
    projects: list[str] = Field(default_factory=list, description="your own Gerbil projects to index")
    workspace_files: int = Field(2000, ge=0, description="the server indexes up to this many .ss files of the "
                                 "open workspace live, as you edit them; 0: off")


class ModelSettings(_Section):
    """The model that serves completions and answers (see `gerbil-lsp deploy`)."""

    backend: Literal["none", "ollama", "openai", "together", "llamacpp"] = "none"
    model: str = Field("", description="model name at the backend, or a GGUF path for llamacpp")
    base_url: str = Field("", description="endpoint URL (ollama: http://127.0.0.1:11434; openai: .../v1)")
    api_key_name: str = Field("", description="keyring entry holding the endpoint's key (see `gerbil-lsp login`)")
    adapter: str = Field("", description="GGUF LoRA adapter for llamacpp")
    chat_only: bool = Field(False, description="endpoint has no /v1/completions: use chat completions")
    num_ctx: int = Field(8192, ge=256)
    keep_alive: str = "30m"
    temperature: float = Field(0.2, ge=0.0, le=2.0)
    max_tokens: int = Field(128, ge=1, le=8192)
    timeout_s: float = Field(10.0, gt=0)


class CompletionSettings(_Section):
    """How the editor asks the model for code."""

    inline: bool = Field(True, description="serve textDocument/inlineCompletion (ghost text)")
    model_items: bool = Field(True, description="also offer model completions as completion items")
    debounce_ms: int = Field(150, ge=0, le=5000)
    budget_ms: int = Field(1500, ge=50, description="time a completion may wait for the model")
    prefix_tokens: int = Field(1536, ge=64)
    suffix_tokens: int = Field(512, ge=0)
    repo_context_tokens: int = Field(1024, ge=0)
    cache_size: int = Field(256, ge=0)


class DiagnosticsSettings(_Section):
    debounce_ms: int = Field(250, ge=0, le=10000)
    unbound: bool = True
    arity: bool = True
    drift: bool = True


class DataSettings(_Section):
    docs: str | None = None
    cookbooks: list[str] = Field(default_factory=list)
    gerbil_src: str | None = None
    projects: list[str] = Field(default_factory=list)
    output: str = "out/dataset"
    seed: int = 42
    heldout_fraction: float = Field(0.05, ge=0.0, lt=1.0, description="share of source groups held out of training")
    tokenizer: str | None = Field(None, description="the base model's tokenizer.json, for token counts in the report")


class TrainSettings(_Section):
    """The proven LoRA recipe; every value is also a `gerbil-lsp train` flag."""

    backend: Literal["local", "together"] = "local"
    engine: Literal["auto", "unsloth", "peft"] = Field("auto", description="local engine: Unsloth on CUDA when "
                                                      "installed (auto), or transformers + peft + trl")
    base_model: str = "Qwen/Qwen2.5-Coder-7B-Instruct"
    unsloth_base_model: str = "unsloth/Qwen2.5-Coder-7B-Instruct-bnb-4bit"
    together_base_model: str = "Qwen/Qwen2.5-7B-Instruct"
    together_poll_s: float = Field(10.0, gt=0, description="seconds between looks at a running Together job")
    lora_r: int = Field(16, ge=1)
    lora_alpha: int = Field(32, ge=1)
    lora_dropout: float = Field(0.0, ge=0.0, lt=1.0)
    target_modules: list[str] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )
    epochs: float = Field(3, gt=0)
    learning_rate: float = Field(2e-4, gt=0)
    batch_size: int = Field(2, ge=1)
    grad_accum: int = Field(4, ge=1)
    warmup_steps: int = Field(10, ge=0)
    max_length: int = Field(4096, ge=64)
    packing: bool = True
    seed: int = 42


class HarvestSettings(_Section):
    """Learning from your own work: opt-in per workspace."""

    enabled: bool = False
    workspaces: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=lambda: ["**/.git/**", "**/.gerbil/**", "**/build/**"])
    max_file_kb: int = Field(512, ge=1)
    settle_seconds: float = Field(30.0, ge=0)
    retrain_threshold: int = Field(200, ge=1)
    promote_margin: float = Field(0.0, description="candidate must score >= current - margin")


class EvalSettings(_Section):
    concurrency: int = Field(4, ge=1, le=64)
    retries: int = Field(2, ge=0, le=10)
    temperature: float = Field(0.2, ge=0.0, le=2.0)
    max_tokens: int = Field(768, ge=16)


class PriceSettings(_Section):
    """Prices change: they are settings, used only for estimates."""

    together_lora_per_mtok: float = Field(0.48, ge=0, description="USD per million training tokens")
    gpu_hour: float = Field(2.0, ge=0, description="USD per hour of a rented GPU")


class Settings(_Section):
    index: IndexSettings = Field(default_factory=IndexSettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    completion: CompletionSettings = Field(default_factory=CompletionSettings)
    diagnostics: DiagnosticsSettings = Field(default_factory=DiagnosticsSettings)
    data: DataSettings = Field(default_factory=DataSettings)
    train: TrainSettings = Field(default_factory=TrainSettings)
    harvest: HarvestSettings = Field(default_factory=HarvestSettings)
    eval: EvalSettings = Field(default_factory=EvalSettings)
    prices: PriceSettings = Field(default_factory=PriceSettings)


class SettingsError(ValueError):
    """A bad settings value, said in the user's terms: where, which key, expected, found."""


@dataclass
class Layer:
    """One source of settings: its name (a file path, 'environment', ...) and its values."""

    origin: str
    values: dict[str, Any]


@dataclass
class LoadedSettings:
    settings: Settings
    origins: dict[str, str] = field(default_factory=dict)  # dotted key -> origin

    def origin(self, key: str) -> str:
        return self.origins.get(key, "default")


# --------------------------------------------------------------------------- layers


def find_project_file(start: str | os.PathLike | None) -> Path | None:
    """The nearest ``.gerbil-lsp.toml`` from ``start`` upward, if any."""
    if start is None:
        return None
    here = Path(start).expanduser().resolve()
    if here.is_file():
        here = here.parent
    for folder in (here, *here.parents):
        candidate = folder / PROJECT_FILE
        if candidate.is_file():
            return candidate
    return None


def _toml_layer(path: Path) -> Layer:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SettingsError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start}); save it as UTF-8") from exc
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: invalid TOML: {exc}. Fix the file or run `gerbil-lsp config set`.") from exc
    return Layer(str(path), values)


def _parse_env_value(raw: str) -> Any:
    """Environment values are TOML literals when they parse as one, else strings."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def env_layer(environ: Mapping[str, str] | None = None) -> Layer:
    """``GERBIL_LSP_MODEL__BACKEND=ollama`` -> model.backend. Single underscores stay in key names."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX):].lower().partition("__")
        if section and key:
            values.setdefault(section, {})[key] = _parse_env_value(raw)
    return Layer("environment", values)


def _flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def _merge(layers: list[Layer]) -> tuple[dict[str, Any], dict[str, str]]:
    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for layer in layers:
        for dotted, value in _flatten(layer.values).items():
            node = merged
            *parents, leaf = dotted.split(".")
            for part in parents:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
            node[leaf] = value
            origins[dotted] = layer.origin
    return merged, origins


def _describe(error: dict[str, Any], origins: dict[str, str]) -> str:
    key = ".".join(str(part) for part in error["loc"])
    origin = origins.get(key) or next(
        (o for k, o in origins.items() if key.startswith(k + ".") or k.startswith(key + ".")), "default"
    )
    if error["type"] == "extra_forbidden":
        return f"{origin}: unknown key '{key}'. Run `gerbil-lsp config show` to list the known keys."
    found = error.get("input")
    return f"{origin}: key '{key}': expected {error['msg'].lower()}, found {found!r}"


def validate(layers: list[Layer]) -> LoadedSettings:
    merged, origins = _merge(layers)
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        problems = [_describe(err, origins) for err in exc.errors()]
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems)) from None
    return LoadedSettings(settings, origins)


def settings_layers(
    workspace: str | os.PathLike | None = None,
    init_options: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    user_file: Path | None = None,
) -> list[Layer]:
    layers: list[Layer] = []
    user_file = user_file or paths.user_config_file()
    if user_file.is_file():
        layers.append(_toml_layer(user_file))
    project = find_project_file(workspace if workspace is not None else Path.cwd())
    if project is not None:
        layers.append(_toml_layer(project))
    layers.append(env_layer(environ))
    if init_options:
        layers.append(Layer("initializationOptions", dict(init_options)))
    return layers


def load_settings(
    workspace: str | os.PathLike | None = None,
    init_options: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> LoadedSettings:
    """The effective settings for a workspace (cwd by default)."""
    return validate(settings_layers(workspace, init_options, environ))


# --------------------------------------------------------------------------- editing


def known_keys() -> dict[str, tuple[Any, str]]:
    """Every dotted key with its default and description (for `config show` and `config set`)."""
    keys: dict[str, tuple[Any, str]] = {}
    defaults = Settings()
    for section_name, section_field in Settings.model_fields.items():
        section_model = section_field.annotation
        section_value = getattr(defaults, section_name)
        for key, info in section_model.model_fields.items():
            keys[f"{section_name}.{key}"] = (getattr(section_value, key), info.description or "")
    return keys


def set_value(file: Path, dotted_key: str, raw_value: str) -> Any:
    """Set one key in a TOML file, keeping its comments and layout; validate before writing."""
    if dotted_key not in known_keys():
        raise SettingsError(f"unknown key '{dotted_key}'. Run `gerbil-lsp config show` to list the known keys.")
    value = _parse_env_value(raw_value)
    document = tomlkit.parse(file.read_text(encoding="utf-8")) if file.is_file() else tomlkit.document()
    section, key = dotted_key.split(".", 1)
    table = document.get(section)
    if table is None:
        table = tomlkit.table()
        document[section] = table
    table[key] = value
    # Validate the edited file on its own before it replaces the old one.
    validate([Layer(str(file), tomllib.loads(tomlkit.dumps(document)))])
    write_text_atomic(file, tomlkit.dumps(document))
    return value
