"""The built index: docs + source merge, drift, imports, resolution, storage."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from gerbil_lsp.core.index import (
    Arity,
    ImportSpec,
    IndexLoadError,
    IndexVersionError,
    Symbol,
    SymbolIndex,
    build_index,
    default_index,
    load_index,
)
from gerbil_lsp.core.reader import read_source

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "index"


@pytest.fixture(scope="module")
def idx() -> SymbolIndex:
    return build_index(FIX / "docs", FIX / "gerbil-src")


def test_prelude_complete_only_with_source(idx):
    assert idx.prelude_complete() and idx.has_source
    docs_only = build_index(FIX / "docs", None)
    assert not docs_only.prelude_complete()
    assert "hash-get" in docs_only.prelude()
    assert docs_only.drift() == []


def test_lookup_merges_docs_into_source(idx):
    first = idx.lookup("hash-get")[0]
    assert first.module is None  # prelude first
    assert first.documented and first.exported
    assert first.arity == Arity(2, 2)
    assert first.source_path.endswith("gerbil/runtime/hash.ss")  # extern resolved to the runtime def
    assert first.doc_url.endswith("tables.html#hash-get")
    assert "#f" in first.summary


def test_root_syntax_and_phase1_names_in_prelude(idx):
    pre = idx.prelude()
    assert {"begin", "if", "%#if", "_", "else"} <= pre
    assert "when-let" in pre


def test_exports_and_modules(idx):
    assert ":acme/shapes" in idx.modules()
    assert "point-x" in idx.exports(":acme/shapes")
    assert "internal-helper" not in idx.exports(":acme/shapes")
    assert idx.exports(":gerbil/core") == idx.exports(None)
    assert idx.modules_exporting("greet")[0] == ":acme/util"  # documented home first


def test_drift_with_rename_suggestion(idx):
    drift = {(d.module, d.name): d for d in idx.drift()}
    assert set(drift) == {(None, "ghost-proc"), (":acme/shapes", "point-z"),
                          (":acme/shapes", "hello-world")}
    assert drift[(":acme/shapes", "hello-world")].suggestions[0] == "hello-world!"
    ghost = idx.lookup("ghost-proc")
    assert ghost and not ghost[0].exported and ghost[0].documented


def test_resolve_plain_and_prelude(idx):
    assert idx.resolve("greet", [":acme/util"]).module == ":acme/util"
    assert idx.resolve("car", []).module is None
    assert idx.resolve("greet", []) is None
    assert idx.resolve("internal-helper", [":acme/shapes"]) is None


def _imports(idx, code, path=None):
    return idx.file_imports(read_source(code), path)


def test_only_in_prefix_in_rename_in_except_in(idx):
    specs = _imports(idx, """
(import (only-in :acme/util greet tally)
        (prefix-in :acme/shapes s:)
        (rename-in (except-in :acme/api low) (high top))
        (for-syntax :acme/gen))
