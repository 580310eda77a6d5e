"""What the server knows about one document version: read once, checked once.

Every feature (completion, hover, diagnostics...) asks :func:`analyze` and gets
the same :class:`Analysis` for a given (uri, version), so a keystroke costs one
read of the text. The checks here are deliberately conservative: a false
"unbound identifier" error in the editor (and in OpenCode's model context) is
worse than a missed one.

How names are checked
---------------------
One walk per top-level form collects the names its binding forms introduce
(generously: not scope-exact), the symbols in evaluated positions and the call
forms.  A name is reported unbound only when the index knows the whole prelude
*and* every module the file imports (:attr:`Analysis.unbound_known`): not in a
file whose ``prelude:``/``#lang`` is another language, a ``gxi`` script (its names
live in the interpreter's top level), or a file another one ``include``s.
Names with a ``#`` (``##car``, ``gx#import-module``) are Gambit globals outside
the module system and are never reported.

Macros: the core binding forms are taught by hand (``_LET_LIKE`` ...).  A use of
any other macro whose definition we can read (``defrules``/``defrule``/
``syntax-rules``, or a ``syntax-case`` whose clauses end in a ``#'`` template,
here or in the imported module's source) is expanded, and the expansion is
checked instead: the use's own symbols keep their identity, template symbols are
the macro's (hygiene) and never reported.  A macro whose syntax we cannot know
has its arguments left alone; its head is still checked.  Top-level macro uses
that expand to definitions (``def``, ``with-id`` generated names...) define
those names for the whole file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

from gerbil_lsp.core import collector
from gerbil_lsp.core.index import DriftEntry, ImportSpec, LocalDefinition, Symbol, SymbolIndex
from gerbil_lsp.core.index.modules import resolve_string_import
from gerbil_lsp.core.index.source import ModuleSource, scan_definer, scan_forms
from gerbil_lsp.core.index.symindex import PRELUDE_MODULE, VisibleNames
from gerbil_lsp.core.macros import Plan, expand, plan_of, top_forms, transformer_plan, with_id
from gerbil_lsp.core.macros import TemplateNode as _T
from gerbil_lsp.core.reader import DOT as _DOT
from gerbil_lsp.core.reader import KEYWORD as _KEYWORD
from gerbil_lsp.core.reader import LIST as _LIST
from gerbil_lsp.core.reader import QUOTE as _QUOTE
from gerbil_lsp.core.reader import STRING as _STRING
from gerbil_lsp.core.reader import SYMBOL as _SYMBOL
from gerbil_lsp.core.reader import Node, ReadResult, read_file, read_source
from gerbil_lsp.server.form_problems import FormProblems, context_key, placed, relative
from gerbil_lsp.server.suggestions import instead_of

# Forms whose first argument binds names for the rest of the form.
_LAMBDA_LIKE = {"lambda", "λ", "case-lambda", "lambda*", "opt-lambda", "def", "def*", "define", "definline",
                "defn", "define-values", "defvalues", "defconst", "defalias", "defparameter",
                "deftable", "defmutable", "defmutable*", "rec", "lambda/c", "def/c", "def*/c", "case-lambda/c"}
_LET_LIKE = {"let", "let*", "letrec", "letrec*", "let-values", "let*-values", "letrec-values", "letrec*-values",
             "when-let", "if-let", "and-let*", "let-hash", "alet", "alet*",
             "let-syntax", "letrec-syntax", "do", "do/c", "for", "for*", "for/collect", "for/fold", "for/foldr",
             "for/and", "for/or", "for/vector", "for/list", "while-let", "with-id", "with-syntax",
             "with-syntax*", "using", "let/c", "let/cc", "let/esc", "lambda/cc", "chain"}
# Forms whose bindings name existing variables (parameterize ((p v)) body): nothing new is bound.
_REBINDING = {"parameterize", "fluid-let"}
# Forms whose first argument is a pattern: every symbol in it is bound.
_PATTERN_FIRST = {"with", "with*", "catch", "receive", "with-list-builder"}
# Forms whose whole body is a pattern/template language, phase-1 code or data: names inside are not references.
_OPAQUE = {"quote", "syntax", "quasisyntax", "defrules", "defrule", "defsyntax", "define-syntax",
           "defsyntax-for-match", "syntax-rules", "begin-syntax", "for-syntax", "ast-rules",
           "defrules*", "define-rules", "cond-expand", "begin-foreign", "c-declare", "c-lambda", "define-c-lambda",
           "extern", "declare", "export", "import", "module", "include", "begin-ffi", "c-define-type",
           "define-c-struct", "defstruct", "defclass", "defmessage", "deferror-class", "definterface",
           "interface", "defgeneric", "defspecific", "deftype", "defproto",
           "defenum", "defsyntax-for-import", "defsyntax-for-export", "defsyntax-for-import-export",
           "package:", "namespace:", "foreign", "defsyntax-call", "defsyntax-parameter",
           "defsyntax-parameter*", "defsyntax%", "defmacro", "define-syntax-rule", "declare-inline",
           "defcompile-method", "define-type", "define-record-type", "define-structure", "defcall",
           "require", "provide", "defstruct-type", "defclass-type", "defsystem-class-info",
           "define-struct", "define-class", "c-define", "c-initialize"}
# Pattern-matching forms: (form expr clause ...) whose clause patterns bind their variables.
_MATCH_EXPR_FIRST = {"match", "match*"}
_SYNTAX_CASE = {"syntax-case", "core-syntax-case", "ast-case", "core-ast-case"}  # (form expr (literal ...) clause ...)
_MATCH_CLAUSES = {"lambda-match", "match-lambda", "def/c", "defmatch", "<-", "<<", "guard", "handler-case"}
_MATCH_LIKE = _MATCH_EXPR_FIRST | _SYNTAX_CASE | _MATCH_CLAUSES | {"case", "ecase", "with", "with*", "catch"}
# Opaque forms that define names in their enclosing body: the index's scanner knows which.
_NESTED_DEFINERS = {"defstruct", "defclass", "deferror-class", "interface", "define-struct", "define-class",
                    "defrules", "defrule", "defsyntax", "define-syntax", "defsyntax-call", "defrules*",
                    "define-rules", "defsyntax%", "defmacro", "define-syntax-rule", "defsyntax-parameter",
                    "defsyntax-parameter*", "defmessage", "defgeneric", "defenum", "deftype"}
# Definers whose every symbol is a name they introduce (type descriptors, constructors, accessors).
_BIND_ALL = {"defstruct-type", "defclass-type", "defsystem-class-info"}
_MACRO_DEFINERS = {"defrules", "defrule", "defsyntax", "define-syntax", "define-rules", "defrules*",
                   "define-syntax-rule"}
_HASH_LITERALS = {"hash", "hash-eq", "hash-eqv"}  # (hash (key value) ...): keys are data
_MACRO_KINDS = {"macro", "syntax"}
_MAX_EXPANSION_DEPTH = 8


@dataclass(frozen=True, slots=True)
class Problem:
    """One diagnostic, in offsets; the feature module turns it into LSP terms."""

    start: int
    end: int
    message: str
    code: str
    severity: str = "error"  # error | warning
    name: str | None = None
    modules: tuple[str, ...] = ()  # modules that export `name`, for the add-import quick fix
    instead: tuple[tuple[str, str | None], ...] = ()  # names to write instead, each with its import (or None)


@dataclass
class Analysis:
    uri: str
    version: int | None
    result: ReadResult
    index: SymbolIndex
    path: str | None = None
    _visible: VisibleNames | None = field(default=None, repr=False)
    # The previous version's problems by form, to reuse; and this version's, once computed.
    earlier: FormProblems | None = field(default=None, repr=False)
    form_problems: FormProblems | None = field(default=None, repr=False, init=False)
    # the index's generation this analysis saw: once the index moves (a workspace module's
    # exports changed), what it found may be stale
    generation: int = field(default=0, repr=False, init=False)
    # names bound inside each top-level form, by its start (references and rename ask for them per use)
    bound_by_unit: dict[int, set[str]] = field(default_factory=dict, repr=False, init=False)
    # "did you mean" answers by unbound name (see suggestions.py: each costs milliseconds)
    typos: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False, init=False)

    def __post_init__(self) -> None:
        self.generation = self.index.generation

    @property
    def current(self) -> bool:
        """Whether the index is as this analysis saw it."""
        return self.generation == self.index.generation

    @cached_property
    def imports(self) -> list[ImportSpec]:
        return self.index.file_imports(self.result, self.path)

    @cached_property
    def imported_modules(self) -> set[str]:
        return {spec.module for spec in self.imports if spec.module}

    @cached_property
    def scan(self) -> ModuleSource:
        """The file's top-level forms as the index's scanner sees them (definitions, macros)."""
        return scan_forms(self.result.forms, ":<local>", self.path, text=self.result.text)

    @cached_property
    def definitions(self) -> dict[str, LocalDefinition]:
        mod = self.scan
        out = {name: d.to_local() for name, d in mod.defs.items()}
        for m in mod.methods:
            out.setdefault(m.name, m.to_local())
        return out

    @cached_property
    def definition_starts(self) -> list[tuple[int, str]]:
        """``(offset, name)`` of each top-level definition, in the file's order."""
        lines = self.result.lines
        return sorted((lines.offset(d.line, d.character), name) for name, d in self.definitions.items())

    @property
    def visible(self) -> VisibleNames:
        """Prelude plus imported exports, by visible name."""
        if self._visible is None:
            self._visible = self.index.visible_names(self.imports)
        return self._visible

    def resolve(self, name: str) -> Symbol | None:
        return self.index.resolve(name, self.imports)

    @cached_property
    def names_in_scope(self) -> list[str]:
        """Every name the file sees (prelude, imports, its own top level), for "did you mean"."""
        return sorted(set(self.visible) | self.top_level)

    @cached_property
    def drift_by_name(self) -> dict[str, DriftEntry]:
        return {entry.name: entry for entry in self.index.drift()}

    def import_form(self) -> Node | None:
        """The file's first top-level ``(import ...)`` form, where new imports go."""
        return next((form for form in self.result.forms if form.head == "import"), None)

    @cached_property
    def unbound_known(self) -> bool:
        """Whether a name missing from the prelude, the imports and the file is really unbound.

        Needs a complete prelude (built from a Gerbil source tree), this file's prelude
        being that one, and every import resolved to a module the index knows.
        """
        return (self.index.prelude_complete() and _prelude_is_default(self) and _imports_known(self)
                and not _interpreter_script(self.result) and not _included_elsewhere(self.path))

    @cached_property
    def macros(self) -> _Macros:
        return _Macros(self)

    @cached_property
    def top_level(self) -> set[str]:
        """Every name the file defines at top level: its definitions, included files' and macro-made ones."""
        names = set(self.definitions)
        for form in _top_forms(self.result.forms):
            head = form.head
            if head == "include":
                names.update(_included_names(form, self.path))
            elif head is not None and head not in _OPAQUE and head not in _SPECIALS and head not in _DEFINING_HEADS:
                made = self.macros.defined_by(form)
                if (not made and head.startswith("def") and len(form.children) > 1
                        and (head not in self.visible or self.macros.plan(head, None)[0])):
                    # a definer macro we cannot expand, (defthing (name arg ...) ...): it defines name
                    target = form.children[1]
                    if target.kind is _LIST and target.children and target.delimiter == "(":
                        target = target.children[0]
                    if target.kind is _SYMBOL:
                        made = {target.value}
                names.update(made)
        return names

    @cached_property
    def problems(self) -> list[Problem]:
        found = [
            Problem(e.span.start.offset, max(e.span.end.offset, e.span.start.offset + 1), e.message, e.code)
            for e in self.result.errors
        ]
        with collector.paused():  # the walk builds expansions and name sets: acyclic, and many
            found.extend(check_references(self))
        return found


