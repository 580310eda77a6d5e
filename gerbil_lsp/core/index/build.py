"""Build a :class:`SymbolIndex` from reference docs and/or source trees; doc drift.

``python -m gerbil_lsp.core.index.build --bundle`` regenerates the bundled
default index (docs only, facts only) from the shared Gerbil docs.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from gerbil_lsp.core import collector

from .docs import parse_docs
from .model import Arity, DriftEntry, Symbol
from .source import Binding, Definition, SourceTree
from .symindex import _INTERNAL_PREFIXES, PRELUDE_MODULE, SymbolIndex

BUNDLE_NAME = "default-index.json.gz"
DEFAULT_DOCS = Path("/work/shared/corpus/gerbil/doc")

Progress = Callable[[str, int, int], None]  # (phase message, done, total)

_KIND_MAP = {
    "extern": "procedure",
    "ffi": "procedure",
    "alias-value": "value",
    "module": "module",
}
_GENERIC_KINDS = {"value", "extern", "ffi", "alias-value"}


def bundled_index_path() -> Path:
    return Path(__file__).resolve().parent.parent.parent / "resources" / BUNDLE_NAME


# ---------------------------------------------------------------------------
# source -> rows
# ---------------------------------------------------------------------------

def _row_from_binding(name: str, module: str | None, b: Binding) -> Symbol:
    d = b.definition
    origin = b.module.split("~", 1)[0]
    sym = Symbol(name=name, module=module, exported=True)
    if origin != (module or PRELUDE_MODULE):
        sym.origin = origin
    if d is not None:
        sym.kind = _KIND_MAP.get(d.kind, d.kind)
        sym.arity = d.arity
        sym.source_path = d.path
        sym.source_line = d.line
        sym.source_character = d.character
        if d.signature:
            sig = d.signature
            if b.name != name and sig.startswith("(" + b.name):
                sig = "(" + name + sig[len(b.name) + 1:]  # exported under another name
            sym.signatures = [sig]
    else:
        sym.kind = "value"
    return sym


def _mentions_phase(form) -> bool:
    return any(n.is_symbol() and n.value in ("for-syntax", "phi:") or
               (n.kind.name == "KEYWORD" and n.value == "phi") for n in form.walk())


def _root_names(tree: SourceTree) -> dict[str, Definition]:
    """Core syntax bound by the expander's root context (``begin``, ``%#if``, ``_`` ...)."""
    mod = tree.get(":gerbil/expander/root")
    out: dict[str, Definition] = {}
    if mod is None or mod.path is None:
        return out
    res = tree.read(mod.path)
    if res is None:
        return out
    for f in res.forms:
        if f.head != "def" or len(f.children) < 3:
            continue
        target = f.children[1]
        if not target.is_symbol() or target.value not in ("*core-syntax-expanders*",
                                                           "*core-macro-expanders*"):
            continue
        val = f.children[2]
        lst = val.children[0] if val.children and val.kind.name == "QUOTE" else val
        for entry in lst.children:
            if entry.children and entry.children[0].is_symbol():
                n = entry.children[0]
                out.setdefault(n.value, Definition(n.value, "syntax", n.span.start.line,
                                                   n.span.start.character, path=mod.path))
    return out


def _source_rows(tree: SourceTree, progress: Progress | None) -> tuple[list[Symbol], dict, bool]:
    rows: list[Symbol] = []
    module_paths: dict[str, str | None] = {}
    mods = sorted(tree.modules)
    # definitions with an arity, by name, from the runtime: fills in prelude externs
    runtime_defs: dict[str, Binding] = {}
    if ":gerbil/runtime" in tree.modules:
        for n, b in tree.exports(":gerbil/runtime").items():
            if b.definition is not None and b.definition.kind not in ("extern",):
                runtime_defs[n] = b
    prelude_complete = PRELUDE_MODULE in tree.modules
    for i, mid in enumerate(mods):
        mod = tree.modules[mid]
        module_paths[mid] = mod.path
        exp = tree.exports(mid)
        if mid == PRELUDE_MODULE:
            continue
        for n in sorted(exp):
            rows.append(_row_from_binding(n, mid, exp[n]))
        if mod.defs1 or any(_mentions_phase(f) for f in mod.export_forms):
            for n, b in sorted(tree.exports(mid, 1).items()):
                if n not in exp:
                    row = _row_from_binding(n, mid, b)
                    row.phase = 1
                    rows.append(row)
        if progress and (i % 25 == 0 or i == len(mods) - 1):
            progress("exports", i + 1, len(mods))
    if prelude_complete:
        prelude = dict(tree.exports(PRELUDE_MODULE))
        for n, d in _root_names(tree).items():
            prelude.setdefault(n, Binding(":gerbil/expander/root", n, d))
        for n in sorted(prelude):
            b = prelude[n]
            d = b.definition
            if (d is None or d.kind == "extern") and n in runtime_defs:
                b = runtime_defs[n]
            rows.append(_row_from_binding(n, None, b))
        # the prelude's syntax-time bindings (syntax-case, with-syntax ...): phase 1
        for n, b in sorted(tree.exports(PRELUDE_MODULE, 1).items()):
            if n not in prelude:
                row = _row_from_binding(n, None, b)
                row.phase = 1
                rows.append(row)
    return rows, module_paths, prelude_complete


