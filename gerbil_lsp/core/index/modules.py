"""Module ids from paths and ``gerbil.pkg``, and ``(import ...)`` spec parsing.

A Gerbil file's module id is its package plus its path without ``.ss``:
``src/std/misc/string.ss`` under ``src/std/gerbil.pkg`` = ``(package: std)`` is
``:std/misc/string``.  A ``package:`` directive at the top of the file
overrides (``package: gerbil/core`` in ``src/gerbil/core/runtime.ss`` gives
``:gerbil/core/runtime``).

Import specs understood (any nesting):
``:lib/path``, ``./rel``, ``../rel``, ``"source/path"``, a submodule name,
``(only-in s id ...)``, ``(except-in s id ...)``, ``(rename-in s (id new) ...)``,
``(prefix-in s pre)``, ``(group-in top mod ...)``, ``(for-syntax s ...)``,
``(for-template s ...)``, ``(phi: n s ...)``, ``(begin: s ...)``; ``(runtime: m)`` binds nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from gerbil_lsp.core.reader import KEYWORD, LIST, NUMBER, STRING, SYMBOL

from .model import ImportSpec

_PKG_RE = re.compile(r"\bpackage:\s*([^\s()\[\]\"]+)")
_FILE_PKG_RE = re.compile(r"^\s*package:\s*([^\s()\[\]\"]+)", re.M)

SOURCE_SUFFIXES = (".ss", ".ssi", ".sld", ".scm")


@lru_cache(maxsize=4096)
def _pkg_file_package(pkg_file: str, mtime: float) -> str | None:
    try:
        text = Path(pkg_file).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    # drop comments so a commented-out package: line does not count
    text = re.sub(r";[^\n]*", "", text)
    m = _PKG_RE.search(text)
    return m.group(1).strip("/") if m else None


def read_package(pkg_file: Path) -> str | None:
    """The ``package:`` of a ``gerbil.pkg`` file (None when it has none)."""
    try:
        mtime = pkg_file.stat().st_mtime
    except OSError:
        return None
    return _pkg_file_package(str(pkg_file), mtime)


def find_pkg(path: Path, stop: Path | None = None) -> Path | None:
    """The nearest ``gerbil.pkg`` at or above ``path``'s directory."""
    d = path.parent if path.suffix else path
    stop_r = stop.resolve() if stop else None
    d = d.resolve()
    while True:
        cand = d / "gerbil.pkg"
        if cand.is_file():
            return cand
        if stop_r is not None and d == stop_r:
            return None
        if d.parent == d:
            return None
        d = d.parent


def file_package_directive(text: str) -> str | None:
    """A ``package: x`` directive among a file's first top-level items."""
    head = text[:4000]
    head = re.sub(r";[^\n]*", "", head)
    m = _FILE_PKG_RE.search(head)
    if not m:
        return None
    # only directives before the first form count
    before = head[: m.start()]
    if "(" in before.replace("#!", ""):
        return None
    return m.group(1).strip("/")


def module_id_for_path(path: Path | str, text: str | None = None, root: Path | None = None) -> str:
    """The module id of a source file.

    ``text`` (the file's contents) lets an in-file ``package:`` directive win;
    ``root`` is the fallback base when no ``gerbil.pkg`` is found.
    """
    p = Path(path)
    stem = p.name
    for suf in SOURCE_SUFFIXES:
        if stem.endswith(suf):
            stem = stem[: -len(suf)]
            break
    if text is not None:
        pkg = file_package_directive(text)
        if pkg is not None:
            return f":{pkg}/{stem}" if pkg else f":{stem}"
    pkg_file = find_pkg(p, stop=None)
    if pkg_file is not None:
        rel = p.resolve().parent.relative_to(pkg_file.parent.resolve()).as_posix()
        parts = [x for x in (read_package(pkg_file), "" if rel == "." else rel, stem) if x]
        return ":" + "/".join(parts)
    if root is not None:
        try:
            rel = p.resolve().parent.relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            rel = "."
        parts = [x for x in ("" if rel == "." else rel, stem) if x]
        return ":" + "/".join(parts)
    return ":" + stem


def module_dir(module_id: str) -> str:
    """``:std/misc/string`` -> ``:std/misc`` (the base of ``./x`` imports)."""
    i = module_id.rfind("/")
    return module_id[:i] if i > 0 else ":"


def resolve_relative_library(spec: str, current: str | None) -> str | None:
    """``./foo`` / ``../foo`` relative to the module ``current``."""
    if current is None:
        return None
    base = module_dir(current.split("~", 1)[0])
    rest = spec
    if rest.startswith("./"):
        rest = rest[2:]
    while rest.startswith("../"):
        rest = rest[3:]
        base = module_dir(base)
    base = base.rstrip("/")
    if base in ("", ":"):
        return ":" + rest
    return f"{base}/{rest}"


def resolve_string_import(spec: str, path: Path | str | None,
                          path_to_module: Callable[[Path], str | None] | None = None,
                          current: str | None = None) -> tuple[str | None, str | None]:
    """A ``"source/path"`` import: (module id, file path)."""
    if path is None:
        if current is None:
            return None, None
        return resolve_relative_library("./" + spec, current), None
    base = Path(path).parent
    target = None
    for suf in ("", ".ss", ".sld", ".scm"):
        cand = base / (spec + suf)
        if cand.is_file():
            target = cand
            break
    if target is None:
        target = base / (spec + ".ss")
    tpath = os.path.normpath(str(target))
    mod = path_to_module(Path(tpath)) if path_to_module else None
    if mod is None:
        if current is not None:
            mod = resolve_relative_library("./" + spec, current)
        elif target.is_file():
            mod = module_id_for_path(target, _read_head(target))
    return mod, tpath