def analyze(text: str, uri: str, index: SymbolIndex, version: int | None = None, path: str | None = None,
            previous: Analysis | None = None) -> Analysis:
    """The analysis of one version of a document.

    ``previous``, the same document's analysis of an earlier version, lends its syntax tree (only
    the edited forms are read again; the others move) and its per-form problems. Its tree is
    then this one's: do not use ``previous`` afterwards, as the server replaces it at once.
    """
    if previous is None or previous.path != path:
        return Analysis(uri, version, read_source(text), index, path)
    # the previous version's nodes are taken over (re-read only where edited) and its problems reused
    return Analysis(uri, version, read_source(text, previous.result), index, path, earlier=previous.form_problems)


# --------------------------------------------------------------------------- what the file's imports make known


def _prelude_is_default(analysis: Analysis) -> bool:
    """False for ``#lang`` files and ``prelude:`` directives naming another language."""
    result = analysis.result
    if result.lang is not None and not result.lang.startswith((":gerbil/", ":scheme/")):
        return False
    forms = result.forms
    for i in range(0, len(forms) - 1, 2):
        key = forms[i]
        if key.kind is not _KEYWORD:
            break
        if key.text != "prelude:":
            continue
        value = forms[i + 1]
        if value.kind is _SYMBOL:
            return value.value in (PRELUDE_MODULE, ":<root>")  # the root is a subset of the prelude
        if value.kind is _STRING and analysis.path is not None:
            module, _ = resolve_string_import(value.value, analysis.path, analysis.index.module_for_path)
            return module == PRELUDE_MODULE
        return False
    return True