# ---------------------------------------------------------------------------
# docs + source merge, drift
# ---------------------------------------------------------------------------

_DOC_FIELDS = ("doc_url", "doc_page", "returns", "summary", "description")


def _merge_doc(row: Symbol, doc: Symbol) -> None:
    row.documented = True
    for f in _DOC_FIELDS:
        v = getattr(doc, f)
        if v is not None:
            setattr(row, f, v)
    if doc.signatures:
        row.signatures = list(doc.signatures)
    if doc.examples:
        row.examples = list(doc.examples)
    if doc.params:
        row.params = list(doc.params)
    if row.arity is None:
        row.arity = doc.arity
    if row.kind in _GENERIC_KINDS and doc.kind not in ("procedure", "value"):
        row.kind = doc.kind
    elif row.kind in ("extern", "ffi", "value") and doc.kind == "procedure" and doc.signatures:
        row.kind = "procedure"


def _share_doc(row: Symbol, doc: Symbol) -> None:
    """Give an undocumented re-export of a documented binding the doc facts."""
    if row.documented:
        return
    for f in ("doc_url", "doc_page", "returns", "summary"):
        if getattr(row, f) is None:
            setattr(row, f, getattr(doc, f))
    if not row.signatures and doc.signatures:
        row.signatures = list(doc.signatures)
    if row.arity is None:
        row.arity = doc.arity


def _module_pref(mod: str) -> tuple:
    internal = mod.startswith(_INTERNAL_PREFIXES) or "/private" in mod or "/_" in mod
    return (internal, mod.count("/"), len(mod), mod)


def _drift(doc: Symbol, index_rows: dict, exports: dict[str | None, set[str]],
           documented: dict[str | None, set[str]], has_module: Callable[[str], bool],
           exporters: dict[str, list[str]]) -> DriftEntry:
    mod = doc.module
    entry = DriftEntry(name=doc.name, module=mod, doc_page=doc.doc_page, doc_url=doc.doc_url)
    entry.exported_by = sorted((m for m in exporters.get(doc.name, []) if m != mod),
                               key=_module_pref)[:5]
    entry.in_prelude = mod is not None and doc.name in exports.get(None, set())
    if mod is not None and not has_module(mod):
        entry.reason = "module-missing"
        return entry
    candidates = sorted(exports.get(mod, set()) - documented.get(mod, set()))
    # the prelude is large: ask for a closer match there
    cutoff = 0.85 if mod is None else 0.75
    entry.suggestions = difflib.get_close_matches(doc.name, candidates, n=3, cutoff=cutoff)
    return entry


def merge(doc_syms: list[Symbol], source_rows: list[Symbol], module_paths: dict,
          *, has_source: bool) -> tuple[list[Symbol], list[DriftEntry]]:
    """Fold documented symbols into source rows; return rows + drift.

    With ``has_source`` false (no Gerbil source tree: docs, maybe with projects)
    the docs are taken at their word: their rows stay exported, no drift, and
    source rows (the projects') are added beside them.
    """
    if not has_source:
        rows_by_key = {(s.module, s.name): s for s in doc_syms}
        for s in source_rows:
            d = rows_by_key.get((s.module, s.name))
            if d is not None:
                _merge_doc(s, d)
            rows_by_key[(s.module, s.name)] = s
        return list(rows_by_key.values()), []
    rows: dict[tuple[str | None, str], Symbol] = {(s.module, s.name): s for s in source_rows}
    exports: dict[str | None, set[str]] = {}
    exporters: dict[str, list[str]] = {}
    by_def: dict[tuple, list[Symbol]] = {}
    for s in source_rows:
        exports.setdefault(s.module, set()).add(s.name)
        if s.module is not None:
            exporters.setdefault(s.name, []).append(s.module)
        if s.source_path is not None:
            by_def.setdefault((s.source_path, s.source_line, s.source_character), []).append(s)
    documented: dict[str | None, set[str]] = {}
    for d in doc_syms:
        documented.setdefault(d.module, set()).add(d.name)
    drift: list[DriftEntry] = []
    extra: list[Symbol] = []

    def has_module(m: str) -> bool:
        return m in module_paths or m in exports

    for d in doc_syms:
        row = rows.get((d.module, d.name))
        if row is None and d.module == PRELUDE_MODULE:
            row = rows.get((None, d.name))
        if row is None:
            drift.append(_drift(d, rows, exports, documented, has_module, exporters))
            extra.append(replace(d, exported=False))
            continue
        _merge_doc(row, d)
        if row.source_path is not None:
            for other in by_def.get((row.source_path, row.source_line, row.source_character), ()):
                if other is not row and other.name == row.name:
                    _share_doc(other, row)
    drift.sort(key=lambda e: (e.module or "", e.name))
    return list(rows.values()) + extra, drift


# ---------------------------------------------------------------------------
# entry points
# ---------------------------------------------------------------------------

