"""Source scanning: module ids, definitions, generated names, exports, import specs."""

from __future__ import annotations

from pathlib import Path

import pytest

from gerbil_lsp.core.index import Arity, SourceTree, local_definitions, module_id_for_path
from gerbil_lsp.core.index.modules import resolve_relative_library
from gerbil_lsp.core.index.source import iter_source_files
from gerbil_lsp.core.reader import read_source

SRC = Path(__file__).resolve().parent.parent / "fixtures" / "index" / "gerbil-src"


@pytest.fixture(scope="module")
def tree() -> SourceTree:
    t = SourceTree()
    t.add_tree(SRC, gerbil_src=True)
    return t


def test_module_ids_from_pkg_and_package_directive(tree):
    assert module_id_for_path(SRC / "acme/sub/inner.ss") == ":acme/sub/inner"
    text = (SRC / "gerbil/core/runtime.ss").read_text()
    assert module_id_for_path(SRC / "gerbil/core/runtime.ss", text) == ":gerbil/core/runtime"
    assert ":acme/util" in tree.modules and ":gerbil/core" in tree.modules


def test_skips_tests_and_bootstrap():
    files = {p.relative_to(SRC).as_posix() for p in iter_source_files(SRC, gerbil_src=True)}
    assert "acme/util-test.ss" not in files
    assert not any(f.startswith("bootstrap/") for f in files)
    assert "acme/util.ss" in files


def test_relative_library_paths():
    assert resolve_relative_library("./13", ":std/srfi/130") == ":std/srfi/13"
    assert resolve_relative_library("../util", ":acme/sub/inner") == ":acme/util"
    assert resolve_relative_library("../../x", ":a/b/c/d") == ":a/x"


def test_export_all_definitions(tree):
    exp = tree.exports(":acme/util")
    assert {"greet", "tally", "with-shape", "salute", "low", "high", "shape-version",
            "current-canvas", "configure"} <= set(exp)
    d = tree.modules[":acme/util"].defs
    assert d["greet"].arity == Arity(1, 2)
    assert d["tally"].arity == Arity(1, 2)  # def* clauses merged
    assert d["configure"].arity == Arity(2, None)  # keyword + rest
    assert d["current-canvas"].kind == "parameter"
    assert d["with-shape"].kind == "macro" and d["with-shape"].arity == Arity(1, None)
    assert d["salute"].kind == "alias"


def test_struct_out_and_generated_names(tree):
    exp = tree.exports(":acme/shapes")
    for n in ("point", "point::t", "make-point", "point?", "point-x", "point-y",
              "point-x-set!", "&point-y"):
        assert n in exp, n
    defs = tree.modules[":acme/shapes"].defs
    assert defs["make-point"].arity == Arity(2, 2)
    assert defs["point-x-set!"].arity == Arity(2, 2)
    assert defs["make-widget"].arity is None  # classes take keywords
    assert "internal-helper" not in exp


def test_error_class_and_interface(tree):
    exp = tree.exports(":acme/shapes")
    assert {"ShapeError", "make-ShapeError", "shape-error?"} <= set(exp)
    defs = tree.modules[":acme/shapes"].defs
    assert defs["shape-error?"].arity == Arity(1, 1)
    assert "ShapeError?" in defs
    assert defs["Drawable-render"].arity == Arity(2, 3)  # self + canvas + optional scale


def test_reexports_rename_except_prefix(tree):
    exp = tree.exports(":acme/api")
    assert "greet" in exp and exp["greet"].module == ":acme/util"  # (import: ./util)
    assert "shape-area" in exp and exp["shape-area"].name == "area"  # rename:
    assert "make-point" in exp and "point?" not in exp  # except-out of an only-in import
    assert "pt:point" in exp  # prefix-out


def test_prelude_from_core(tree):
    pre = tree.exports(":gerbil/core")
    assert {"car", "hash-get", "display-it", "when-let", "unless-let"} <= set(pre)
    assert "Basics" not in pre  # submodule names are not bindings users see
    assert "hash-get" in tree.exports(":gerbil/core", 1)  # (phi: +1 (import: ...))


def test_macro_generated_exports(tree):
    exp = tree.exports(":acme/gen")
    assert {"red-get", "red-put"} <= set(exp)  # (export ...) in the expansion
    assert "blue-thing" in exp  # through a self-recursive macro
    assert "on-open" not in exp  # (defhook (on-open o) ...) defines no on-open


def test_macro_expansion_follows_the_pattern_language(tree):
    exp = tree.exports(":acme/gen")
    assert "off-sound" in exp and "on-sound" not in exp  # the #f literal picked the second clause
    assert {"alpha-one", "alpha-two", "beta-one"} <= set(exp)  # (export sym ...) ... over both groups
    assert "sym" not in exp and "..." not in exp
    defs = tree.modules[":acme/gen"].defs
    assert defs["tally-up"].kind == "procedure" and defs["tally-up"].generated_by == "def-traced"  # dotted use


def test_string_and_relative_imports_resolve(tree):
    imp = tree.imported(":acme/sub/inner")
    assert imp["greet"].module == ":acme/util"  # ../util
    assert "make-point" in imp  # "../shapes"
    assert "api:shape-area" in imp  # (prefix-in ../api api:)


def test_local_definitions_with_positions():
    src = """(import :std/sugar)
(defstruct (node base) (left right) constructor: :init!)
(def (walk n (depth 0)) depth)
(defrules swap! () ((_ a b) (set! a b)))
(defmethod {visit node} (lambda (self) self))
"""
    defs = local_definitions(read_source(src))
    assert defs["walk"].line == 2 and defs["walk"].arity == Arity(1, 2)
    assert defs["make-node"].generated_by == "node" and defs["make-node"].arity is None
    assert defs["node-left-set!"].arity == Arity(2, 2)
    assert defs["swap!"].kind == "macro" and defs["swap!"].arity == Arity(2, 2)
    assert defs["{visit node}"].kind == "method"