def _interpreter_script(result: ReadResult) -> bool:
    """A ``#!/usr/bin/env gxi`` script: evaluated in the interpreter's top level, whose names we do not know."""
    if not result.text.startswith("#!"):
        return False
    return "gxi" in result.text[:200].split("\n", 1)[0]


_INCLUDE_RE = re.compile(r'\(include\s+"([^"]+)"')
_INCLUDERS: dict[str, tuple[float, frozenset[str]]] = {}


def _included_elsewhere(path: str | None) -> bool:
    """Whether another source file near this one ``(include ...)``s it: then its names come from there."""
    if path is None:
        return False
    target = os.path.normpath(os.path.abspath(path))
    here = os.path.dirname(target)
    for directory in (here, os.path.dirname(here)):
        if target in _includes_from(directory):
            return True
    return False


def _includes_from(directory: str) -> frozenset[str]:
    """The files the ``.ss`` files of one directory include (cached until the directory changes)."""
    try:
        mtime = os.stat(directory).st_mtime
    except OSError:
        return frozenset()
    hit = _INCLUDERS.get(directory)
    if hit is not None and hit[0] == mtime:
        return hit[1]
    found: set[str] = set()
    try:
        names = [n for n in os.listdir(directory) if n.endswith(".ss")]
    except OSError:
        names = []
    for name in names:
        try:
            with open(os.path.join(directory, name), encoding="utf-8", errors="replace") as fh:
                text = fh.read(1_000_000)
        except OSError:
            continue
        if "(include" not in text:
            continue
        for match in _INCLUDE_RE.finditer(text):
            found.add(os.path.normpath(os.path.join(directory, match.group(1))))
    if len(_INCLUDERS) > 256:
        _INCLUDERS.clear()
    _INCLUDERS[directory] = (mtime, frozenset(found))
    return _INCLUDERS[directory][1]


def _imports_known(analysis: Analysis) -> bool:
    """Every ``(import ...)`` spec names a module whose exports the index has."""
    index = analysis.index
    imports = analysis.imports
    if not all(spec.module is not None and index.has_module(spec.module) for spec in imports):
        return False
    starts = {(spec.line, spec.character) for spec in imports}
    for form in _top_forms(analysis.result.forms):
        if form.head != "import":
            continue
        for spec in form.children[1:]:
            if spec.kind is _LIST and spec.head == "runtime:":
                continue
            begin, end = spec.span.start, spec.span.end
            if not any((begin.line, begin.character) <= at <= (end.line, end.character) for at in starts):
                return False  # a spec that resolved to nothing (an import macro, a bad form)
    return True


def _top_forms(forms: list[Node]) -> Iterator[Node]:
    """Top-level list forms, through ``begin`` (the forms of every ``cond-expand`` clause too)."""
    stack = list(reversed(forms))
    while stack:
        form = stack.pop()
        if form.kind is not _LIST or not form.children:
            continue
        head = form.head
        if head == "begin":
            stack.extend(reversed(form.children[1:]))
        elif head == "cond-expand":
            for clause in reversed(form.children[1:]):
                if clause.kind is _LIST:
                    stack.extend(reversed(clause.children[1:]))
        else:
            yield form


_FILE_CACHE: dict[str, tuple[float, ReadResult | None]] = {}


def _read_cached(path: str) -> ReadResult | None:
    """A source file read once per modification (included files, macro definitions elsewhere)."""
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        return None
    hit = _FILE_CACHE.get(path)
    if hit is not None and hit[0] == mtime:
        return hit[1]
    try:
        result = read_file(path)
    except OSError:
        result = None
    if len(_FILE_CACHE) > 64:
        _FILE_CACHE.clear()
    _FILE_CACHE[path] = (mtime, result)
    return result


