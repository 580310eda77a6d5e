"""``SymbolIndex``: the queryable Gerbil knowledge (names, modules, arities, docs, drift)."""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .model import DriftEntry, ImportSpec, LocalDefinition, Symbol
from .modules import ImportContext, module_id_for_path, node_head, node_symbol, parse_import_form

if TYPE_CHECKING:
    from .source import Definition

#: the module that is the prelude of ordinary Gerbil files
PRELUDE_MODULE = ":gerbil/core"

_INTERNAL_PREFIXES = (":gerbil/core", ":gerbil/runtime", ":gerbil/expander", ":gerbil/compiler",
                      ":gerbil/boot", ":gerbil/interactive")


def _pref_key(sym: Symbol) -> tuple:
    mod = sym.module or ""
    internal = mod.startswith(_INTERNAL_PREFIXES) or "/private" in mod or "/_" in mod
    return (not sym.exported, not sym.documented, internal, mod.count("/"), len(mod), mod)


def starting(ordered: list[str], prefix: str) -> Iterator[str]:
    """The names of the sorted list ``ordered`` that start with ``prefix``, in order."""
    for name in ordered[bisect_left(ordered, prefix):]:
        if not name.startswith(prefix):
            return
        yield name


class VisibleNames(dict):
    """What a file sees, by visible name: a dict, which also lists its names by prefix, in order.

    The index keeps one per set of imports, shared by every version of every file that
    imports so; its sorted names are made on the first completion and kept with it.
    """

    __slots__ = ("_ordered",)

    def starting(self, prefix: str) -> Iterator[str]:
        try:
            ordered = self._ordered
        except AttributeError:
            ordered = self._ordered = sorted(self)
        return starting(ordered, prefix)


