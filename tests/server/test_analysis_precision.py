"""Unbound-identifier precision: the binding forms and macros the analysis understands.

Each test pairs a form that binds names (no false "unbound identifier") with a real
unbound name inside the same kind of form (still reported).  The index is built
from a small Gerbil-like source tree written here for these tests: a prelude of
plain procedures and syntax stand-ins, and a few library modules whose macros the
analysis has to read (``defrules``, ``defrule``, ``syntax-case`` templates).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gerbil_lsp.core.index import build_index
from gerbil_lsp.server.analysis import _bound_names, analyze, free_references

_SYNTAX = """
    def define lambda let let* alet alet* if when unless cond case begin set! quote
    defstruct defclass defmethod defrules defrule defsyntax syntax-case with-syntax hash cut @
    using for for/fold match with-id defmutable let-hash parameterize include declare
    export import and or defvalues defstruct-type defcompile-method with-catch
""".split()

TREE = {
    "gerbil/core.ss": """
        ;;; a small stand-in for Gerbil's prelude
        prelude: :<root>
        package: gerbil

        (import "core/procs" "core/forms")
        (export (import: "core/procs" "core/forms"))
    """,
    "gerbil/core/procs.ss": """
        prelude: :<root>
        package: gerbil/core

        (export #t (import: Prims))

        (module Prims
          (export #t)
          (extern namespace: #f
            car cdr cons list length displayln + - * = < not eq? equal? error void
            string-append apply make-hash-table hash-put! vector-ref))

        (import Prims)

        (def (hash-get table key) (table-lookup table key))
        (def (hash-ref table key (default absent)) (table-lookup table key default))
    """,
    "gerbil/core/forms.ss": "prelude: :<root>\npackage: gerbil/core\n\n(export #t)\n\n" + "\n".join(
        f"(defrules {name} () ((_ . args) (%%{name} . args)))" for name in _SYNTAX),
    "std/gerbil.pkg": "(package: std)\n",
    "std/collect.ss": """
        (export #t)

        (defrules with-collector ()
          ((_ (put!) body ...)
           (let ((acc []))
             (def (put! x) (set! acc (cons x acc)))
             body ...
             acc)))

        (defrule (with-thing (v e) body ...)
          (let ((v e)) body ...))

        ;; a macro that defines macros: (make-raiser raise-oops 'oops) defines raise-oops
        (defrules make-raiser ()
          ((_ name kind)
           (defrules name ()
             ((_ where msg) (error msg kind 'where)))))

        (make-raiser raise-oops 'oops)

        (defsyntax (computed-form stx)
          (compute-expansion stx))

        (defsyntax (with-self stx)
          (syntax-case stx ()
            ((_ body ...)
             (with-syntax ((self (syntax-local-introduce 'self)))
               #'(lambda (self) body ...)))))

        (defrule (def-doubler name)
          (with-id name ((doubled "double-" #'name))
            (def (doubled x) (* 2 x))))

        (defrules with-guarded ()
          ((_ x body ...) (identifier? #'x) (let ((x 1)) body ...))
          ((_ (x e) body ...) (let ((x e)) body ...)))

        (defsyntax (run-check stx)
          (syntax-case stx ()
            ((_ expr)
             #'(report-result (lambda () expr)))))

        (def (report-result thunk) (thunk))
    """,
    "std/codepoints.ss": """
        (export #t)

        (defrule (def-both (name x) body)
          (with-id name ((fast "fast-" #'name) (slow "slow-" #'name))
            (begin
              (def (fast x) body)
              (def (slow x) body))))

        (def-both (inc x) (+ x 1))
    """,
    "std/readers.ss": """
        (export defreader)

        (defsyntax (defreader stx)
          (syntax-case stx ()
            ((_ (method . args) body ...)
             (with-syntax ((reader-method (stx-identifier #'method "Reader-" #'method)))
               #'(begin
                   (def (reader-method . args) body ...)
                   (export reader-method))))))

        (defreader (peek-byte r) (car r))
    """,
    "std/shapes.ss": """
        (export #t)

        (defclass shape (name))
        (defmethod {area shape} (lambda (self) 0))
        (defstruct base (a))
        (defstruct (derived base) (b))
        (def (clamp (x : :fixnum)) x)
        (defmutable counter 0)
    """,
}


def write_tree(root: Path) -> Path:
    for rel, text in TREE.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


def tree_index(root: Path):
    built = build_index(None, root)
    assert built.prelude_complete()
    return built


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return write_tree(tmp_path_factory.mktemp("gerbil-src"))


@pytest.fixture(scope="module")
def index(tree):
    return tree_index(tree)


@pytest.fixture
def check(index, tmp_path):
    """``check(text)``: the (code, name) of every problem in ``text`` analysed as a file on disk."""

    def run(text: str, name: str = "main.ss", directory: Path | None = None) -> list[tuple[str, str]]:
        path = (directory or tmp_path) / name
        text = textwrap.dedent(text).lstrip()
        path.write_text(text, encoding="utf-8")
        analysis = analyze(text, path.as_uri(), index, path=str(path))
        return sorted((p.code, p.name) for p in analysis.problems)

    return run


def unbound(*names: str) -> list[tuple[str, str]]:
    return sorted(("unbound", n) for n in names)


# --------------------------------------------------------------------------- true positives stay


def test_unbound_and_arity_errors_are_still_reported(check):
    assert check("""
        (def (f h) (hash-table-ref h 'k))
        (def (g h) (hash-get h 'k 'default))
    """) == [("arity", "hash-get"), ("unbound", "hash-table-ref")]


def test_locals_and_definitions_are_bound(check):
    assert check("""
        (def (load port)
          (let ((data (car port)) (n 1))
            (hash-get data n)))
        (def (again) (load 1))
    """) == []


# --------------------------------------------------------------------------- forms taught by hand


def test_alet_binds_its_variable(check):
    assert check("""
        (def (f table)
          (alet (v (hash-get table 'k))
            (car v)))
        (def (g table)
          (alet* ((a (hash-get table 'a)) (b (hash-get a 'b)))
            (list a b (missing-in-alet b))))
    """) == unbound("missing-in-alet")


def test_slot_access_and_hash_literal_keys_are_not_variables(check):
    assert check("""
        (def (f obj)
          (set! (@ obj size) 2)
          (hash (alpha (@ obj width)) (beta not-a-variable)))
    """) == unbound("not-a-variable")


def test_cut_with_a_binding_form(check):
    assert check("""
        (def (f k) (cut let (v (car k)) (list v <>)))
        (def (g k) (cut let (v (car k)) (missing-in-cut v)))
    """) == unbound("missing-in-cut")


def test_method_call_names_are_not_variables(check):
    assert check("""
        (def (f obj) {frobnicate obj 1})
        (def (g obj) {frobnicate obj (missing-arg)})
    """) == unbound("missing-arg")


def test_gambit_primitives_and_namespace_qualified_names(check):
    assert check("""
        (def (f x) (list (##car x) (###fixnum? x) (gx#import-module "m") (missing-plain x)))
    """) == unbound("missing-plain")


def test_syntax_case_pattern_variables(check):
    assert check("""
        (def (f stx)
          (syntax-case stx (lit)
            ((_ a (b c) lit) (list a b c))
            ((_ . rest) (missing-in-clause rest))))
    """) == unbound("missing-in-clause")


def test_for_patterns_and_fold_bindings(check):
    assert check("""
        (def (f alist)
          (for ([key . value] alist) (displayln key value))
          (for/fold (acc 0) (x alist) (+ acc x (missing-in-for x))))
    """) == unbound("missing-in-for")


def test_case_datums_are_data_but_the_key_is_checked(check):
    assert check("""
        (def (f x)
          (case (missing-key x)
            ((alpha beta) (missing-in-case))
            (else 0)))
    """) == unbound("missing-in-case", "missing-key")


def test_let_hash_dot_names(check):
    assert check("""
        (def (f h) (let-hash h (list .a .?b (missing-in-let-hash))))
    """) == unbound("missing-in-let-hash")


def test_nested_struct_accessors_and_inherited_slots(check):
    assert check("""
        (def (f)
          (defclass A (x y))
          (defclass (B A) (z))
          (def b (B 1 2 3))
          (list (B-x b) (B-z b) (A-y b) (B-w b)))
    """) == unbound("B-w")


def test_generic_style_defmethod_binds_its_arguments(check):
    assert check("""
        (defmethod (describe (thing :list) (n :fixnum))
          (list thing n (missing-in-method)))
    """) == unbound("missing-in-method")


# --------------------------------------------------------------------------- definitions the index learns


def test_defmethod_defines_type_double_colon_method(check):
    assert check("""
        (defclass point (x y))
        (defmethod {norm point} (lambda (self) (@ self x)))
        (defmethod {scaled point} (lambda (self k) (* k (point::norm self))))
        (def (f p) (point::missing p))
    """) == unbound("point::missing")


def test_definitions_made_by_core_definers(check):
    assert check("""
        (import :std/shapes)
        (def (f s) (list (shape::area s) (__clamp 1) (counter-set! 2) __counter (counter)))
        (def (plain x) x)
        (def (g) (__plain 1))
    """) == unbound("__plain")


def test_struct_with_a_super_has_no_known_constructor_arity(check):
    assert check("""
        (import :std/shapes)
        (def (f) (make-derived 1))
        (def (g) (make-base 1 2))
    """) == [("arity", "make-base")]


def test_defstruct_type_and_defcompile_method(check):
    assert check("""
        (defstruct-type thing::t () make-thing thing?
          slots: ((size thing-size thing-size-set!)))
        (defcompile-method (apply-walk arg) (::walker) ())
        (def (f x) (list (make-thing) (thing? x) (thing-size x) (apply-walk x 1) (thing-weight x)))
    """) == unbound("thing-weight")


def test_exports_made_by_with_id_and_stx_identifier_macros(check):
    assert check("""
        (import :std/codepoints :std/readers)
        (def (f x) (list (fast-inc x) (slow-inc x) (Reader-peek-byte x) (medium-inc x)))
    """) == unbound("medium-inc")


# --------------------------------------------------------------------------- macros, expanded


def test_local_macro_is_expanded(check):
    assert check("""
        (defrules with-binding ()
          ((_ (v e) body ...) (let ((v e)) body ...)))
        (def (f) (with-binding (x 1) (+ x 2)))
        (def (g) (with-binding (x 1) (+ x missing-in-local-macro)))
    """) == unbound("missing-in-local-macro")


def test_a_use_with_a_dotted_tail_is_expanded(check):
    # (f x . more) in the pattern takes the use's (g a . rest): its body is checked, its names bound
    assert check("""
        (defrule (def-logged (f x . more) body) (def (f x . more) (begin (displayln 'f) body)))
        (def-logged (g a . rest) (list a rest (missing-in-dotted a)))
        (def (h) (g 1 2 3))
    """) == unbound("missing-in-dotted")


def test_macro_defined_inside_a_body_is_expanded(check):
    assert check("""
        (def (f input)
          (defrules twice ()
            ((_ v e) (let* ((v e) (v (+ v e))) v)))
          (list (twice acc input) (twice acc (missing-in-inner acc))))
    """) == unbound("missing-in-inner")


def test_imported_macros_are_expanded(check):
    assert check("""
        (import :std/collect)
        (def (f) (with-collector (push!) (push! 1) (push! 2)))
        (def (g) (with-thing (v 1) (+ v 1)))
        (def (h) (raise-oops where-name "message"))
        (def (k) (with-self (car self)))
        (def (m) (with-guarded y (+ y 1)))
        (def (n) (with-guarded (z 2) (+ z 1)))
    """) == []


def test_unbound_names_inside_imported_macros_are_reported(check):
    assert check("""
        (import :std/collect)
        (def (f) (with-collector (push!) (push! (missing-a))))
        (def (g) (with-thing (v (missing-b)) v))
        (def (h) (raise-oops where-name (missing-c)))
        (def (k) (run-check (missing-d)))
        (def (m) (with-guarded (z (missing-e)) z))
        (def (n) (with-self (missing-f self)))
    """) == unbound("missing-a", "missing-b", "missing-c", "missing-d", "missing-e", "missing-f")


def test_macro_with_unknowable_syntax_leaves_its_arguments_alone(check):
    assert check("""
        (import :std/collect)
        (def (f) (computed-form (anything goes here)))
        (def (g) (no-such-macro (and-these-args)))
    """) == unbound("no-such-macro")


def test_top_level_macro_definitions_define_names(check):
    assert check("""
        (import :std/collect)
        (def-doubler size)
        (def (f) (list (double-size 2) (triple-size 2)))
    """) == unbound("triple-size")


# --------------------------------------------------------------------------- when we cannot know


def test_unknown_module_means_no_unbound_claims(check):
    assert check("""
        (import :no/such/module)
        (def (f h) (list (from-that-module h) (hash-get h 1 2)))
    """) == [("arity", "hash-get")]


def test_other_language_prelude_and_interpreter_scripts(check):
    assert check("prelude: :my/lang\n(def (f) (something-from-lang))\n") == []
    assert check("#!/usr/bin/env gxi\n(def (main) (interpreter-global))\n", name="script.ss") == []


def test_relative_prelude_that_is_the_core_is_the_default(check, tree):
    assert check('prelude: "../core"\n(def (f) (missing-with-core))\n', name="x.ss",
                 directory=tree / "gerbil" / "core") == unbound("missing-with-core")


def test_include_defines_names_and_the_fragment_is_not_judged_alone(check, tmp_path):
    (tmp_path / "part.ss").write_text("(def (helper) (main-only-name))\n", encoding="utf-8")
    assert check("""
        (include "part.ss")
        (def (main-only-name) 1)
        (def (f) (list (helper) (missing-main)))
    """) == unbound("missing-main")
    assert check("(def (helper) (main-only-name))\n", name="part.ss") == []


# --------------------------------------------------------------------------- the helpers other features use


def test_bound_names_for_completion(index):
    analysis = analyze("(def (f a (b 1)) (let ((c 2)) (alet (d 3) d)))", "file:///x.ss", index)
    assert {"f", "a", "b", "c", "d"} <= _bound_names(analysis.result.forms[0])


def test_free_references_for_the_eval_scorer(index):
    analysis = analyze("(def (f x) (list x (car x) (mystery x)))", "file:///x.ss", index)
    assert sorted(sym.value for sym in free_references(analysis)) == ["car", "def", "list", "mystery"]