def _included_names(form: Node, path: str | None) -> set[str]:
    """Names an ``(include "file")`` form defines (the included text is part of this module)."""
    if path is None:
        return set()
    return set(scan_forms([form], ":<include>", path, read_file=_read_cached).defs)


# --------------------------------------------------------------------------- macros: where their plans come from
# (core.macros reads a definition into a plan and expands uses with it)


_FILE_PLANS: dict[str, tuple[float, dict]] = {}
_FILE_PLANS_READ = [0]  # files whose plans were (re)read: part of what per-form problems depend on
_DEFS_KEY = ("defs",)  # in a file's plans: the names it defines that are not macros


def _file_plans(path: str) -> dict:
    """Macro plans of one source file, by name and by ("line", n) of the definition."""
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        return {}
    hit = _FILE_PLANS.get(path)
    if hit is not None and hit[0] == mtime:
        return hit[1]
    plans: dict = {}
    _FILE_PLANS_READ[0] += 1
    try:
        result = read_file(path)  # only the plans are kept: they hold the macros' templates, not the file
    except OSError:
        result = None
    if result is not None:
        mod = scan_forms(result.forms, ":<macros>", path, text=result.text)
        _collect_plans(mod, plans)
        plans[_DEFS_KEY] = frozenset(name for name, d in mod.defs.items() if d.kind not in _MACRO_KINDS)
    if len(_FILE_PLANS) > 256:
        _FILE_PLANS.clear()
    _FILE_PLANS[path] = (mtime, plans)
    return plans


def _collect_plans(mod: ModuleSource, plans: dict) -> None:
    todo = [mod]
    while todo:
        m = todo.pop()
        todo.extend(m.submodules.values())
        for name, form in m.macros.items():
            plan = plan_of(form)
            plans[name] = plan
            d = m.defs.get(name)
            if d is not None:
                plans.setdefault(("line", d.line), {})[name] = plan
        # macros that this file's own macros define (a defining macro used at top level)
        for use in m.macro_uses:
            plan = plans.get(use.head)
            if plan is None:
                continue
            expansion = expand(use, plan)
            if expansion is None:
                continue
            for form in top_forms(expansion):
                if form.head in ("defrules", "defrule", "defsyntax", "define-syntax", "define-rules"):
                    target = form.children[1] if len(form.children) > 1 else None
                    if target is not None and target.kind is _LIST and target.children:
                        target = target.children[0]
                    if target is not None and target.kind is _SYMBOL:
                        sub = plan_of(form)
                        plans.setdefault(target.value, sub)
                        plans.setdefault(("line", use.span.start.line), {})[target.value] = sub


class _Macros:
    """Which heads are macros we can expand, for one analysis."""

    def __init__(self, analysis: Analysis) -> None:
        # What it needs of the analysis, not the analysis: a reference back would make every
        # analysis (its whole syntax tree) cyclic garbage, freed only by a full collector pass.
        self.index = analysis.index
        self.visible = analysis.visible
        self.local: dict = {}
        _collect_plans(analysis.scan, self.local)
        self._memo: dict[str, tuple[bool, Plan | None, dict | None]] = {}

    def plan(self, head: str, scope: dict | None) -> tuple[bool, Plan | None, dict | None]:
        """(is a macro whose syntax is not taught by hand, its plan or None, the plan's own scope).

        ``scope`` is given for a head that came from a macro's template: it names a binding
        of the macro's own module (hygiene), looked up there first.
        """
        if scope is not None:
            if head in scope:
                return True, scope[head], scope
            if head in scope.get(_DEFS_KEY, ()):
                return False, None, None  # a procedure or value of the macro's module
            rows = self.index.lookup(head)
            if rows and not any(r.kind in _MACRO_KINDS and r.module is not None for r in rows):
                return False, None, None  # a procedure, or the prelude's syntax
            if head not in self.visible:
                return True, None, None  # bound in the macro's module in a way we cannot see
        hit = self._memo.get(head)
        if hit is None:
            hit = self._memo[head] = self._plan(head)
        return hit

    def _plan(self, head: str) -> tuple[bool, Plan | None, dict | None]:
        if head in self.local:
            return True, self.local[head], self.local
        sym = self.visible.get(head)
        if sym is None or sym.kind not in _MACRO_KINDS:
            return False, None, None
        module = sym.origin or sym.module
        if module is None or module.startswith(PRELUDE_MODULE):
            return False, None, None  # the prelude's syntax: expression arguments (or taught by hand)
        if sym.source_path is None:
            return True, None, None
        plans = _file_plans(sym.source_path)
        by_line = plans.get(("line", sym.source_line), {})
        plan = by_line.get(head) or (next(iter(by_line.values())) if len(by_line) == 1 else None)
        if plan is None:
            plan = plans.get(head)
        return True, plan, plans

    def defined_by(self, form) -> set[str]:
        """Names a top-level macro use defines, by expanding it (through ``begin`` and ``with-id``)."""
        names: set[str] = set()
        todo = [(form, None, 0)]
        while todo:
            node, scope, depth = todo.pop()
            head = node.head
            if head is None or depth > _MAX_EXPANSION_DEPTH:
                continue
            if head == "begin":
                todo.extend((c, scope, depth) for c in node.children[1:])
                continue
            if head == "with-id":
                body = with_id(node, node)
                if body:
                    todo.extend((b, scope, depth + 1) for b in body)
                continue
            is_macro, plan, plan_scope = self.plan(head, scope)
            if is_macro and head not in _DEFINING_HEADS:
                expansion = expand(node, plan) if plan is not None else None
                if expansion is not None:
                    todo.append((expansion, plan_scope, depth + 1))
                continue
            if depth:
                names.update(_nested_definitions(node))
        return names