def build_index(docs: Path | None = None, gerbil_src: Path | None = None,
                projects: Iterable[Path] = (), progress: Progress | None = None, *,
                keep_prose: bool = True, label: str | None = None) -> SymbolIndex:
    """Build an index from reference docs and/or a Gerbil source tree and projects.

    ``progress(phase, done, total)`` is called as work advances.
    ``keep_prose=False`` keeps facts only (signatures, arity, returns, a one-line
    summary, doc links) and drops descriptions/examples: what the bundle ships.
    """
    with collector.paused():  # hundreds of thousands of acyclic syntax nodes
        return _build(docs, gerbil_src, projects, progress, keep_prose, label)


def _build(docs, gerbil_src, projects, progress, keep_prose, label) -> SymbolIndex:
    t0 = time.perf_counter()
    doc_syms: list[Symbol] = []
    if docs is not None:
        def doc_progress(page: str) -> None:
            if progress:
                progress("docs", 0, 0)

        doc_syms = parse_docs(Path(docs), keep_prose=keep_prose, progress=doc_progress)
    t_docs = time.perf_counter() - t0
    projects = [Path(p) for p in projects]
    has_source = gerbil_src is not None or bool(projects)
    authoritative = gerbil_src is not None  # a Gerbil tree: docs are checked against it
    source_rows: list[Symbol] = []
    module_paths: dict[str, str | None] = {}
    prelude_complete = False
    tree = None
    if has_source:
        tree = SourceTree()
        roots: list[tuple[Path, bool]] = []
        if gerbil_src is not None:
            roots.append((Path(gerbil_src), True))
        roots.extend((p, False) for p in projects)
        from .source import iter_source_files

        files = [(f, r, g) for r, g in roots for f in iter_source_files(r, gerbil_src=g)]
        for i, (f, r, _g) in enumerate(files):
            tree.add_file(f, root=r)
            if progress and (i % 10 == 0 or i == len(files) - 1):
                progress("source", i + 1, len(files))
        source_rows, module_paths, prelude_complete = _source_rows(tree, progress)
    rows, drift = merge(doc_syms, source_rows, module_paths, has_source=authoritative)
    meta = {
        "has_source": authoritative,
        "has_projects": bool(projects),
        "has_docs": docs is not None,
        "prelude_complete": prelude_complete,
        "prelude_module": PRELUDE_MODULE,
        "prose": keep_prose,
    }
    if label:
        meta["label"] = label
    else:
        meta["sources"] = {
            "docs": str(docs) if docs is not None else None,
            "gerbil_src": str(gerbil_src) if gerbil_src is not None else None,
            "projects": [str(p) for p in projects],
        }
    if tree is not None and tree.errors:
        meta["source_errors"] = len(tree.errors)
    index = SymbolIndex(rows, meta=meta, module_paths=module_paths, drift=drift)
    index.build_seconds = {"docs": t_docs, "total": time.perf_counter() - t0}
    if progress:
        progress("done", 1, 1)
    return index


def build_bundle(docs: Path = DEFAULT_DOCS, out: Path | None = None) -> Path:
    """Regenerate the bundled default index (docs only, facts only); deterministic."""
    out = out or bundled_index_path()
    index = build_index(docs, None, keep_prose=False, label="bundled: Gerbil reference docs")
    index.save(out)
    default_index.cache_clear()
    return out


@lru_cache(maxsize=1)
def default_index() -> SymbolIndex:
    """The index shipped with the package (docs only), loaded once."""
    index = SymbolIndex.load(bundled_index_path())
    index.bundled = True
    return index


def user_index_path() -> Path:
    from gerbil_lsp.core.paths import index_file

    return index_file()


def load_index(path: str | os.PathLike | None = None) -> SymbolIndex:
    """The user's built index if present, else the bundled default.

    A given ``path`` must exist.  An index of another format version raises
    :class:`~gerbil_lsp.core.index.store.IndexVersionError` telling the user to
    run ``gerbil-lsp index build``.
    """
    if path is not None:
        return SymbolIndex.load(path)
    p = user_index_path()
    if p.is_file():
        return SymbolIndex.load(p)
    return default_index()


def describe_index_source(index: SymbolIndex) -> str:
    """One line saying where ``index`` came from and what it knows."""
    return index.describe()


def arity_text(a: Arity | None) -> str:
    return "unknown" if a is None else str(a)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gerbil_lsp.core.index.build",
                                 description="Build a gerbil-lsp symbol index.")
    ap.add_argument("--bundle", action="store_true",
                    help="regenerate the bundled default index from the docs")
    ap.add_argument("--docs", type=Path, default=None)
    ap.add_argument("--gerbil-src", type=Path, default=None)
    ap.add_argument("--project", type=Path, action="append", default=[])
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    t = time.perf_counter()
    if args.bundle:
        out = build_bundle(args.docs or DEFAULT_DOCS, args.out)
        print(f"wrote {out} ({out.stat().st_size} bytes) in {time.perf_counter() - t:.2f}s")
        return 0
    index = build_index(args.docs, args.gerbil_src, args.project)
    out = args.out or user_index_path()
    index.save(out)
    print(f"wrote {out}: {index!r} in {time.perf_counter() - t:.2f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
