"""Reference-doc parsing: headings, usage blocks, signatures, arity, module tips."""

from __future__ import annotations

from pathlib import Path

import pytest

from gerbil_lsp.core.index import Arity, parse_docs, parse_page
from gerbil_lsp.core.index.docs import parse_usage, signature_arity, slugify

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "index" / "docs"


@pytest.fixture(scope="module")
def shapes():
    text = (FIX / "reference/std/acme/shapes.md").read_text()
    return {s.name: s for s in parse_page(text, "std/acme/shapes.md").symbols}


@pytest.fixture(scope="module")
def tables():
    text = (FIX / "reference/gerbil/runtime/tables.md").read_text()
    return {s.name: s for s in parse_page(text, "gerbil/runtime/tables.md").symbols}


def test_module_tip_sets_module_and_switches_midpage(shapes):
    assert shapes["make-point"].module == ":acme/shapes"
    assert shapes["greet"].module == ":acme/util"  # after the second tip
    assert shapes["shape-version"].module == ":acme/util"


def test_prelude_page_has_no_module(tables):
    assert tables["hash-get"].module is None
    assert tables["hash-get"].documented


def test_hash_get_facts(tables):
    s = tables["hash-get"]
    assert s.arity == Arity(2, 2)
    assert s.returns == "any | #f"
    assert s.signatures == ["(hash-get table key) -> any | #f"]
    assert s.summary.endswith("`#f` when it is missing.")
    assert s.doc_url == "https://cons.io/reference/gerbil/runtime/tables.html#hash-get"
    assert s.params == ["table := a table", "key   := the lookup key"]
    assert s.examples and "(hash-get (make-table) 'nope)" in s.examples[0]


def test_trailing_hashes_heading(tables, shapes):
    assert tables["table-count"].arity == Arity(1, 1)
    assert tables["table-count"].doc_url.endswith("#table-count")
    assert shapes["area"].doc_url.endswith("#area")


def test_multi_name_heading(shapes):
    x, y = shapes["point-x"], shapes["point-y"]
    assert x.signatures == ["(point-x p) -> number"]
    assert y.signatures == ["(point-y p) -> number"]
    assert x.doc_url == y.doc_url and x.doc_url.endswith("#point-x-point-y")


def test_optional_rest_keyword_signatures(shapes):
    assert shapes["area"].arity == Arity(1, 2)  # [scale = 1]
    assert shapes["greet"].arity == Arity(1, 2)  # [greeting]
    # (draw shape . options) and (draw shape canvas key: ...) merge to 1+
    assert shapes["draw"].arity == Arity(1, None)
    assert len(shapes["draw"].signatures) == 2


def test_macro_and_value_kinds(shapes):
    assert shapes["with-shape"].kind == "macro"
    assert shapes["shape-version"].kind == "value"
    assert shapes["shape-version"].arity is None


def test_prose_headings_are_not_entries(shapes):
    assert not any("Overview" in n or " " in n for n in shapes)


def test_prelude_macros_page():
    text = (FIX / "reference/gerbil/prelude/macros.md").read_text()
    (sym,) = parse_page(text, "gerbil/prelude/macros.md").symbols
    assert sym.name == "when-let" and sym.kind == "macro" and sym.module is None
    assert sym.signatures == ["(when-let (id expr) body ...)"]  # the => expansion is not one


def test_parse_docs_tree_merges_and_orders():
    syms = parse_docs(FIX)
    names = [(s.module, s.name) for s in syms]
    assert len(names) == len(set(names))
    assert (None, "hash-get") in names and (":acme/shapes", "point-z") in names


def test_keep_prose_false_keeps_facts_only():
    syms = {s.name: s for s in parse_docs(FIX, keep_prose=False)}
    s = syms["hash-get"]
    assert s.description is None and s.examples == [] and s.params == []
    assert s.summary and s.arity == Arity(2, 2)


@pytest.mark.parametrize(
    ("sig", "arity"),
    [
        ("(f)", Arity(0, 0)),
        ("(f a b)", Arity(2, 2)),
        ("(f a (b 2))", Arity(1, 2)),
        ("(f a . rest)", Arity(1, None)),
        ("(f a [b c])", Arity(1, 3)),
        ("(f [x = (g)])", Arity(0, 1)),
        ("(f a key: (k 1))", Arity(1, None)),
        ("(f a #!optional b)", Arity(1, 2)),
        ("(f x ...)", Arity(0, None)),
        ("(f a | b)", None),
        ("(f a", None),
    ],
)
def test_signature_arity(sig, arity):
    usage = parse_usage(sig)
    assert signature_arity(usage.forms[0].datum) == arity


def test_extern_block_lists_prelude_names():
    text = "## Bindings\n\n#### Core\n```scheme\n(extern namespace: #f\n  alpha beta\n  (gamma gamma-impl))\n```\n"
    syms = parse_page(text, "gerbil/prelude/runtime-bindings.md").symbols
    assert [s.name for s in syms] == ["alpha", "beta", "gamma"]
    assert all(s.module is None and s.arity is None for s in syms)


def test_define_c_lambda_usage_gives_exact_arity():
    text = "# P\n::: tip usage\n(import :acme/os)\n:::\n\n## getthing\n```\n(define-c-lambda getthing (int char*) int)\n```\n"
    (s,) = parse_page(text, "std/os/thing.md").symbols
    assert s.module == ":acme/os" and s.arity == Arity(2, 2) and s.kind == "procedure"


def test_range_heading_collects_usage_heads():
    text = "## cmp=?, cmp<? ... cmp>=? ##\n```scheme\n(cmp=? a b) -> boolean\n(cmp<? a b) -> boolean\n(cmp>=? a b) -> boolean\n```\n"
    names = [s.name for s in parse_page(text, "std/misc/cmp.md").symbols]
    assert names == ["cmp=?", "cmp<?", "cmp>=?"]


def test_slugify_matches_vuepress():
    assert slugify("hash-put!") == "hash-put"
    assert slugify("length=?, length<? ... length>=?") == "length-length-length"


def test_unclosed_tip_ends_at_next_heading():
    text = ("## alpha\n```scheme\n(alpha x) -> any\n```\n\n::: tip Examples\n```scheme\n> (alpha 1)\n```\n\n"
            "## beta\n```scheme\n(beta) -> any\n```\n")
    syms = {s.name: s for s in parse_page(text, "std/ab.md").symbols}
    assert set(syms) == {"alpha", "beta"}
    assert syms["alpha"].examples == ["> (alpha 1)"]


def test_spaced_headings_keep_the_forms_their_aliases_and_starred_variants_not_parameters_or_prose():
    # written for this test, in the reference docs' layouts
    text = """# Binding forms

### letrec letrec\\*
``` scheme
(letrec[*] (bind ...) body ...)
```

### defclass defstruct define-class define-struct
``` scheme
(defclass id (slot ...) typedef-option ...)
(defstruct id (slot ...) typedef-option ...)

(defalias define-class defclass)
(defalias define-struct defstruct)
```

### mult-mod a b n
```scheme
(mult-mod a b n) -> integer
```

## The `instance` Syntax
``` scheme
(instance Type body ...)
```
"""
    names = [s.name for s in parse_page(text, "gerbil/prelude/binding.md").symbols]
    assert names == ["letrec", "letrec*", "defclass", "defstruct", "define-class", "define-struct", "mult-mod"]