_DEFINING_HEADS = {"def", "define", "def*", "defvalues", "define-values", "defalias", "defconst", "defrules",
                   "defrule", "defsyntax", "define-syntax", "defstruct", "defclass", "definline",
                   "defparameter", "defmutable", "defmutable*", "deferror-class", "interface", "defmethod"}


# --------------------------------------------------------------------------- the walk


def _symbols_in(node) -> list[str]:
    """Every symbol's name under ``node`` (eager: callers only add them to a set)."""
    out: list[str] = []
    stack = [node]
    pop, extend = stack.pop, stack.extend
    while stack:
        sub = pop()
        if sub.kind is _SYMBOL:
            out.append(sub.value)
        elif sub.children:
            extend(sub.children)
    return out


def _formals(node) -> list[str]:
    """Names a lambda list binds: `x`, `(x y . rest)`, `(x (opt default) key: (k v))`."""
    kind = node.kind
    if kind is _SYMBOL:
        return [node.value]
    out: list[str] = []
    if kind is not _LIST:
        return out
    for position, child in enumerate(node.children):
        kind = child.kind
        if kind is _SYMBOL:
            out.append(child.value)
        elif kind is _LIST and child.children:
            # curried: (def ((make-adder n) x) ...); else (opt default)
            out.extend(_formals(child if position == 0 else child.children[0]))
    return out


def _let_bindings(node) -> list[str]:
    """Names a binding list binds: `((a 1) ((values b c) e))`, or Gerbil's single `(a 1)`."""
    kind = node.kind
    if kind is _SYMBOL:
        return [node.value]
    children = node.children
    if kind is not _LIST or not children:
        return []
    first = children[0]
    if first.kind is _SYMBOL:  # (let (x expr) body)
        return [first.value]
    if len(children) == 2 and (first.head == "values" or first.delimiter == "["
                               or children[1].kind is not _LIST):
        return _symbols_in(first)  # one binding of a pattern: (for ([k . v] alist) body)
    out: list[str] = []
    for binding in children:
        if binding.kind is _SYMBOL:
            out.append(binding.value)
        elif binding.kind is _LIST and binding.children:
            target = binding.children[0]  # a name, or a values/match pattern
            if target.kind is _SYMBOL:
                out.append(target.value)
            else:
                out.extend(_symbols_in(target))
    return out


def _nested_definitions(node, scope: ModuleSource | None = None) -> set[str]:
    """Names a definer form inside a body introduces (a struct's accessors, a local macro...).

    ``scope`` collects the definitions of one body, so a struct sees its super's slots.
    """
    mod = scope if scope is not None else ModuleSource(id=":<nested>")
    before = set(mod.defs)
    try:
        scan_definer(mod, node)
    except (AttributeError, IndexError, TypeError, KeyError):
        return set()
    return set(mod.defs) - before if scope is not None else set(mod.defs)