class SymbolIndex:
    """All known names.  Build with :func:`build_index`, or load a saved one.

    Rows are :class:`Symbol` objects, one per (module, name); the prelude is
    ``module=None``.  Documented names the source does not export stay in as
    rows with ``exported=False`` (hover can still show them) and are listed by
    :meth:`drift`.
    """

    def __init__(self, symbols: Iterable[Symbol] = (), *, meta: dict | None = None,
                 module_paths: dict[str, str | None] | None = None,
                 drift: Iterable[DriftEntry] = ()):
        self.meta: dict[str, Any] = dict(meta or {})
        # (module, name) -> Symbol, or the row's raw dict until first use (lazy load)
        self._rows: dict[tuple[str | None, str], Symbol | dict] = {}
        self._by_name_cache: dict[str, list[tuple[str | None, str]]] | None = {}
        self._by_module_cache: dict[str | None, set[tuple[str | None, str]]] | None = {}
        self._exports: dict[str | None, set[str]] = {}
        self._module_paths: dict[str, str | None] = dict(module_paths or {})
        self._drift: list[DriftEntry] = list(drift)
        self._path_module: dict[str, str] | None = None
        self._prelude_other: set[str] = set()  # prelude names bound at syntax phase only
        self.build_seconds: dict[str, float] = {}
        self.source_file: str | None = None  # the file it was loaded from
        self.bundled = False  # loaded from the copy shipped with the package
        self.generation = 0  # counts changes after loading: what is derived from the index is stale when it moved
        self._visible_memo: dict[tuple, VisibleNames] = {}  # visible_names by imports, for this generation
        self._visible_memo_generation = 0
        self._sorted_names: tuple[int, list[str]] | None = None  # (generation, every name in order)
        for s in symbols:
            self._add(s)

    # -- building -----------------------------------------------------------
    def _put(self, module: str | None, name: str, row: Symbol | dict, exported: bool,
             phase: int) -> None:
        key = (module, name)
        if key in self._rows:
            self._drop(key)
        self.generation += 1
        self._rows[key] = row
        if self._by_name_cache is not None:
            self._by_name_cache.setdefault(name, []).append(key)
        if self._by_module_cache is not None:
            self._by_module_cache.setdefault(module, set()).add(key)
        if exported and phase == 0:
            self._exports.setdefault(module, set()).add(name)
        elif exported and module is None:
            self._prelude_other.add(name)
        if module is not None and module not in self._module_paths:
            self._module_paths[module] = None

    def _drop(self, key: tuple[str | None, str]) -> None:
        self.generation += 1
        self._rows.pop(key, None)
        keys = self._by_name_cache.get(key[1]) if self._by_name_cache is not None else None
        if keys and key in keys:
            keys.remove(key)
        if self._by_module_cache is not None:
            self._by_module_cache.get(key[0], set()).discard(key)
        self._exports.get(key[0], set()).discard(key[1])
        if key[0] is None:
            self._prelude_other.discard(key[1])

    def _add(self, sym: Symbol) -> None:
        self._put(sym.module, sym.name, sym, sym.exported, sym.phase)

    def _add_raw(self, name: str, module: str | None, row: dict) -> None:
        """A stored row, materialised into a :class:`Symbol` on first use."""
        self._put(module, name, (name, module, row), row.get("x", 1) == 1, row.get("h", 0))

    def _bulk_load(self, rows: list, shapes: list[dict]) -> None:
        """Fast path for :func:`~.store.loads`: ``rows`` are ``[module, name, shape, ...]``."""
        flags = [(sh.get("x", 1) == 1, sh.get("h", 0)) for sh in shapes]
        table = self._rows
        exports = self._exports
        other = self._prelude_other
        for group in rows:
            module = group[0]
            ex = exports.get(module)
            if ex is None:
                ex = exports[module] = set()
            it = iter(group)
            next(it)
            for name, si in zip(it, it, strict=True):
                table[(module, name)] = (name, module, shapes[si])
                exported, phase = flags[si]
                if exported:
                    if phase == 0:
                        ex.add(name)
                    elif module is None:
                        other.add(name)
            if not ex:
                del exports[module]
        for module in exports:
            if module is not None and module not in self._module_paths:
                self._module_paths[module] = None
        self._by_name_cache = None  # built on first lookup
        self._by_module_cache = None

    @property
    def _by_name(self) -> dict[str, list[tuple[str | None, str]]]:
        if self._by_name_cache is None:
            idx: dict[str, list[tuple[str | None, str]]] = {}
            for key in self._rows:
                lst = idx.get(key[1])
                if lst is None:
                    idx[key[1]] = [key]
                else:
                    lst.append(key)
            self._by_name_cache = idx
        return self._by_name_cache

    def _module_keys(self, module: str | None) -> list[tuple[str | None, str]]:
        """The keys of one module's rows (the table by module is built on first use)."""
        if self._by_module_cache is None:
            table: dict[str | None, set[tuple[str | None, str]]] = {}
            for key in self._rows:
                table.setdefault(key[0], set()).add(key)
            self._by_module_cache = table
        return sorted(self._by_module_cache.get(module, ()), key=lambda key: key[1])

    def _sym(self, key: tuple[str | None, str]) -> Symbol | None:
        row = self._rows.get(key)
        if row is None or isinstance(row, Symbol):
            return row
        name, module, data = row
        sym = Symbol.from_json(data, name=name, module=module)
        self._rows[key] = sym
        return sym

    def add_symbols(self, symbols: Iterable[Symbol]) -> None:
        for s in symbols:
            self._add(s)
        self._path_module = None

    def add_module(self, module: str, symbols: Iterable[Symbol], path: str | None = None) -> None:
        """Register (or replace) a module's exports, e.g. a project file scanned live."""
        self.generation += 1
        for key in self._module_keys(module):
            self._drop(key)
        self._exports.pop(module, None)
        self._module_paths[module] = path
        for s in symbols:
            s.module = module
            self._add(s)
        self._path_module = None

    def scan_files(self, paths: Iterable[str | os.PathLike], results: dict | None = None,
                   root: str | os.PathLike | None = None) -> list[str]:
        """Index project files live (e.g. open or changed ones); returns their module ids.

        The files are scanned together, so they may import each other; other
        imports resolve against this index.  ``results`` maps a path to an
        already-read ``ReadResult`` (the editor's unsaved text).  Each module's
        exports replace what the index had for it.
        """
        scanned = self.module_rows(paths, results, root)
        for mid, module in scanned.items():
            self.add_module(mid, module.rows, module.path)
        return list(scanned)

    def module_rows(self, paths: Iterable[str | os.PathLike], results: dict | None = None,
                    root: str | os.PathLike | None = None,
                    progress: Callable[[int], None] | None = None) -> dict[str, ScannedModule]:
        """What :meth:`scan_files` would add, by module id. Changes nothing.

        Only reads the index, so it may run on a worker thread while the index is
        being read elsewhere; :meth:`replace_module` commits each result.
        ``progress(files read so far)`` is called after each file.
        """
        from .build import _row_from_binding
        from .source import Binding, SourceTree

        def external(mid: str) -> dict[str, Binding] | None:
            names = self._export_set(mid)
            if not names:
                return None
            key_mod = None if mid == PRELUDE_MODULE and mid not in self._exports else mid
            return {n: Binding(key_mod or PRELUDE_MODULE, n, None) for n in names}

        tree = SourceTree(external=external)
        results = {os.path.normpath(str(k)): v for k, v in (results or {}).items()}
        added = []
        for done, p in enumerate(paths, start=1):
            sp = os.path.normpath(str(p))
            mod = tree.add_file(Path(sp), root=Path(root) if root else None,
                                result=results.get(sp))
            if mod is not None:
                added.append(mod.id)
            if progress is not None:
                progress(done)
        out: dict[str, ScannedModule] = {}
        for mid in added:
            rows = []
            for n, b in sorted(tree.exports(mid).items()):
                known = None
                if b.definition is None and b.module not in tree.modules:
                    known = self.get(None if b.module == PRELUDE_MODULE else b.module, b.name)
                if known is not None:
                    sym = Symbol.from_json(known.to_json(), name=n, module=mid)
                    sym.origin = known.origin or known.module or PRELUDE_MODULE
                    sym.documented = False
                else:
                    sym = _row_from_binding(n, mid, b)
                rows.append(sym)
            module = tree.modules[mid]
            out[mid] = ScannedModule(self._keep_docs(mid, rows), module.path, list(module.defs.values()))
        return out

    def _keep_docs(self, module: str, rows: list[Symbol]) -> list[Symbol]:
        """What the docs said of a module's names stays when its source is scanned again.

        As :func:`build_index` merges them: documented exports keep their doc facts, and
        documented names the source no longer exports stay as unexported rows (hover shows them).
        """
        from .build import _merge_doc

        documented = {key[1]: row for key in self._module_keys(module)
                      if (row := self._sym(key)) is not None and row.documented}
        for row in rows:
            doc = documented.pop(row.name, None)
            if doc is not None:
                _merge_doc(row, doc)
        for name, doc in documented.items():
            gone = Symbol.from_json(doc.to_json(), name=name, module=module)
            gone.exported = False
            rows.append(gone)
        return rows

    def replace_module(self, module: str, symbols: list[Symbol], path: str | None = None) -> bool:
        """:meth:`add_module`, unless nothing but source locations changed; True when the exports changed.

        A definition that moves down a line changes no diagnostic, so its new
        location is written into the row in place and ``generation`` stays: the
        analyses of open files (and their per-form problems) remain valid.
        """
        for s in symbols:
            s.module = module
        old = {key[1]: self._sym(key) for key in self._module_keys(module)}
        same_shape = (self._module_paths.get(module) == path and set(old) == {s.name for s in symbols}
                      and all(_without_location(old[s.name]) == _without_location(s) for s in symbols))
        if not same_shape:
            self.add_module(module, symbols, path)
            return True
        for s in symbols:
            row = old[s.name]
            row.source_path, row.source_line, row.source_character = s.source_path, s.source_line, s.source_character
        return False

    def reexporters(self, modules: set[str], among: Iterable[str]) -> list[str]:
        """Those of ``among`` that export a name from one of ``modules``: their rows copy its rows."""
        out = []
        for mid in among:
            if mid not in modules and any((row := self._sym(key)) is not None and row.origin in modules
                                          for key in self._module_keys(mid)):
                out.append(mid)
        return out

    def drop_module(self, module: str) -> bool:
        """Forget a module (its file was deleted); True when the index had it."""
        keys = self._module_keys(module)
        known = bool(keys) or module in self._module_paths
        for key in keys:
            self._drop(key)
        self._exports.pop(module, None)
        self._module_paths.pop(module, None)
        self._path_module = None
        if known:
            self.generation += 1
        return known

    # -- queries --------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, name: str) -> bool:
        return bool(self._by_name.get(name))

    def symbols(self) -> list[Symbol]:
        return [self._sym(k) for k in list(self._rows)]  # type: ignore[misc]

    def names(self) -> set[str]:
        return {n for n, keys in self._by_name.items() if keys}

    def names_starting(self, prefix: str) -> Iterator[str]:
        """Every name that starts with ``prefix``, in order (completion asks on each keystroke)."""
        if self._sorted_names is None or self._sorted_names[0] != self.generation:
            self._sorted_names = (self.generation, sorted(self.names()))
        return starting(self._sorted_names[1], prefix)

    def get(self, module: str | None, name: str) -> Symbol | None:
        if module == PRELUDE_MODULE and (module, name) not in self._rows:
            module = None
        return self._sym((module, name))

    def lookup(self, name: str) -> list[Symbol]:
        """Every row named ``name``: prelude first, then exported, documented, shorter ids."""
        rows = [self._sym(k) for k in self._by_name.get(name, ())]
        return sorted(rows, key=lambda s: (s.module is not None, *_pref_key(s)))  # type: ignore[union-attr]

    def exports(self, module: str | None) -> set[str]:
        """A module's exported names (a copy); ``None`` or ``:gerbil/core``: the prelude."""
        return set(self._export_set(module))

    def _export_set(self, module: str | None) -> set[str] | tuple:
        if module == PRELUDE_MODULE and module not in self._exports:
            module = None
        return self._exports.get(module, ())

    def has_module(self, module: str) -> bool:
        return module in self._module_paths or module in self._exports or (
            module == PRELUDE_MODULE)

    def modules(self) -> list[str]:
        mods = set(self._module_paths) | {m for m in self._exports if m is not None}
        return sorted(mods)

    def module_path(self, module: str) -> str | None:
        return self._module_paths.get(module)

    def module_for_path(self, path: str | os.PathLike) -> str | None:
        if self._path_module is None:
            self._path_module = {os.path.normpath(p): m for m, p in self._module_paths.items() if p}
        return self._path_module.get(os.path.normpath(str(path)))

    def prelude(self, *, syntax: bool = True) -> set[str]:
        """Names usable with no import.

        With ``syntax`` (the default) this includes the prelude's syntax-time
        bindings (``syntax-case``, ``with-syntax`` ...) that macro bodies use, so an
        unbound-identifier check that cannot tell phases apart stays quiet on them.
        """
        names = set(self._exports.get(None, ()))
        if syntax:
            names |= self._prelude_other
        return names

    def prelude_complete(self) -> bool:
        """True when the prelude came from a Gerbil source tree (not from docs alone)."""
        return bool(self.meta.get("prelude_complete"))

    @property
    def has_source(self) -> bool:
        """Built from a Gerbil source tree (so exports are real and drift is known)."""
        return bool(self.meta.get("has_source"))

    def modules_exporting(self, name: str) -> list[str]:
        """Modules that export ``name`` (best import first); the prelude is not listed."""
        rows = [self._sym((m, n)) for m, n in self._by_name.get(name, ())
                if m is not None and n in self._exports.get(m, ())]
        rows.sort(key=_pref_key)  # type: ignore[arg-type]
        return [s.module for s in rows]  # type: ignore[union-attr,misc]

    def drift(self) -> list[DriftEntry]:
        return list(self._drift)

    # -- imports ------------------------------------------------------------
    @staticmethod
    def _specs(imports: Iterable[str | ImportSpec] | None) -> list[ImportSpec]:
        out = []
        for imp in imports or ():
            if isinstance(imp, ImportSpec):
                out.append(imp)
            elif isinstance(imp, str):
                out.append(ImportSpec(module=imp, raw=imp))
        return out

    def resolve(self, name: str, imports: Iterable[str | ImportSpec] | None = None,
                *, phase: int = 0) -> Symbol | None:
        """The binding ``name`` refers to in a file importing ``imports``.

        Explicit imports shadow the prelude (as in Gerbil).  The returned row
        is the exported original (``prefix-in``/``rename-in`` change the
        visible name only).
        """
        for spec in self._specs(imports):
            if spec.phase != phase or spec.module is None:
                continue
            orig = spec.original_of(name)
            if orig is None:
                continue
            if orig in self._export_set(spec.module):
                return self.get(spec.module, orig)
        if phase == 0 and name in self._exports.get(None, ()):
            return self._sym((None, name))
        return None

    def visible_names(self, imports: Iterable[str | ImportSpec] | None = None,
                      *, phase: int = 0, syntax: bool = True) -> VisibleNames:
        """Prelude plus imported exports, by visible name (for completion).

        With ``syntax`` the prelude's syntax-time names (``syntax-case`` ...) are
        included too, as :meth:`prelude` does. Every version of a file asks with the same
        imports, so the answer is kept until the index changes: it is shared, read it only.
        """
        specs = self._specs(imports)
        key = (phase, syntax, tuple((spec.module, spec.phase, repr(spec.ops)) for spec in specs))
        if self._visible_memo_generation != self.generation or len(self._visible_memo) > 256:
            self._visible_memo.clear()
            self._visible_memo_generation = self.generation
        known = self._visible_memo.get(key)
        if known is None:
            known = self._visible_memo[key] = self._visible_names(specs, phase, syntax)
        return known

    def _visible_names(self, specs: list[ImportSpec], phase: int, syntax: bool) -> VisibleNames:
        out = VisibleNames()
        if phase == 0:
            if syntax:
                for n in self._prelude_other:
                    out[n] = self._sym((None, n))  # type: ignore[assignment]
            for n in self._exports.get(None, ()):
                out[n] = self._sym((None, n))  # type: ignore[assignment]
        for spec in specs:
            if spec.phase != phase or spec.module is None:
                continue
            names = self._export_set(spec.module)
            mod = None if spec.module == PRELUDE_MODULE and spec.module not in self._exports \
                else spec.module
            for vis, orig in spec.apply(names).items():
                sym = self._sym((mod, orig))
                if sym is not None:
                    out[vis] = sym
        return out

    def file_imports(self, result, path: str | os.PathLike | None = None) -> list[ImportSpec]:
        """The ``(import ...)`` specs of a file, resolved to module ids where possible.

        Looks at top-level forms, ``begin`` and every ``cond-expand`` clause.
        Relative imports (``./x``, ``../x``, ``"file"``) need ``path``.
        """
        spath = os.path.normpath(str(path)) if path is not None else None
        mid = None
        if spath is not None:
            mid = self.module_for_path(spath) or module_id_for_path(Path(spath), result.text)
        subs: dict[str, str] = {}
        forms: list = []
        _collect_top(result.forms, forms)
        for f in forms:
            if node_head(f) == "module" and len(f.children) > 1:
                n = node_symbol(f.children[1])
                if n:
                    subs[n] = f"{mid or ':<file>'}~{n}"

        def path_to_module(p: Path) -> str | None:
            return self.module_for_path(p)

        ctx = ImportContext(module=mid, path=spath, path_to_module=path_to_module,
                            submodule=subs.get, text=result.text)
        out: list[ImportSpec] = []
        for f in forms:
            if node_head(f) == "import":
                out.extend(parse_import_form(f, ctx))
        return out

    def local_definitions(self, result, path: str | None = None) -> dict[str, LocalDefinition]:
        """Names the file defines at top level (incl. generated struct/class names)."""
        from .source import local_definitions

        return local_definitions(result, path)

    # -- persistence ----------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        from .store import save_index

        save_index(self, Path(path))

    @classmethod
    def load(cls, path: str | os.PathLike) -> SymbolIndex:
        from .store import load_index_file

        return load_index_file(Path(path))

    def stats(self) -> dict[str, int]:
        mods = [m for m in self._exports if m is not None and self._exports[m]]
        def documented(row) -> bool:
            if isinstance(row, Symbol):
                return row.documented
            return bool(row[2].get("d", 0))

        return {
            "symbols": len(self._rows),
            "documented": sum(1 for r in self._rows.values() if documented(r)),
            "modules": len(self.modules()),
            "modules_with_exports": len(mods),
            "std_modules_with_exports": sum(1 for m in mods if m.startswith(":std/")),
            "prelude": len(self._exports.get(None, ())),
            "drift": len(self._drift),
        }

    def describe(self) -> str:
        """One line for ``gerbil-lsp status``: where the index came from and what it holds."""
        st = self.stats()
        if self.bundled:
            where = "bundled (reference docs only)"
        elif self.source_file:
            where = f"built: {self.source_file}"
        else:
            where = "in memory"
        prelude = ("prelude complete (from source)" if self.prelude_complete()
                   else "prelude from docs (unbound-identifier checks off)")
        text = f"{where} — {st['symbols']} symbols, {st['modules']} modules, {prelude}"
        if self.has_source:
            text += f", {st['drift']} doc drift"
        return text

    def __repr__(self) -> str:
        st = self.stats()
        return (f"<SymbolIndex {st['symbols']} symbols, {st['modules']} modules, "
                f"prelude {st['prelude']} ({'complete' if self.prelude_complete() else 'docs'})>")


@dataclass
class ScannedModule:
    """One module as :meth:`SymbolIndex.module_rows` read it."""

    rows: list[Symbol]  # its exports, as index rows
    path: str | None
    definitions: list[Definition]  # every top-level definition, exported or not (workspace symbols)


def _without_location(sym: Symbol | None) -> dict | None:
    """A row as diagnostics see it: everything but where it is defined."""
    if sym is None:
        return None
    row = sym.to_json()
    for key in ("f", "l", "c"):  # source_path, source_line, source_character
        row.pop(key, None)
    return row


def _collect_top(forms, out: list) -> None:
    for f in forms:
        h = node_head(f)
        if h == "begin":
            _collect_top(f.children[1:], out)
        elif h == "cond-expand":
            for clause in f.children[1:]:
                if clause.children:
                    _collect_top(clause.children[1:], out)
        else:
            out.append(f)
