"""``gerbil-lsp opencode install``: add gerbil-lsp to an OpenCode config without losing anything.

We add four things: a provider (``@ai-sdk/openai-compatible`` pointed at the
served model; the key as ``{env:VAR}``, never the key), the default ``model``,
an ``lsp`` entry running ``gerbil-lsp serve`` for Gerbil files (OpenCode's
schema: ``command`` array + ``extensions``) and the harvest plugin. Every
other key stays, and in ``opencode.jsonc`` every comment too: the file is
parsed with ``json-five``'s round-trip model only to find *where* our keys are,
then just those spans of text are replaced or inserted; the rest of the file is
never re-serialised. The original is backed up, the write is atomic, a second
run changes nothing, and ``--dry-run`` prints the diff instead.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from json5.loader import ModelLoader, loads
from json5.model import JSONArray, JSONObject, JSONText, Node, String

from gerbil_lsp.core import paths
from gerbil_lsp.core.atomic import write_text_atomic
from gerbil_lsp.harvest.privacy import GERBIL_EXTENSIONS

PROVIDER_ID = "gerbil-lsp"
LSP_ID = "gerbil-lsp"
PLUGIN_FILE = "gerbil-lsp-harvest.ts"
SCHEMA = "https://opencode.ai/config.json"


class ConfigEditError(ValueError):
    """The config file cannot be edited safely (said with the file and what to do)."""


# --------------------------------------------------------------------------- where configs live


def global_config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "opencode"


def config_file(folder: Path) -> Path:
    """The folder's existing ``opencode.jsonc`` or ``opencode.json``; a new ``opencode.json`` otherwise."""
    for name in ("opencode.jsonc", "opencode.json"):
        if (folder / name).is_file():
            return folder / name
    return folder / "opencode.json"


def plugin_source() -> Path:
    """The plugin's TypeScript in this checkout (``plugin/opencode/src/index.ts``)."""
    here = Path(__file__).resolve()
    for root in here.parents:
        candidate = root / "plugin" / "opencode" / "src" / "index.ts"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        "the OpenCode plugin source (plugin/opencode/src/index.ts) is not beside this gerbil-lsp; "
        "install gerbil-lsp from its source checkout, or pass --no-plugin"
    )


def installed_plugin_path() -> Path:
    return paths.data_dir() / "opencode" / PLUGIN_FILE


# --------------------------------------------------------------------------- what we add


@dataclass
class OpenCodeInstall:
    base_url: str
    model: str
    api_key_env: str | None = None
    model_name: str = "Gerbil (gerbil-lsp)"
    serve_command: tuple[str, ...] = ("gerbil-lsp", "serve")
    plugin_spec: str | None = None
    socket: str | None = None
    set_default_model: bool = True

    def provider(self) -> dict[str, Any]:
        options: dict[str, Any] = {"baseURL": self.base_url}
        if self.api_key_env:
            options["apiKey"] = "{env:" + self.api_key_env + "}"
        return {
            "npm": "@ai-sdk/openai-compatible",
            "name": "gerbil-lsp",
            "options": options,
            "models": {self.model: {"name": self.model_name, "tool_call": True}},
        }

    def lsp(self) -> dict[str, Any]:
        return {"command": list(self.serve_command), "extensions": list(GERBIL_EXTENSIONS)}

    def plugin_entry(self) -> Any:
        if self.plugin_spec is None:
            return None
        return [self.plugin_spec, {"socket": self.socket}] if self.socket else self.plugin_spec


# --------------------------------------------------------------------------- minimal text edits


def _offsets(text: str) -> list[int]:
    starts = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            starts.append(i + 1)
    return starts