class _Walk:
    """One walk over a form: binding names, references, calls (see the module docstring)."""

    __slots__ = ("bound", "calls", "deferred", "dotted", "inner_macros", "local_macros", "macros", "nested", "refs",
                 "top", "visible")

    def __init__(self, analysis: Analysis | None) -> None:
        self.bound: set[str] = set()
        self.refs: list = []
        self.calls: list = []
        self.deferred: list = []
        self.dotted = False  # a let-hash binds `.key` names in its body
        self.inner_macros: dict[str, Plan | None] = {}  # macros defined inside the form (defrules, let-syntax)
        self.nested: ModuleSource | None = None  # definer forms met inside the form, scanned together
        if analysis is not None:
            self.visible = analysis.visible
            self.top = analysis.top_level
            self.macros: _Macros | None = analysis.macros
            self.local_macros = self.macros.local
        else:
            self.visible, self.top, self.macros, self.local_macros = {}, set(), None, {}

    def run(self, form) -> _Walk:
        self._walk([form])  # a bare node: (form, 0, None, 0)
        while self.deferred:  # heads unknown when met: walk them if a binding turned up since
            bound = self.bound
            ready = [item for item in self.deferred if item[0].children[0].value in bound]
            if not ready:
                break
            self.deferred = [item for item in self.deferred if item[0].children[0].value not in bound]
            self._walk([(node, 0, scope, depth) for node, scope, depth in ready])
        return self

    def _walk(self, stack: list) -> None:
        """Pop items until the form is done: a node, or (node, quasiquote depth, macro scope, expansion depth).

        A bare node stands for ``(node, 0, None, 0)``, the state of nearly every node (outside
        quasiquotes and macro expansions): building and unpacking a tuple per node was most of
        the walk's time.  The order of ``refs`` and of the bindings met matters (problems come
        out in that order), so every case pushes its items exactly as it always did.
        """
        bound, refs, calls, deferred = self.bound, self.refs, self.calls, self.deferred
        visible, top, macros, local_macros = self.visible, self.top, self.macros, self.local_macros
        inner_macros = self.inner_macros
        plan_memo = macros._memo if macros is not None else {}
        head_class = _HEAD_CLASS.get
        pop, push, extend = stack.pop, stack.append, stack.extend
        ref = refs.append
        while stack:
            node = pop()
            if node.__class__ is tuple:
                node, qdepth, scope, edepth = node
                plain = qdepth == 0 and scope is None and edepth == 0
            else:
                qdepth, scope, edepth, plain = 0, None, 0, True
            kind = node.kind
            if kind is not _LIST:
                if kind is _SYMBOL:
                    if qdepth == 0 and node.__class__ is Node:
                        ref(node)
                elif kind is _QUOTE:
                    self._quoted(node, qdepth, scope, edepth, extend)
                continue  # other atoms, and vector literals (self-quoting data)
            children = node.children
            if not children:
                continue
            if qdepth:
                extend([(c, qdepth, scope, edepth) for c in children])
                continue
            if node.delimiter == "{":  # {method obj args...}: the method name is not a variable
                extend(children[1:] if plain else [(c, 0, scope, edepth) for c in children[1:]])
                continue
            first = children[0]
            if first.kind is not _SYMBOL:
                evaluated = [c for c in children if c.kind is not _STRING]
                extend(evaluated if plain else [(c, 0, scope, edepth) for c in evaluated])
                continue
            head = first.value
            args = children[1:]
            if head in ("cut", "cute") and args and args[0].kind is _SYMBOL and args[0].value in _SPECIALS:
                push(first if plain else (first, 0, scope, edepth))
                first, head, args = args[0], args[0].value, args[1:]  # (cut let (x e) body): the inner form binds
            if head in inner_macros:
                push(first if plain else (first, 0, scope, edepth))
                plan = inner_macros[head]
                expansion = expand(node, plan) if plan is not None and edepth < _MAX_EXPANSION_DEPTH else None
                if expansion is not None:
                    push((expansion, 0, scope, edepth + 1))
                continue
            cls = head_class(head)
            if cls is not None:  # opaque (data, syntax) or taught by hand
                if cls is _OPAQUE_HEAD:
                    self._opaque(head, node, args)
                push(first if plain else (first, 0, scope, edepth))
                if cls is _SPECIAL_HEAD and args:
                    evaluated = self._special(head, args)
                    extend(evaluated[::-1] if plain else [(c, 0, scope, edepth) for c in reversed(evaluated)])
                continue
            if head in bound or (head in top and head not in local_macros):
                pass  # a procedure of this file or a local binding: a plain call
            elif macros is not None:
                # macros.plan(head, None), its memo read here: a call per list costs
                known = plan_memo.get(head) if first.__class__ is not _T else None
                is_macro, plan, plan_scope = known or macros.plan(head, scope if first.__class__ is _T else None)
                if is_macro:
                    push(first if plain else (first, 0, scope, edepth))
                    if head.startswith("def") and args:
                        bound.update(_formals(args[0]))
                    if plan is not None and edepth < _MAX_EXPANSION_DEPTH:
                        expansion = expand(node, plan)
                        if expansion is not None:
                            push((expansion, 0, plan_scope, edepth + 1))
                    continue  # a macro whose syntax we cannot know: its arguments are left alone
                if first.__class__ is Node and head not in visible and head not in top:
                    if head.startswith("def") and args:
                        bound.update(_formals(args[0]))  # an unknown definer: it defines its first name
                    deferred.append((node, scope, edepth))
                    push(first if plain else (first, 0, scope, edepth))
                    continue
            elif head.startswith("def") and args:
                bound.update(_formals(args[0]))
            if first.__class__ is Node:
                ref(first)
                if node.delimiter == "(":
                    calls.append(node)
            for c in reversed(args):  # the hot path: symbols need no trip through the stack
                k = c.kind
                if k is _SYMBOL:
                    if c.__class__ is Node:
                        ref(c)
                elif k is _LIST or k is _QUOTE:
                    push(c if plain else (c, 0, scope, edepth))

    @staticmethod
    def _quoted(node, qdepth: int, scope, edepth: int, extend) -> None:
        """A quote-like prefix: quoted data is skipped, quasiquote depth counts up and unquotes down."""
        prefix = node.delimiter
        if prefix in _QUOTE_OPAQUE:
            return
        if prefix == "`":
            qdepth += 1
        elif prefix in _UNQUOTES:
            qdepth = max(qdepth - 1, 0)
        if qdepth == 0 and scope is None and edepth == 0:
            extend(node.children)
        else:
            extend([(c, qdepth, scope, edepth) for c in node.children])

    def _opaque(self, head: str, node, args: list) -> None:
        """An opaque form inside the walk: only the names it defines count (its body is not checked)."""
        bound = self.bound
        if head in _MACRO_DEFINERS and args:
            name = args[0].children[0] if args[0].kind is _LIST and args[0].children else args[0]
            if name.kind is _SYMBOL:
                self.inner_macros[name.value] = plan_of(node)
                bound.add(name.value)
        elif head in _NESTED_DEFINERS and args:
            if self.nested is None:
                self.nested = ModuleSource(id=":<nested>")
            bound.update(_nested_definitions(node, self.nested))
        elif head in _BIND_ALL:
            bound.update(_symbols_in(node))

    def _special(self, head: str, args: list) -> list:
        """The forms taught by hand: add what they bind; return which of their parts are evaluated."""
        bound = self.bound
        evaluated = args
        branch = _SPECIAL_BRANCH.get(head)  # the first case of the list in _special_branches() that claims head
        if branch == "lambda":
            if head in ("case-lambda", "case-lambda/c", "def*", "def*/c"):
                for clause in args[1:] if head.startswith("def") else args:
                    if clause.kind is _LIST and clause.children:
                        bound.update(_formals(clause.children[0]))
            if head not in ("case-lambda", "case-lambda/c"):
                bound.update(_formals(args[0]))
        elif branch == "let":
            first = args[0]
            if head == "let" and first.kind is _SYMBOL and len(args) > 1 and args[1].kind is _LIST:
                bound.add(first.value)  # named let
                first = args[1]
            bound.update(_let_bindings(first))
            if head in ("for/fold", "for/foldr") and len(args) > 1:
                bound.update(_let_bindings(args[1]))
        elif branch == "match":
            clauses = args
            evaluated = []
            if head in _MATCH_EXPR_FIRST or head in _SYNTAX_CASE or head in ("case", "ecase"):
                evaluated = [args[0]]
                clauses = args[2:] if head in _SYNTAX_CASE else args[1:]
            for clause in clauses:
                if clause.kind is not _LIST or not clause.children:
                    continue
                if head not in ("case", "ecase"):  # case datums are data; patterns bind their variables
                    bound.update(_symbols_in(clause.children[0]))
                evaluated.extend(clause.children[1:])
        elif branch == "defmethod":
            if args[0].kind is _LIST and args[0].delimiter != "{":  # :std/generic (defmethod (name (a type)) body)
                bound.update(_formals(args[0]))
            evaluated = args[1:]  # {method Type}: names, not variables
        elif branch == "pattern":
            bound.update(_symbols_in(args[0]))
        elif branch == "escape":
            if head == "let-hash":
                self.dotted = True
            elif args[0].kind is _SYMBOL:
                bound.add(args[0].value)
        elif branch == "chain":
            for step in args[1:]:  # (chain init (v (f v)) ([a . b] (g a))): a step may bind
                if step.kind is _LIST and len(step.children) == 2 and step.children[0].kind is not _QUOTE:
                    bound.update(_symbols_in(step.children[0]))
        elif branch == "with-id":
            specs = 0 if args[0].kind is _LIST else 1
            if len(args) > specs and args[specs].kind is _LIST:
                for spec in args[specs].children:
                    bound.update(_symbols_in(spec.children[0]) if spec.kind is _LIST and spec.children
                                 else _symbols_in(spec))
                evaluated = args[specs + 1:]  # the specs are strings and syntax: not evaluated
        elif branch == "let-syntax":
            if args[0].kind is _LIST:
                for binding in args[0].children:
                    if binding.kind is _LIST and len(binding.children) == 2 and binding.children[0].kind is _SYMBOL:
                        self.inner_macros[binding.children[0].value] = transformer_plan(binding.children[1])
                        bound.add(binding.children[0].value)
            evaluated = args[1:]
        elif branch == "@":
            evaluated = args[:1]  # (@ obj slot ...): slot names are not variables
        elif branch == "hash":
            evaluated = [c for clause in args if clause.kind is _LIST for c in clause.children[1:]]
        return evaluated