""")
    assert [s.module for s in specs] == [":acme/util", ":acme/shapes", ":acme/api", ":acme/gen"]
    assert specs[3].phase == 1
    vis = idx.visible_names(specs)
    assert "greet" in vis and "tally" in vis
    assert "s:point-x" in vis and "point-x" not in vis
    assert "top" in vis and "high" not in vis and "low" not in vis
    assert "red-get" not in vis  # for-syntax import
    assert "car" in vis  # prelude
    assert idx.resolve("s:point-x", specs).name == "point-x"
    assert idx.resolve("top", specs).name == "high"
    assert idx.resolve("salute", specs).module == ":acme/api"
    assert idx.resolve("shape-version", specs) is not None
    assert idx.resolve("configure", [specs[0]]) is None  # not in only-in


def test_relative_imports_of_a_file(idx):
    path = FIX / "gerbil-src" / "acme" / "sub" / "inner.ss"
    specs = idx.file_imports(read_source(path.read_text()), path)
    assert [s.module for s in specs] == [":acme/util", ":acme/shapes", ":acme/api"]
    assert specs[1].path.endswith("acme/shapes.ss")
    assert specs[2].ops == [("prefix", "api:")]
    assert specs[0].line == 0 and specs[0].raw == "../util"


def test_file_imports_inside_begin_and_cond_expand(idx):
    specs = _imports(idx, "(begin (import :acme/util))\n(cond-expand (linux (import :acme/gen)) (else))")
    assert [s.module for s in specs] == [":acme/util", ":acme/gen"]


def test_local_definitions_via_index(idx):
    defs = idx.local_definitions(read_source("(defstruct pt (a b))\n(def (f x) x)"))
    assert {"pt", "make-pt", "pt?", "pt-a", "pt-b-set!", "f"} <= set(defs)
    assert defs["f"].line == 1 and defs["f"].arity == Arity(1, 1)


def test_save_load_roundtrip(idx, tmp_path):
    p = tmp_path / "index.json.gz"
    idx.save(p)
    back = SymbolIndex.load(p)
    assert back.stats() == idx.stats()
    assert back.meta == idx.meta
    a = sorted(json.dumps(s.to_json(), sort_keys=True) for s in idx.symbols())
    b = sorted(json.dumps(s.to_json(), sort_keys=True) for s in back.symbols())
    assert a == b
    assert [d.to_json() for d in back.drift()] == [d.to_json() for d in idx.drift()]
    assert back.prelude() == idx.prelude() and back.prelude_complete()
    assert back.module_path(":acme/util").endswith("acme/util.ss")
    idx.save(tmp_path / "again.json.gz")
    assert (tmp_path / "again.json.gz").read_bytes() == p.read_bytes()  # deterministic


def test_version_mismatch_is_a_clear_error(idx, tmp_path):
    p = tmp_path / "old.json.gz"
    idx.save(p)
    doc = json.loads(gzip.decompress(p.read_bytes()))
    doc["version"] = 0
    p.write_bytes(gzip.compress(json.dumps(doc).encode()))
    with pytest.raises(IndexVersionError, match="gerbil-lsp index build"):
        SymbolIndex.load(p)
    (tmp_path / "junk.json.gz").write_bytes(b"not an index")
    with pytest.raises(IndexLoadError, match="gerbil-lsp index build"):
        SymbolIndex.load(tmp_path / "junk.json.gz")


def test_load_index_prefers_user_index(idx, tmp_path, monkeypatch):
    from gerbil_lsp.core import paths

    assert load_index() is default_index()  # nothing built yet: the bundled one
    idx.save(paths.index_file())
    mine = load_index()
    assert mine.prelude_complete() and mine.source_file == str(paths.index_file())


def test_bundled_index_hash_get():
    bundled = default_index()
    assert bundled.bundled and not bundled.prelude_complete()
    (s,) = [x for x in bundled.lookup("hash-get") if x.module is None]
    assert s.arity == Arity(2, 2)
    assert s.returns == "any"
    assert "#f" in s.summary
    assert s.doc_url == "https://cons.io/reference/gerbil/runtime/hash-tables.html#hash-get"
    assert s.description is None  # facts only in the bundle
    assert bundled.stats()["documented"] >= 2000
    assert "bundled" in bundled.describe()


def test_add_module_overlay(idx):
    local = build_index(FIX / "docs", FIX / "gerbil-src")
    local.add_module(":proj/x", [Symbol(name="fresh", arity=Arity(0, 0))], path="/tmp/x.ss")
    assert local.resolve("fresh", [":proj/x"]).arity == Arity(0, 0)
    assert local.module_for_path("/tmp/x.ss") == ":proj/x"
    assert ImportSpec(":proj/x", ":proj/x").original_of("fresh") == "fresh"


def test_visible_names_are_kept_per_imports_until_the_index_changes():
    local = build_index(FIX / "docs", FIX / "gerbil-src")
    local.add_module(":proj/x", [Symbol(name="old", arity=Arity(0, 0))], path="/tmp/x.ss")
    only = _imports(local, "(import (only-in :proj/x old))")
    first = local.visible_names([":proj/x"])
    assert local.visible_names([":proj/x"]) is first  # every version of a file asks again: kept
    assert local.visible_names(only) is not first  # other imports (here an only-in), another answer
    local.add_module(":proj/x", [Symbol(name="fresh", arity=Arity(0, 0))], path="/tmp/x.ss")  # the file changed
    now = local.visible_names([":proj/x"])
    assert "fresh" in now and "old" not in now
    assert "old" not in local.visible_names(only)


def test_names_by_prefix_come_in_order_and_follow_the_index():
    local = build_index(FIX / "docs", FIX / "gerbil-src")
    everything = sorted(local.names())
    assert list(local.names_starting("hash-")) == [n for n in everything if n.startswith("hash-")]
    assert list(local.names_starting("")) == everything
    assert list(local.names_starting("zzz-none")) == []
    local.add_module(":proj/x", [Symbol(name="hash-fresh", arity=Arity(0, 0))], path="/tmp/x.ss")
    assert "hash-fresh" in local.names_starting("hash-f")  # kept until the index changes, then made again
    visible = local.visible_names([":proj/x"])
    assert list(visible.starting("hash-")) == sorted(n for n in visible if n.startswith("hash-"))
    assert "hash-fresh" in visible.starting("hash-")


def test_docs_plus_project_without_gerbil_tree(tmp_path):
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "gerbil.pkg").write_text("(package: mine)\n")
    (proj / "tool.ss").write_text("(export run)\n(def (run x . more) x)\n")
    idx = build_index(FIX / "docs", None, [proj])
    assert not idx.has_source and not idx.prelude_complete() and idx.drift() == []
    assert idx.resolve("run", [":mine/tool"]).arity == Arity(1, None)
    assert idx.lookup("hash-get")[0].exported  # docs are taken at their word
    assert idx.module_path(":mine/tool").endswith("tool.ss")


def test_scan_files_indexes_project_modules_live(idx, tmp_path):
    proj = tmp_path / "app"
    proj.mkdir()
    (proj / "gerbil.pkg").write_text("(package: app)\n")
    (proj / "a.ss").write_text("(import :acme/util)\n(export (import: :acme/util) go)\n(def (go x) x)\n")
    b_text = "(import ./a)\n(export #t)\n(defstruct cell (v))\n"
    local = SymbolIndex(idx.symbols(), meta=idx.meta)
    mods = local.scan_files([proj / "a.ss", proj / "b.ss"], results={proj / "b.ss": read_source(b_text)})
    assert mods == [":app/a", ":app/b"]
    assert local.resolve("go", [":app/a"]).arity == Arity(1, 1)
    greet = local.resolve("greet", [":app/a"])  # re-exported from the index's :acme/util
    assert greet.arity == Arity(1, 2) and greet.origin == ":acme/util"
    assert {"cell", "make-cell", "cell-v"} <= local.exports(":app/b")
    assert local.module_for_path(proj / "a.ss") == ":app/a"


def test_replace_module_moves_the_generation_only_when_exports_change(idx, tmp_path):
    proj = tmp_path / "app"
    proj.mkdir()
    (proj / "gerbil.pkg").write_text("(package: app)\n")
    local = SymbolIndex(idx.symbols(), meta=idx.meta)

    def rows(text: str):
        (scanned,) = local.module_rows([proj / "a.ss"], results={proj / "a.ss": read_source(text)}).values()
        return scanned.rows, scanned.path

    assert local.replace_module(":app/a", *rows("(export go)\n(def (go x) x)\n"))  # new: the exports changed
    generation = local.generation
    # the definition moved two lines down: its location follows, nothing else changes
    assert not local.replace_module(":app/a", *rows(";; notes\n\n(export go)\n(def (go x) x)\n"))
    assert local.generation == generation and local.resolve("go", [":app/a"]).source_line == 3
    assert local.replace_module(":app/a", *rows("(export go)\n(def (go x y) x)\n"))  # its arity changed
    assert local.generation > generation and local.resolve("go", [":app/a"]).arity == Arity(2, 2)
    generation = local.generation
    assert local.replace_module(":app/a", *rows("(export go stop)\n(def (go x y) x)\n(def (stop) #f)\n"))
    assert local.generation > generation and local.exports(":app/a") == {"go", "stop"}

    assert local.drop_module(":app/a") and not local.has_module(":app/a")
    assert local.module_for_path(proj / "a.ss") is None and local.resolve("go", [":app/a"]) is None
    assert not local.drop_module(":app/a")


def test_scanning_a_documented_module_again_keeps_what_the_docs_say(idx):
    local = SymbolIndex(idx.symbols(), meta=idx.meta, module_paths={":acme/shapes": idx.module_path(":acme/shapes")})
    path = idx.module_path(":acme/shapes")
    ((mid, scanned),) = local.module_rows([path], root=FIX / "gerbil-src").items()
    assert mid == ":acme/shapes" and not local.replace_module(mid, scanned.rows, scanned.path)  # as the build made it
    area = local.get(":acme/shapes", "area")
    assert area.documented and area.doc_url.endswith("#area") and area.source_path == path
    point_z = local.get(":acme/shapes", "point-z")  # documented, not exported: still there for hover
    assert point_z is not None and not point_z.exported and point_z.doc_url.endswith("#point-z")


def test_a_project_file_name_that_is_not_utf8_saves_and_loads(tmp_path):
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "gerbil.pkg").write_text("(package: mine)\n")
    odd = os.fsdecode(b"caf\xe9.ss")  # a latin-1 name: Python keeps the byte as a lone surrogate
    (proj / odd).write_text("(export go)\n(def (go x) x)\n")
    idx = build_index(FIX / "docs", None, [proj])
    idx.save(tmp_path / "index.json.gz")
    back = SymbolIndex.load(tmp_path / "index.json.gz")
    assert back.module_path(":mine/caf\udce9") == idx.module_path(":mine/caf\udce9")
    assert back.resolve("go", [":mine/caf\udce9"]) is not None