class _Doc:
    """The config text plus the json-five model, for finding spans."""

    def __init__(self, text: str, where: Path) -> None:
        self.text = text
        self.where = where
        try:
            model = loads(text, loader=ModelLoader())
        except Exception as exc:  # json-five raises its own error types
            raise ConfigEditError(f"{where}: not valid JSON/JSONC ({exc}); fix it or move it away, then re-run") from None
        assert isinstance(model, JSONText)
        if not isinstance(model.value, JSONObject):
            raise ConfigEditError(f"{where}: the top level is not an object")
        self.root = model.value
        self._lines = _offsets(text)

    def start(self, node: Node) -> int:
        return self._lines[node.lineno - 1] + node.col_offset

    def end(self, node: Node) -> int:
        return self._lines[node.end_lineno - 1] + node.end_col_offset

    @staticmethod
    def member(obj: JSONObject, key: str) -> Any:
        for pair in obj.key_value_pairs:
            name = pair.key.characters if isinstance(pair.key, String) else getattr(pair.key, "name", None)
            if name == key:
                return pair.value
        return None

    def indent_of(self, obj: JSONObject) -> str:
        """The indentation a new member of ``obj`` should get."""
        if obj.key_value_pairs:
            first = obj.key_value_pairs[0].key
            line_start = self._lines[first.lineno - 1]
            prefix = self.text[line_start:self.start(first)]
            if prefix.strip() == "":
                return prefix
        line_start = self._lines[obj.lineno - 1]
        own = self.text[line_start:self.start(obj)]
        return " " * (len(own) - len(own.lstrip())) + "  "