_SPECIALS = (_LAMBDA_LIKE | _LET_LIKE | _REBINDING | _PATTERN_FIRST | _MATCH_LIKE | _HASH_LITERALS
             | {"@", "defmethod", "let/cc", "let/esc", "lambda/cc", "let-hash", "chain", "with-id"})


def _special_branches() -> dict[str, str]:
    """Which case of :meth:`_Walk._special` each taught head takes: the first of this list that claims it."""
    branches: dict[str, str] = {}
    for branch, heads in (("lambda", _LAMBDA_LIKE), ("defmethod", {"defmethod"}), ("pattern", _PATTERN_FIRST),
                          ("escape", {"let/cc", "let/esc", "lambda/cc", "let-hash"}), ("chain", {"chain"}),
                          ("with-id", {"with-id"}), ("let-syntax", {"let-syntax", "letrec-syntax"}),
                          ("let", _LET_LIKE), ("match", _MATCH_LIKE), ("@", {"@"}), ("hash", _HASH_LITERALS)):
        for head in heads:
            branches.setdefault(head, branch)
    return branches


_SPECIAL_BRANCH = _special_branches()  # _REBINDING heads have none: all their arguments are evaluated
_OPAQUE_HEAD, _SPECIAL_HEAD = "opaque", "special"
# A list's head, classified in one lookup: _OPAQUE wins over _SPECIALS, as in the walk's order of checks.
_HEAD_CLASS = {**dict.fromkeys(_SPECIALS, _SPECIAL_HEAD), **dict.fromkeys(_OPAQUE, _OPAQUE_HEAD)}
_QUOTE_OPAQUE = frozenset(("'", "#'", "#`", "#&"))  # quoted data and syntax: nothing inside is a reference
_UNQUOTES = frozenset((",", ",@", "#,", "#,@"))


def _bound_names(form) -> set[str]:
    """Every name some binding form inside ``form`` introduces (generous: not scope-exact)."""
    return _Walk(None).run(form).bound


def top_units(analysis: Analysis) -> Iterator[Node]:
    """The file's top-level forms, through ``begin`` and ``cond-expand``: each one a scope of its own."""
    return _top_forms(analysis.result.forms)


_PLAIN_DEFINERS = frozenset(("def", "define", "definline", "defn"))  # (def (name formals) body ...)


def bound_in(analysis: Analysis, unit: Node, defines: set[str]) -> set[str]:
    """Names some binding form inside the top-level form ``unit`` binds, less ``defines`` (its top-level names).

    ``(def (f x) body)`` binds ``x`` inside; ``f`` is the file's, unless the body binds it again.
    As generous as the walk: a name in the set may still mean the top-level one in places.
    """
    children = unit.children
    if unit.head in _PLAIN_DEFINERS and len(children) > 2:
        signature = children[1]
        bound: set[str] = set()
        if signature.kind is _LIST:
            formals = _formals(signature)
            for name in defines & set(formals):
                formals.remove(name)  # the one place it is the definition's own name
            bound.update(formals)
        for body in children[2:]:
            bound |= _Walk(analysis).run(body).bound
        return bound
    return _Walk(analysis).run(unit).bound - defines


_IGNORED = {"_", "...", "<>", "<...>", ".", "else", "=>", "unquote", "unquote-splicing", "@method"}