def _read_head(p: Path) -> str | None:
    try:
        with open(p, encoding="utf-8", errors="replace") as fh:
            return fh.read(4000)
    except OSError:
        return None


# ---------------------------------------------------------------------------
# import spec parsing over reader nodes
# ---------------------------------------------------------------------------

@dataclass(slots=True)
class ImportContext:
    """What an import spec is resolved against."""

    module: str | None = None  # the importing module's id
    path: str | None = None  # the importing file
    path_to_module: Callable[[Path], str | None] | None = None
    submodule: Callable[[str], str | None] | None = None  # bare name -> module id
    text: str | None = None  # the file's text, for the specs' raw source


def node_text(node, text: str | None) -> str:
    """Source of a node (compound nodes carry no ``text`` of their own)."""
    if node.text or text is None:
        return node.text
    return text[node.start:node.end]


def node_symbol(node) -> str | None:
    if node is not None and node.kind is SYMBOL:
        return node.value if isinstance(node.value, str) else node.text
    return None


def node_name(node) -> str | None:
    """Symbol name, or keyword text (``p:``) — what a prefix may be written as."""
    k = node.kind
    if k is SYMBOL:
        return node.value if isinstance(node.value, str) else node.text
    if k is KEYWORD:
        return node.text
    return None


def node_head(node) -> str | None:
    if node.kind is not LIST or not node.children:
        return None
    first = node.children[0]
    k = first.kind
    if k is SYMBOL:
        return node_symbol(first)
    if k is KEYWORD:
        return first.text
    return None


def parse_import_form(form, ctx: ImportContext) -> list[ImportSpec]:
    """Specs of one ``(import spec ...)`` form."""
    out: list[ImportSpec] = []
    for child in form.children[1:]:
        _spec(child, ctx, 0, [], out, child)
    return out


def parse_import_spec(node, ctx: ImportContext, phase: int = 0) -> list[ImportSpec]:
    out: list[ImportSpec] = []
    _spec(node, ctx, phase, [], out, node)
    return out


def _mk(module, raw_node, ops, phase, path=None, text=None) -> ImportSpec:
    sp = raw_node.span
    return ImportSpec(
        module=module, raw=" ".join(node_text(raw_node, text).split()), ops=list(ops), phase=phase, path=path,
        line=sp.start.line, character=sp.start.character,
        end_line=sp.end.line, end_character=sp.end.character,
    )


def resolve_module_ref(node, ctx: ImportContext) -> tuple[str | None, str | None] | None:
    """A module reference node -> (module id, file path); None if not a module ref."""
    k = node.kind
    if k is SYMBOL:
        name = node_symbol(node) or ""
        if name.startswith(":"):
            return name.rstrip("/"), None
        if name.startswith(("./", "../")):
            cur = ctx.module
            if cur is None and ctx.path is not None:
                cur = module_id_for_path(Path(ctx.path), _read_head(Path(ctx.path)))
            return resolve_relative_library(name, cur), None
        if ctx.submodule is not None:
            return ctx.submodule(name), None
        return None, None
    if k is STRING:
        spec = node.value if isinstance(node.value, str) else node.text.strip('"')
        return resolve_string_import(spec, ctx.path, ctx.path_to_module, ctx.module)
    return None


def _names(nodes) -> list[str]:
    return [n for n in (node_symbol(x) for x in nodes) if n]


def _spec(node, ctx, phase, ops, out, top) -> None:
    ref = resolve_module_ref(node, ctx)
    if ref is not None:
        mod, path = ref
        out.append(_mk(mod, top, ops, phase, path, ctx.text))
        return
    head = node_head(node)
    if head is None:
        return
    kids = node.children
    if head in ("only-in", "except-in", "rename-in", "prefix-in") and len(kids) >= 2:
        inner = kids[1]
        if head == "only-in":
            op = ("only", _names(kids[2:]))
        elif head == "except-in":
            op = ("except", _names(kids[2:]))
        elif head == "rename-in":
            pairs = []
            for pair in kids[2:]:
                ns = _names(pair.children) if pair.kind is LIST else []
                if len(ns) == 2:
                    pairs.append((ns[0], ns[1]))
            op = ("rename", pairs)
        else:
            pre = node_name(kids[2]) if len(kids) > 2 else None
            if pre is None:
                return
            op = ("prefix", pre)
        _spec(inner, ctx, phase, [op, *ops], out, top)
        return
    if head in ("for-syntax", "for-template"):
        d = 1 if head == "for-syntax" else -1
        for k in kids[1:]:
            _spec(k, ctx, phase + d, ops, out, k if top is node else top)
        return
    if head == "phi:":
        d = _int(kids[1]) if len(kids) > 1 else None
        if d is None:
            return
        for k in kids[2:]:
            _spec(k, ctx, phase + d, ops, out, k if top is node else top)
        return
    if head == "begin:":
        for k in kids[1:]:
            _spec(k, ctx, phase, ops, out, k if top is node else top)
        return
    if head == "group-in" and len(kids) >= 3:
        top_name = node_symbol(kids[1])
        if not top_name:
            return
        for mod in _group_paths(top_name, kids[2:]):
            sp = _mk(None, top, ops, phase, None, ctx.text)
            sp.module = mod if mod.startswith(":") else None
            out.append(sp)
        return
    # runtime:, spec:, or an import macro: binds nothing we can know
    return


def _group_paths(top: str, mods) -> list[str]:
    out = []
    for m in mods:
        k = m.kind
        if k in (SYMBOL, NUMBER):
            out.append(f"{top}/{m.text}")
        elif k is LIST and m.children:
            nested = m.children[0].text
            out.extend(_group_paths(f"{top}/{nested}", m.children[1:]))
    return out


def _int(node) -> int | None:
    try:
        return int(node.text)
    except (TypeError, ValueError):
        return None