def _render(value: Any, indent: str) -> str:
    """JSON text for a value, indented to sit at ``indent``."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return text.replace("\n", "\n" + indent)


def _to_python(node: Node) -> Any:
    if isinstance(node, JSONObject):
        out = {}
        for pair in node.key_value_pairs:
            key = pair.key.characters if isinstance(pair.key, String) else getattr(pair.key, "name", "")
            out[key] = _to_python(pair.value)
        return out
    if isinstance(node, JSONArray):
        return [_to_python(v) for v in node.values]
    if isinstance(node, String):
        return node.characters
    value = getattr(node, "value", None)
    if node.__class__.__name__ == "NullLiteral":
        return None
    return value


@dataclass
class _Edit:
    start: int
    end: int
    text: str


def _set_member(doc: _Doc, obj: JSONObject, key: str, value: Any, edits: list[_Edit]) -> None:
    """Replace ``obj[key]``'s value text, or insert the member before ``obj``'s closing brace."""
    current = doc.member(obj, key)
    indent = doc.indent_of(obj)
    if current is not None:
        if _to_python(current) == value:
            return
        edits.append(_Edit(doc.start(current), doc.end(current), _render(value, indent)))
        return
    close = doc.end(obj) - 1  # the "}"
    assert doc.text[close] == "}", doc.text[close - 5 : close + 5]
    member = f"{json.dumps(key)}: {_render(value, indent)}"
    if obj.key_value_pairs:
        last = obj.key_value_pairs[-1].value
        after_last = doc.end(last)
        between = doc.text[after_last:close]
        has_comma = between.lstrip().startswith(",")
        # insert after the last member's line, so a comment at the end of that line stays on it
        at = after_last + between.index(",") + 1 if has_comma else after_last
        line_end = doc.text.find("\n", at, close)
        rest = doc.text[at:line_end] if line_end != -1 else ""
        tail = rest.strip()
        line_comment = tail.startswith("//") or (tail.startswith("/*") and tail.endswith("*/") and tail.count("*/") == 1)
        at_text = line_end if line_comment else at
        if has_comma:
            edits.append(_Edit(at_text, at_text, f"\n{indent}{member},"))
        else:
            if at_text != at:
                edits.append(_Edit(at, at, ","))
                edits.append(_Edit(at_text, at_text, f"\n{indent}{member}"))
            else:
                edits.append(_Edit(at, at, f",\n{indent}{member}"))
    else:
        outer = indent[:-2] if len(indent) >= 2 else ""
        edits.append(_Edit(doc.start(obj) + 1, close, f"\n{indent}{member}\n{outer}"))


def _ensure_object(doc: _Doc, key: str, edits: list[_Edit], contents: dict[str, Any]) -> JSONObject | None:
    """The member object ``key``; when absent, insert it whole with ``contents`` and return None."""
    node = doc.member(doc.root, key)
    if isinstance(node, JSONObject):
        return node
    if node is not None and key != "lsp":
        raise ConfigEditError(f"{doc.where}: '{key}' is not an object; fix it by hand, then re-run")
    if node is None:
        _set_member(doc, doc.root, key, contents, edits)
    return None


def _apply(text: str, edits: list[_Edit]) -> str:
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        text = text[: edit.start] + edit.text + text[edit.end :]
    return text


def merge_config(text: str, install: OpenCodeInstall, where: Path = Path("opencode.json")) -> tuple[str, list[str]]:
    """The edited config text and notes on what changed; ``text`` may be empty (new file)."""
    notes: list[str] = []
    if not text.strip():
        text = "{\n  " + json.dumps("$schema") + ": " + json.dumps(SCHEMA) + "\n}\n"
    # Each pass edits one place and re-parses, so spans never go stale.
    steps = ["provider", "model", "lsp", "plugin"]
    for step in steps:
        doc = _Doc(text, where)
        edits: list[_Edit] = []
        if step == "provider":
            providers = _ensure_object(doc, "provider", edits, {PROVIDER_ID: install.provider()})
            if providers is not None:
                _set_member(doc, providers, PROVIDER_ID, install.provider(), edits)
            if edits:
                notes.append(f"provider '{PROVIDER_ID}' -> {install.base_url} (model {install.model})")
        elif step == "model" and install.set_default_model:
            wanted = f"{PROVIDER_ID}/{install.model}"
            old = doc.member(doc.root, "model")
            _set_member(doc, doc.root, "model", wanted, edits)
            if edits:
                was = _to_python(old) if old is not None else None
                notes.append(f"default model {wanted}" + (f" (was {was})" if was else ""))
        elif step == "lsp":
            node = doc.member(doc.root, "lsp")
            if node is not None and not isinstance(node, JSONObject):
                notes.append(f"lsp is {_to_python(node)!r} (all language servers off): left as it is, no Gerbil LSP added")
            else:
                servers = _ensure_object(doc, "lsp", edits, {LSP_ID: install.lsp()})
                if servers is not None:
                    _set_member(doc, servers, LSP_ID, install.lsp(), edits)
                if edits:
                    notes.append(f"lsp '{LSP_ID}': {' '.join(install.serve_command)} for {', '.join(GERBIL_EXTENSIONS)}")
        elif step == "plugin" and install.plugin_entry() is not None:
            entry = install.plugin_entry()
            node = doc.member(doc.root, "plugin")
            if node is None:
                _set_member(doc, doc.root, "plugin", [entry], edits)
            elif not isinstance(node, JSONArray):
                raise ConfigEditError(f"{where}: 'plugin' is not a list; fix it by hand, then re-run")
            else:
                ours = [v for v in node.values if PLUGIN_FILE in json.dumps(_to_python(v))]
                if ours:
                    if _to_python(ours[0]) != entry:
                        edits.append(_Edit(doc.start(ours[0]), doc.end(ours[0]), json.dumps(entry)))
                elif node.values:
                    last = node.values[-1]
                    edits.append(_Edit(doc.end(last), doc.end(last), ", " + json.dumps(entry)))
                else:
                    edits.append(_Edit(doc.start(node), doc.end(node), json.dumps([entry])))
            if edits:
                notes.append(f"plugin {install.plugin_spec}")
        text = _apply(text, edits)
    _Doc(text, where)  # the result must parse
    return text, notes


# --------------------------------------------------------------------------- the command


@dataclass
class InstallResult:
    path: Path
    changed: bool
    diff: str
    notes: list[str]
    backup: Path | None = None


def install_config(folder: Path, install: OpenCodeInstall, *, dry_run: bool = False) -> InstallResult:
    """Merge into the folder's opencode.json(c); back the old one up; atomic; idempotent."""
    path = config_file(folder)
    before = path.read_text(encoding="utf-8") if path.is_file() else ""
    after, notes = merge_config(before, install, path)
    diff = "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                        fromfile=str(path), tofile=str(path) + " (new)"))
    changed = after != before
    backup = None
    if changed and not dry_run:
        if before:
            backup = path.with_name(f"{path.name}.bak-{time.strftime('%Y%m%d-%H%M%S')}")
            shutil.copy2(path, backup)
        write_text_atomic(path, after)
    return InstallResult(path, changed, diff, notes, backup)


def install_plugin_file(source: Path | None = None) -> Path:
    """Copy the plugin to gerbil-lsp's data dir (OpenCode loads it from there by file URL)."""
    source = source or plugin_source()
    target = installed_plugin_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(target, source.read_text(encoding="utf-8"))
    return target