def _ignorable(name: str) -> bool:
    return (
        name in _IGNORED
        or "#" in name  # ##primitive, ###, namespace-qualified gx#name: Gambit globals, outside the module system
        or name.startswith("@")
        or name.startswith(":")
        or ("." in name.strip(".") and not name.startswith("."))  # obj.field under `using`
        or name.startswith("%#")
        or name.startswith("$")  # grammar actions' positional variables
    )


def _checkable_forms(analysis: Analysis) -> Iterator[Node]:
    """The top-level forms the reference walk checks (not data, not syntax definitions)."""
    for form in analysis.result.forms:
        if form.kind is _LIST and form.head not in _OPAQUE:
            yield form


def _free(walk: _Walk, top: set[str], visible: dict | None = None) -> Iterator[Node]:
    """The walk's references that no binding explains (nor ``visible``, when given)."""
    bound = walk.bound
    dotted = walk.dotted
    ignorable = _IGNORABLE_CACHE
    seen: set[int] = set()  # a macro template may use an argument twice
    for sym in walk.refs:
        name = sym.value
        if name in bound or name in top or (visible is not None and name in visible):
            continue
        skip = ignorable.get(name)
        if skip is None:
            if len(ignorable) > 100_000:
                ignorable.clear()
            skip = ignorable[name] = _ignorable(name)
        if skip or (dotted and name.startswith(".")) or id(sym) in seen:
            continue
        seen.add(id(sym))
        yield sym


_IGNORABLE_CACHE: dict[str, bool] = {}


def free_references(analysis: Analysis) -> Iterator[Node]:
    """Symbols the file uses that no local binding or definition of its own explains.

    Whether each one is visible through the imports is the caller's question: the
    diagnostics and the eval scorer classify them differently.
    """
    top = analysis.top_level
    for form in _checkable_forms(analysis):
        yield from _free(_Walk(analysis).run(form), top)


def check_references(analysis: Analysis) -> list[Problem]:
    """Unbound names (only when the prelude and imports are known), wrong arity and doc-drift names.

    A form whose text and context are those of the previous version keeps its problems
    (:mod:`~gerbil_lsp.server.form_problems`); only the others are walked.
    """
    text = analysis.result.text
    context = context_key(analysis, _FILE_PLANS_READ[0])
    earlier = analysis.earlier if analysis.earlier is not None and analysis.earlier.reusable(context) else None
    kept: dict[str, list] = {}
    problems: list[Problem] = []
    for form in _checkable_forms(analysis):
        key = text[form.start:form.end]
        found = earlier.by_text.get(key) if earlier is not None else None
        if found is not None:
            problems.extend(placed(found, form.start))
            kept[key] = found
            continue
        fresh = _form_problems(analysis, _Walk(analysis).run(form))
        problems.extend(fresh)
        movable = relative(fresh, form.start, form.end)
        if movable is not None:
            kept[key] = movable
    # Walking may have read imported files' macros for the first time: the next version compares
    # against the count as it is now.
    analysis.form_problems = FormProblems(context[:-1] + (_FILE_PLANS_READ[0],), kept)
    return problems


def _form_problems(analysis: Analysis, walk: _Walk) -> list[Problem]:
    found = []
    for sym in _free(walk, analysis.top_level, analysis.visible):
        problem = _unbound_problem(analysis, sym, analysis.unbound_known)
        if problem is not None:
            found.append(problem)
    found.extend(_arity_problems(walk, analysis))
    return found


def _unbound_problem(analysis: Analysis, sym: Node, unbound_known: bool) -> Problem | None:
    name = sym.value
    drift = analysis.drift_by_name.get(name)
    if drift is not None and (drift.module in analysis.imported_modules or drift.in_prelude):
        hint = f"; did you mean {', '.join(drift.suggestions[:3])}?" if drift.suggestions else ""
        return Problem(sym.start, sym.end,
                       f"'{name}' is in the docs of {drift.module or 'the prelude'} but the source no longer exports it{hint}",
                       "doc-drift", "error" if unbound_known else "warning", name)
    if not unbound_known:
        return None
    exporters = tuple(analysis.index.modules_exporting(name))
    if exporters:
        return Problem(sym.start, sym.end, f"unbound identifier '{name}' (exported by {', '.join(exporters[:3])})",
                       "unbound", "error", name, exporters)
    instead = instead_of(analysis, name)
    return Problem(sym.start, sym.end, f"unbound identifier '{name}'{instead.hint if instead else ''}", "unbound",
                   "error", name, instead=instead.names if instead else ())


def _arity_problems(walk: _Walk, analysis: Analysis) -> Iterator[Problem]:
    visible = analysis.visible
    bound = walk.bound
    top = analysis.top_level
    seen: set[int] = set()
    for node in walk.calls:
        children = node.children
        name = children[0].value
        if name in bound or name in top:
            continue
        symbol = visible.get(name)
        if symbol is None:
            continue
        arity = symbol.arity
        argc = len(children) - 1
        # the common case first: a call its callee accepts (or one we know nothing of)
        if arity is None or arity.accepts(argc) or symbol.kind != "procedure":
            continue
        if id(node) in seen:  # a macro template may make the same call twice
            continue
        seen.add(id(node))
        if any(child.kind is _DOT for child in children):
            continue
        yield Problem(children[0].start, children[0].end,
                      f"'{name}' takes {_describe_arity(symbol)} argument{'s' if arity.max != 1 else ''}, given {argc}",
                      "arity", "error", name)


def _describe_arity(symbol: Symbol) -> str:
    arity = symbol.arity
    if arity.max is None:
        return f"at least {arity.min}"
    if arity.max == arity.min:
        return str(arity.min)
    return f"{arity.min} to {arity.max}"

