"""The index file: one gzip'd compact JSON document with a format version.

Layout::

    {"format": "gerbil-lsp-index", "version": N, "meta": {...},
     "modules": {module id: source path or null},
     "rows": [[module, name, shape, name, shape, ...], ...],  # per module, sorted
     "shapes": [row, ...],     # Symbol.to_json() less name/module, deduplicated
     "strings": [str, ...],    # repeated strings (doc links, paths, origins) of shapes
     "drift": [entry, ...]}

A re-exported binding has the same shape as its original, so modules that
re-export the prelude cost one name and one number per name.  Shape fields in
``INTERNED`` hold an index into ``strings``.

Writing is deterministic (sorted rows and keys, gzip mtime 0), so the bundled
index only changes when its inputs do.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from gerbil_lsp.core import collector
from gerbil_lsp.core.atomic import write_bytes_atomic

from .model import DriftEntry
from .symindex import SymbolIndex

FORMAT = "gerbil-lsp-index"
FORMAT_VERSION = 1
REBUILD_HINT = "run `gerbil-lsp index build` to rebuild it"


class IndexLoadError(RuntimeError):
    """The index file is missing, unreadable or not an index."""


class IndexVersionError(IndexLoadError):
    """The index file was written by an incompatible gerbil-lsp."""


#: shape fields whose (often repeated) string values go to the string table
INTERNED = ("u", "p", "o", "f", "r", "k", "S")


def _row_data(row) -> dict:
    """A row's stored dict (less name/module) without materialising a Symbol."""
    if isinstance(row, tuple):
        return dict(row[2])
    d = row.to_json()
    d.pop("n", None)
    d.pop("m", None)
    return d


def to_document(index: SymbolIndex) -> dict:
    modules = {m: index.module_path(m) for m in index.modules()}
    shapes: list[dict] = []
    shape_ids: dict[tuple, int] = {}
    strings: list[str] = []
    string_ids: dict[str, int] = {}
    by_module: dict[str, list] = {}
    for (module, name) in sorted(index._rows, key=lambda k: (k[0] or "", k[1])):
        d = _row_data(index._rows[(module, name)])
        for k in INTERNED:
            v = d.get(k)
            if isinstance(v, str):
                si = string_ids.get(v)
                if si is None:
                    si = string_ids[v] = len(strings)
                    strings.append(v)
                d[k] = si
        key = tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in sorted(d.items()))
        i = shape_ids.get(key)
        if i is None:
            i = shape_ids[key] = len(shapes)
            shapes.append(d)
        lst = by_module.setdefault(module or "", [module])
        lst.extend((name, i))
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "meta": index.meta,
        "modules": modules,
        "rows": [by_module[m] for m in sorted(by_module)],
        "shapes": shapes,
        "strings": strings,
        "drift": [d.to_json() for d in sorted(index.drift(), key=lambda d: (d.module or "", d.name))],
    }


def dumps(index: SymbolIndex) -> bytes:
    doc = to_document(index)
    raw = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        encoded = raw.encode("utf-8")
    except UnicodeEncodeError:  # a file name that is not UTF-8 (kept by Python as lone surrogates)
        encoded = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    return gzip.compress(encoded, compresslevel=6, mtime=0)


def save_index(index: SymbolIndex, path: Path) -> None:
    write_bytes_atomic(path, dumps(index))


def loads(data: bytes, origin: str = "<bytes>") -> SymbolIndex:
    try:
        with collector.paused():  # a large, acyclic JSON document
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            doc = json.loads(data)
    except (OSError, EOFError, ValueError) as e:
        raise IndexLoadError(f"{origin} is not a readable symbol index ({e}); {REBUILD_HINT}") from e
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise IndexLoadError(f"{origin} is not a gerbil-lsp symbol index; {REBUILD_HINT}")
    version = doc.get("version")
    if version != FORMAT_VERSION:
        raise IndexVersionError(
            f"{origin} has index format version {version}, but this gerbil-lsp reads "
            f"version {FORMAT_VERSION}; {REBUILD_HINT}"
        )
    index = SymbolIndex(
        meta=doc.get("meta") or {},
        module_paths=doc.get("modules") or {},
        drift=(DriftEntry.from_json(d) for d in doc.get("drift", ())),
    )
    shapes = doc.get("shapes") or []
    strings = doc.get("strings") or []
    try:
        with collector.paused():  # tens of thousands of small containers
            for shape in shapes:
                for k in INTERNED:
                    v = shape.get(k)
                    if v is not None:
                        shape[k] = strings[v]
            index._bulk_load(doc.get("rows") or [], shapes)
    except (TypeError, ValueError, IndexError) as e:
        raise IndexLoadError(f"{origin} is a damaged symbol index ({e}); {REBUILD_HINT}") from e
    return index


def load_index_file(path: Path) -> SymbolIndex:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise IndexLoadError(f"cannot read symbol index {path}: {e}; {REBUILD_HINT}") from e
    index = loads(data, str(path))
    index.source_file = str(path)
    return index
