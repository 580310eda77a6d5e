"""Scan Gerbil source with the reader: definitions, imports, exports, submodules.

``scan_forms`` turns a file's top-level forms into a :class:`ModuleSource`
(definitions with arity and position, import specs, export forms, nested
``(module Name ...)`` submodules).  :class:`SourceTree` scans whole trees and
evaluates exports across modules: ``#t``, names, ``(rename: a b)``,
``(struct-out s ...)``, ``(except-out spec id ...)``, ``(rename-out spec (a b) ...)``,
``(prefix-out spec pre)``, ``(import: m ...)`` re-exports, ``(phi: n ...)`` /
``(for-syntax ...)`` (other phases are left out of the phase-0 export set),
``(begin: ...)`` and ``cond-expand`` (every clause counts).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from gerbil_lsp.core.macros import Plan, expand, plan_of, top_forms, with_id, with_id_body
from gerbil_lsp.core.reader import BOOLEAN, DOT, KEYWORD, LIST, SPECIAL, STRING, SYMBOL

from .model import Arity, LocalDefinition
from .modules import (
    ImportContext,
    module_id_for_path,
    node_head,
    node_name,
    node_symbol,
    node_text,
    parse_import_form,
)

log = logging.getLogger(__name__)

_TYPE_MARKS = {":", ":~", ":-", "::", ":?"}


# ---------------------------------------------------------------------------
# arities from lambda lists and macro patterns
# ---------------------------------------------------------------------------

def formals_arity(formals) -> Arity | None:
    """Arity of a lambda list node (``(a b (c 1) . rest)``, ``args``, ``(a key: (k 2))``)."""
    k = formals.kind
    if k is SYMBOL:
        return Arity(0, None)
    if k is not LIST or formals.delimiter not in ("(", "["):
        return None
    return children_arity(formals.children)


def children_arity(kids) -> Arity | None:
    """Arity of a lambda list given as its item nodes."""
    lo = hi = 0
    variadic = False
    optional = False
    i = 0
    while i < len(kids):
        c = kids[i]
        i += 1
        ck = c.kind
        if ck is DOT:
            variadic = True
            break
        if ck is SPECIAL:
            t = c.text
            if t == "#!optional":
                optional = True
                continue
            if t in ("#!rest", "#!key"):
                variadic = True
                break
            return None
        if ck is KEYWORD:
            variadic = True  # keyword arguments: optional, two items each
            i += 1
            continue
        if ck is SYMBOL:
            if optional:
                hi += 1
            else:
                lo += 1
                hi += 1
            continue
        if ck is LIST:
            texts = [x.text for x in c.children]
            if ":=" in texts:
                hi += 1
            elif len(texts) >= 2 and texts[1] in _TYPE_MARKS:
                if optional:
                    hi += 1
                else:
                    lo += 1
                    hi += 1
            else:
                hi += 1  # (arg default)
            continue
        return None
    return Arity(lo, None if variadic else hi)


def pattern_arity(pattern) -> Arity | None:
    """Arity of a ``syntax-rules`` pattern ``(_ a b ...)``: items after the head."""
    k = pattern.kind
    if k is SYMBOL:
        return Arity(0, None)  # identifier macro use
    if k is not LIST:
        return None
    lo = hi = 0
    variadic = False
    prev_req = False
    for c in pattern.children[1:]:
        ck = c.kind
        if ck is DOT:
            variadic = True
            break
        if ck is SYMBOL and c.text in ("...", "...+"):
            variadic = True
            if prev_req:
                lo -= 1
                prev_req = False
            continue
        lo += 1
        hi += 1
        prev_req = True
    return Arity(max(lo, 0), None if variadic else hi)


def _lambda_arity(expr) -> Arity | None:
    head = node_head(expr)
    if head in ("lambda", "lambda%", "λ", "lambda/c") and len(expr.children) >= 2:
        return formals_arity(expr.children[1])
    if head in ("case-lambda", "case-lambda/c"):
        return Arity.merge_all(
            formals_arity(cl.children[0]) if cl.kind is LIST and cl.children else None
            for cl in expr.children[1:]
        )
    return None


# ---------------------------------------------------------------------------
# definitions
# ---------------------------------------------------------------------------

@dataclass(slots=True)
class Definition:
    name: str
    kind: str
    line: int
    character: int
    arity: Arity | None = None
    signature: str | None = None
    generated_by: str | None = None
    path: str | None = None
    end_line: int | None = None
    end_character: int | None = None

    def to_local(self) -> LocalDefinition:
        return LocalDefinition(
            name=self.name, kind=self.kind, line=self.line, character=self.character,
            arity=self.arity, signature=self.signature, end_line=self.end_line,
            end_character=self.end_character, generated_by=self.generated_by,
        )


@dataclass(slots=True)
class StructInfo:
    name: str
    kind: str  # struct | class | error-class | interface
    slots: list[str]
    names: list[str]  # every generated name, the type id first
    methods: dict[str, Arity | None] = field(default_factory=dict)  # interfaces


@dataclass
class ModuleSource:
    """One module: a file, or a ``(module Name ...)`` inside one."""

    id: str
    path: str | None = None
    defs: dict[str, Definition] = field(default_factory=dict)
    defs1: dict[str, Definition] = field(default_factory=dict)  # begin-syntax (phase 1)
    methods: list[Definition] = field(default_factory=list)
    structs: dict[str, StructInfo] = field(default_factory=dict)
    import_forms: list = field(default_factory=list)
    export_forms: list = field(default_factory=list)
    submodules: dict[str, ModuleSource] = field(default_factory=dict)
    parent: ModuleSource | None = None
    package: str | None = None
    prelude: str | None = None
    errors: int = 0
    macros: dict[str, object] = field(default_factory=dict)  # defsyntax name -> form
    macro_uses: list = field(default_factory=list)  # top-level forms of unknown head
    lang: str | None = None  # "#lang" of a non-s-expression file
    generated_exports: list[str] = field(default_factory=list)
    expanded: bool = False

    def find_submodule(self, name: str) -> ModuleSource | None:
        m: ModuleSource | None = self
        while m is not None:
            if name in m.submodules:
                return m.submodules[name]
            m = m.parent
        return None


_VALUE_DEFINERS = {"defconst", "define-constant", "defparameter", "define-parameter"}
_PROC_DEFINERS = {"def", "define", "definline", "define-inline", "def/c"}
_MACRO_DEFINERS = {"defsyntax", "define-syntax", "defsyntax-call", "defsyntax-for-import",
                   "defsyntax-for-export", "defsyntax-for-import-export", "defsyntax-parameter",
                   "defsyntax-parameter*", "defrules", "define-rules", "defrule", "defrefset",
                   "define-syntax-rule", "defsyntax%", "defmacro", "defrules*"}
_IGNORED_TOP = {"import", "export", "declare", "provide", "begin-syntax", "begin-annotation",
                "begin-foreign", "c-declare", "c-initialize", "c-define-type", "require",
                "declare-inline", "defmethod", "bind-method!", "module", "include", "begin",
                "cond-expand", "extern", "begin-ffi", "c-define", "defruntime", "load-module"}


_KNOWN_HEADS = (
    _VALUE_DEFINERS | _PROC_DEFINERS | _MACRO_DEFINERS | _IGNORED_TOP
    | {"def*", "defvalues", "define-values", "defalias", "define-alias", "defstruct", "defclass",
       "defmutable", "defmutable*", "defstruct-type", "defclass-type",
       "define-struct", "define-class", "deferror-class", "interface", "define-c-lambda",
       "define-c-lambda/const-pointer", "c-lambda", "defmethod/alias", "defgeneric",
       "defcompile-method"}
)


class _Scanner:
    def __init__(self, mod: ModuleSource, read_file: Callable[[str], object] | None,
                 include_depth: int = 0, text: str | None = None):
        self.mod = mod
        self.text = text
        self.read_file = read_file
        self.include_depth = include_depth
        self.path = mod.path

    def add(self, name: str | None, kind: str, node, arity=None, signature=None,
            generated_by=None) -> None:
        if not name:
            return
        if name in self.mod.defs and generated_by is not None:
            return  # an explicit definition wins over a generated one
        line, character, end_line, end_character = node.line_columns()
        self.mod.defs[name] = Definition(
            name=name, kind=kind, line=line, character=character,
            arity=arity, signature=signature, generated_by=generated_by, path=self.path,
            end_line=end_line, end_character=end_character,
        )

    def forms(self, forms: Iterable) -> None:
        for f in forms:
            self.form(f)

    def form(self, f) -> None:
        if f.kind is not LIST or not f.children:
            return
        head = node_head(f)
        if head is None:
            return
        kids = f.children
        if head == "import":
            self.mod.import_forms.append(f)
        elif head == "export":
            self.mod.export_forms.append(f)
        elif head == "begin":
            self.forms(kids[1:])
        elif head == "cond-expand":
            for clause in kids[1:]:
                if clause.kind is LIST and clause.children:
                    self.forms(clause.children[1:])
        elif head == "include":
            self.include(kids[1:])
        elif head == "module":
            self.submodule(f)
        elif head == "begin-syntax":
            inner = ModuleSource(id=self.mod.id + "~syntax", path=self.path)
            _Scanner(inner, None, 0, self.text).forms(kids[1:])
            self.mod.defs1.update(inner.defs)
        elif head == "defruntime":
            for c in kids[1:]:
                self.add(node_symbol(c), "procedure", c)
        elif head in ("extern",):
            self.extern(f)
        elif head == "begin-ffi":
            self.begin_ffi(f)
        else:
            if head not in _KNOWN_HEADS:
                self.mod.macro_uses.append(f)
            self.definition(head, f)

    # -- includes / submodules ------------------------------------------
    def include(self, args) -> None:
        if self.read_file is None or self.path is None or self.include_depth > 4:
            return
        for a in args:
            if a.kind is not STRING:
                continue
            target = os.path.normpath(os.path.join(os.path.dirname(self.path), a.value))
            result = self.read_file(target)
            if result is None:
                continue
            saved = self.path, self.text
            self.path, self.text = target, result.text
            self.include_depth += 1
            try:
                self.forms(result.forms)
            finally:
                self.include_depth -= 1
                self.path, self.text = saved

    def submodule(self, f) -> None:
        kids = f.children
        if len(kids) < 2:
            return
        name = node_symbol(kids[1])
        if not name:
            return
        sub = ModuleSource(id=f"{self.mod.id}~{name}", path=self.path, parent=self.mod,
                           package=self.mod.package)
        _Scanner(sub, self.read_file, self.include_depth, self.text).forms(kids[2:])
        self.mod.submodules[name] = sub
        # the submodule's name is itself bound in the enclosing module
        self.add(name, "module", kids[1])

    # -- definers ---------------------------------------------------------
    def extern(self, f) -> None:
        kids = f.children[1:]
        i = 0
        while i < len(kids):
            c = kids[i]
            i += 1
            ck = c.kind
            if ck is KEYWORD:
                i += 1
                continue
            if ck is SYMBOL:
                self.add(node_symbol(c), "extern", c)
            elif ck is LIST and c.children:
                # (name internal-name)
                self.add(node_symbol(c.children[0]), "extern", c.children[0])

    def begin_ffi(self, f) -> None:
        kids = f.children
        if len(kids) < 2 or kids[1].kind is not LIST:
            return
        inner = ModuleSource(id=self.mod.id + "~ffi", path=self.path)
        _Scanner(inner, None, 0, self.text).forms(kids[2:])
        for n in kids[1].children:
            name = node_symbol(n)
            if not name:
                continue
            d = inner.defs.get(name)
            if d is not None:
                self.mod.defs[name] = d
            else:
                self.add(name, "ffi", n)

    def definition(self, head: str, f) -> None:
        kids = f.children
        if len(kids) < 2:
            return
        target = kids[1]
        tk = target.kind
        if head in ("def", "define", "def/c", "definline", "define-inline", "defn", "def/opt",
                    "defchecked", "defproto"):
            if tk is SYMBOL:
                expr = kids[2] if len(kids) > 2 else None
                kind, ar = "value", None
                if expr is not None:
                    ar = _lambda_arity(expr)
                    if ar is not None:
                        kind = "procedure"
                    elif node_head(expr) in ("make-parameter", "make-param"):
                        kind, ar = "parameter", Arity(0, 1)
                    elif expr.kind is SYMBOL:
                        kind = "alias-value"
                self.add(node_symbol(target), kind, target, ar)
            elif tk is LIST:
                # (def (name . formals) ...) or curried ((name a) b)
                inner = target
                while inner.kind is LIST and inner.children and inner.children[0].kind is LIST:
                    inner = inner.children[0]
                if inner.children:
                    name = node_symbol(inner.children[0])
                    ar = _formals_of_head(inner)
                    self.add(name, "procedure", inner.children[0], ar, signature=_sig(target, self.text))
                    if name and inner is target and head == "def" and _has_contract(target):
                        # a def with a contract signature also defines the unchecked __name
                        self.add(f"__{name}", "procedure", inner.children[0], ar, generated_by=name)
            return
        if head == "def*":
            name = node_symbol(target)
            ar = Arity.merge_all(
                formals_arity(cl.children[0]) if cl.kind is LIST and cl.children else None
                for cl in kids[2:]
            )
            self.add(name, "procedure", target, ar)
            return
        if head in ("defvalues", "define-values"):
            if tk is LIST:
                for c in target.children:
                    if c.kind is SYMBOL:
                        self.add(node_symbol(c), "value", c)
            return
        if head in ("defalias", "define-alias"):
            self.add(node_symbol(target), "alias", target)
            return
        if head in ("defmutable", "defmutable*") and tk is SYMBOL:
            # (defmutable var value [: type]): var, its cell __var and the setter var-set!
            name = node_symbol(target)
            self.add(name, "value", target)
            self.add(f"__{name}", "value", target, generated_by=name)
            self.add(f"{name}-set!", "procedure", target, Arity(1, 1), generated_by=name)
            return
        if head in ("defrule", "define-syntax-rule"):
            if tk is LIST and target.children:
                name = node_symbol(target.children[0])
                self.add(name, "macro", target.children[0],
                         pattern_arity(target), signature=_sig(target, self.text))
                if name:
                    self.mod.macros[name] = f
            return
        if head in ("defrules", "define-rules"):
            name = node_symbol(target)
            clauses = [c for c in kids[3:] if c.kind is LIST and c.children]
            ar = Arity.merge_all(pattern_arity(c.children[0]) for c in clauses) if clauses else None
            self.add(name, "macro", target, ar)
            if name:
                self.mod.macros[name] = f
            return
        if head in ("defsyntax", "define-syntax", "defsyntax-call", "defsyntax%", "defmacro",
                    "defsyntax-for-import", "defsyntax-for-export",
                    "defsyntax-for-import-export", "defsyntax-parameter",
                    "defsyntax-parameter*", "defrefset", "defrules*"):
            if tk is SYMBOL:
                ar = None
                expr = kids[2] if len(kids) > 2 else None
                if expr is not None and node_head(expr) == "syntax-rules":
                    cl = [c for c in expr.children[2:] if c.kind is LIST and c.children]
                    ar = Arity.merge_all(pattern_arity(c.children[0]) for c in cl) if cl else None
                name = node_symbol(target)
                self.add(name, "macro", target, ar)
                if name and expr is not None:
                    self.mod.macros[name] = f
            elif tk is LIST and target.children:
                name = node_symbol(target.children[0])
                self.add(name, "macro", target.children[0])
                if name and head == "defsyntax":
                    self.mod.macros[name] = f
            return
        if head in ("defstruct", "defclass", "define-struct", "define-class"):
            self.struct(head, f)
            return
        if head in ("defstruct-type", "defclass-type"):
            # (defstruct-type type::t (super ...) make-type type? [key: value] ... slots: ((slot get set) ...))
            for i, c in enumerate(kids[1:5]):
                if i != 1 and c.kind is SYMBOL:
                    self.add(node_symbol(c), "value" if i == 0 else "procedure", c)
            slots = _plist(kids[5:]).get("slots:")
            if slots is not None and slots.kind is LIST:
                for slot in slots.children:
                    if slot.kind is LIST:
                        for c in slot.children[1:]:
                            if c.kind is SYMBOL:
                                self.add(node_symbol(c), "procedure", c)
            return
        if head == "deferror-class":
            self.error_class(f)
            return
        if head == "interface":
            self.interface(f)
            return
        if head in ("define-c-lambda", "define-c-lambda/const-pointer", "c-lambda"):
            name = node_symbol(target)
            ar = None
            if len(kids) > 2 and kids[2].kind is LIST:
                n = len(kids[2].children)
                ar = Arity(n, n)
            self.add(name, "procedure", target, ar)
            return
        if head in _VALUE_DEFINERS:
            self.add(node_symbol(target), "parameter" if "param" in head else "value", target)
            return
        if head in ("defmethod", "defmethod/alias", "defgeneric", "defcompile-method"):
            if tk is LIST and target.delimiter == "{" and target.children:
                sp = target.children[0].span
                names = [x.text for x in target.children]
                self.mod.methods.append(Definition(
                    name="{" + " ".join(names) + "}", kind="method", line=sp.start.line,
                    character=sp.start.character, path=self.path,
                ))
                if head == "defmethod" and len(names) == 2 and all(x.kind is SYMBOL for x in target.children):
                    # (defmethod {m Type} impl) also defines the procedure Type::m
                    self.add(f"{names[1]}::{names[0]}", "procedure", target.children[0],
                             generated_by=names[1])
            elif head == "defgeneric" and tk is SYMBOL:
                self.add(node_symbol(target), "procedure", target)
            elif head == "defcompile-method" and tk is LIST and target.children:
                # (defcompile-method (apply-pass arg ...) (klass super ...) slots (method impl) ...)
                # defines (def (apply-pass stx arg ...) ...)
                ar = children_arity(target.children[1:])
                if ar is not None:
                    ar = Arity(ar.min + 1, None if ar.max is None else ar.max + 1)
                self.add(node_symbol(target.children[0]), "procedure", target.children[0], ar)
            return
        if (head.startswith("def") or head.startswith("define-")) and tk is SYMBOL:
            # an unknown definer macro ``(defthing name ...)``: it defines ``name``.
            # ``(defthing (name ...) ...)`` is left to macro expansion: such forms
            # often define methods, not ``name`` itself.
            self.add(node_symbol(target), "value", target)

    def struct(self, head: str, f) -> None:
        kids = f.children
        target = kids[1]
        parent = None
        if target.kind is LIST and target.children:
            name_node = target.children[0]
            parent = target.children[1:] or None
        else:
            name_node = target
        name = node_symbol(name_node)
        if not name:
            return
        slots_node = kids[2] if len(kids) > 2 else None
        slots = []
        if slots_node is not None and slots_node.kind is LIST:
            for s in slots_node.children:
                if s.kind is SYMBOL:
                    slots.append(node_symbol(s))
                elif s.kind is LIST and s.children and s.children[0].kind is SYMBOL:
                    slots.append(node_symbol(s.children[0]))
        opts = _plist(kids[3:])
        is_struct = head in ("defstruct", "define-struct")
        kind = "struct" if is_struct else "class"
        ctor_arity = None
        if is_struct and "constructor:" not in opts and not parent:
            ctor_arity = Arity(len(slots), len(slots))
        # with a super type the constructor may be inherited (a super's constructor: method):
        # its arity is unknown here
        inherited: list[str] = []
        for p in parent or ():
            info = self.mod.structs.get(node_symbol(p) or "")
            if info is not None:  # accessors of a super's slots (one defined here) are made too
                inherited.extend(x for x in info.slots if x not in slots and x not in inherited)
        self._type_names(name, name_node, inherited + slots, kind, ctor_arity)

    def error_class(self, f) -> None:
        kids = f.children
        target = kids[1]
        name_node = target.children[0] if target.kind is LIST and target.children else target
        name = node_symbol(name_node)
        if not name:
            return
        slots = []
        if len(kids) > 2 and kids[2].kind is LIST:
            slots = [node_symbol(s) for s in kids[2].children if node_symbol(s)]
        self._type_names(name, name_node, slots, "error-class", None)
        if len(kids) > 3:
            alias = node_symbol(kids[3])
            if alias:
                self.add(alias, "procedure", kids[3], Arity(1, 1), generated_by=name)
                self.mod.structs[name].names.append(alias)

    def _type_names(self, name, node, slots, kind, ctor_arity) -> None:
        names: list[str] = []

        def gen(n, k, ar=None):
            names.append(n)
            self.add(n, k, node, ar, generated_by=name)

        gen(name, kind)
        gen(f"{name}::t", "value")
        gen(f"make-{name}", "procedure", ctor_arity)
        gen(f"{name}?", "procedure", Arity(1, 1))
        for s in slots:
            gen(f"{name}-{s}", "procedure", Arity(1, 1))
            gen(f"{name}-{s}-set!", "procedure", Arity(2, 2))
        for s in slots:
            gen(f"&{name}-{s}", "procedure", Arity(1, 1))
            gen(f"&{name}-{s}-set!", "procedure", Arity(2, 2))
        self.mod.structs[name] = StructInfo(name, kind, list(slots), names)

    def interface(self, f) -> None:
        kids = f.children
        target = kids[1]
        name_node = target.children[0] if target.kind is LIST and target.children else target
        name = node_symbol(name_node)
        if not name:
            return
        names: list[str] = []

        def gen(n, k, ar=None):
            names.append(n)
            self.add(n, k, name_node, ar, generated_by=name)

        gen(name, "interface")
        gen(f"{name}::interface", "value")
        gen(f"make-{name}", "procedure", Arity(1, 1))
        gen(f"try-{name}", "procedure", Arity(1, 1))
        gen(f"{name}?", "procedure", Arity(1, 1))
        gen(f"is-{name}?", "procedure", Arity(1, 1))
        methods: dict[str, Arity | None] = {}
        # methods of mixin interfaces defined earlier in this module come along
        if target.kind is LIST:
            for p in target.children[1:]:
                info = self.mod.structs.get(node_symbol(p) or "")
                if info is not None and info.kind == "interface":
                    methods.update(info.methods)
        for spec in kids[2:]:
            if spec.kind is not LIST or not spec.children:
                continue
            mname = node_symbol(spec.children[0])
            if not mname:
                continue
            sub = formals_arity_tail(spec.children[1:])
            methods[mname] = None if sub is None else Arity(
                sub.min + 1, None if sub.max is None else sub.max + 1)
        for mname, ar in methods.items():
            gen(f"{name}-{mname}", "procedure", ar)
            gen(f"&{name}-{mname}", "procedure", ar)
        self.mod.structs[name] = StructInfo(name, "interface", [], names, methods)


def formals_arity_tail(children) -> Arity | None:
    """Arity of a method spec's argument nodes (up to a ``=>`` return marker)."""
    args = []
    for c in children:
        if c.kind is SYMBOL and c.text == "=>":
            break
        args.append(c)
    return children_arity(args)


def _has_contract(target) -> bool:
    """A def signature with typed arguments (``(x : T)``) and no keyword arguments (then def is def/c)."""
    contract = False
    for c in target.children[1:]:
        k = c.kind
        if k is KEYWORD:
            return False
        if k is LIST and any(x.kind is SYMBOL and x.value in _TYPE_MARKS for x in c.children[1:]):
            contract = True
    return contract


def _formals_of_head(inner) -> Arity | None:
    return children_arity(inner.children[1:])


def _sig(node, text: str | None) -> str:
    t = " ".join(node_text(node, text).split())
    return t if len(t) <= 200 else t[:199] + "…"


def _plist(nodes) -> dict[str, object]:
    out: dict[str, object] = {}
    i = 0
    while i < len(nodes):
        n = nodes[i]
        if n.kind is KEYWORD:
            out[n.text] = nodes[i + 1] if i + 1 < len(nodes) else None
            i += 2
        else:
            i += 1
    return out


def scan_forms(forms, module_id: str, path: str | None = None,
               read_file: Callable[[str], object] | None = None,
               text: str | None = None) -> ModuleSource:
    """A module's definitions / imports / exports from its top-level forms."""
    mod = ModuleSource(id=module_id, path=path)
    i = 0
    fl = list(forms)
    # leading directives: package: x prelude: y namespace: z
    while i < len(fl) and fl[i].kind is KEYWORD:
        key = fl[i].text
        val = fl[i + 1] if i + 1 < len(fl) else None
        if key == "package:" and val is not None:
            mod.package = val.text
        elif key == "prelude:" and val is not None:
            mod.prelude = val.text
        i += 2
    _Scanner(mod, read_file, 0, text).forms(fl[i:])
    return mod


def scan_definer(mod: ModuleSource, node) -> None:
    """Record in ``mod`` what one definer form defines (struct accessors, methods, macros...)."""
    _Scanner(mod, None).form(node)


def local_definitions(result, path: str | None = None) -> dict[str, LocalDefinition]:
    """Names a file defines at top level (incl. generated struct/class names)."""
    mod = scan_forms(result.forms, ":<local>", path, text=result.text)
    out = {name: d.to_local() for name, d in mod.defs.items()}
    for m in mod.methods:
        out.setdefault(m.name, m.to_local())
    return out


# ---------------------------------------------------------------------------
# whole trees
# ---------------------------------------------------------------------------

#: top-level folders of a Gerbil checkout's src/ that hold no library modules
GERBIL_SRC_SKIP_DIRS = {"bootstrap", "build", "tutorial", "misc", "tools"}
#: folders never scanned anywhere
ALWAYS_SKIP_DIRS = {".gerbil", ".git", "node_modules", "__pycache__", ".venv"}


def skipped_folder(name: str) -> bool:
    """A folder no scan enters: build output, VCS, dependencies, anything hidden."""
    return name in ALWAYS_SKIP_DIRS or name.startswith(".")


#: directories walked at most, so that a root such as a home folder costs little
MAX_DIRS = 5000
#: bigger .ss files are generated code (a parser table, an expanded bootstrap): left to the editor to open
MAX_FILE_BYTES = 2_000_000


def file_stat(path: str) -> os.stat_result | None:
    """The file's stat, or None when it cannot be had (gone, unreadable)."""
    try:
        return os.stat(path)
    except OSError:
        return None


def source_files(root: str, limit: int | None = None) -> Iterator[tuple[str, os.stat_result]]:
    """The (first ``limit``) ``.ss`` files under ``root`` with their stat, outside build output and hidden folders.

    Files too big to be written by hand (generated code) are left out. The workspace scan, the
    reference search and ``gerbil-lsp format`` walk folders with this.
    """
    found = 0
    for walked, (folder, folders, names) in enumerate(os.walk(root), start=1):
        folders[:] = sorted(d for d in folders if not skipped_folder(d))
        for name in sorted(names):
            if not name.endswith(".ss"):
                continue
            path = os.path.join(folder, name)
            stat = file_stat(path)
            if stat is None or stat.st_size > MAX_FILE_BYTES:
                continue
            yield path, stat
            found += 1
            if limit is not None and found >= limit:
                log.warning("%s: taking its first %d .ss files (index.workspace_files)", root, limit)
                return
        if walked >= MAX_DIRS:
            log.warning("%s: stopped looking for .ss files after %d folders", root, MAX_DIRS)
            return


def iter_source_files(root: Path, *, gerbil_src: bool = False) -> list[Path]:
    root = Path(root)
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        keep = []
        for d in sorted(dirnames):
            if skipped_folder(d):
                continue
            if gerbil_src and rel == "." and d in GERBIL_SRC_SKIP_DIRS:
                continue
            if gerbil_src and rel == "gerbil" and d in ("test", "boot"):
                continue
            keep.append(d)
        dirnames[:] = keep
        names = set(filenames)
        for fn in sorted(filenames):
            if fn.endswith(".ssi"):
                # a compiled module's interface: a module unless the .ss is there too
                if fn[:-1] in names:
                    continue
            elif not fn.endswith(".ss"):
                continue
            if gerbil_src and (fn.endswith("-test.ss") or fn == "build.ss"):
                continue
            out.append(Path(dirpath) / fn)
    return sorted(out)


@dataclass(slots=True)
class Binding:
    """Where an exported name comes from."""

    module: str  # defining module id
    name: str  # name there
    definition: Definition | None = None


class SourceTree:
    """Modules of one or more source trees, with cross-module export evaluation."""

    def __init__(self, reader: Callable[[str], object] | None = None,
                 external: Callable[[str], dict[str, Binding] | None] | None = None):
        """``external(module id)`` supplies exports of modules outside the tree (an index)."""
        self.external = external
        self.modules: dict[str, ModuleSource] = {}
        self.path_module: dict[str, str] = {}
        self._reader = reader
        self._read_cache: dict[str, object] = {}
        self._exports: dict[str, dict[str, Binding]] = {}
        self._imports: dict[str, dict[str, Binding]] = {}
        self._busy: set[str] = set()
        self._expandable: set[str] | None = None
        self.errors: list[str] = []

    # -- reading ----------------------------------------------------------
    def read(self, path: str):
        if path in self._read_cache:
            return self._read_cache[path]
        res = None
        if os.path.isfile(path):
            try:
                res = self._reader(path) if self._reader else _default_read(path)
            except Exception as e:  # noqa: BLE001 - a broken file must not stop the scan
                self.errors.append(f"{path}: {e}")
        self._read_cache[path] = res
        return res

    def add_file(self, path: Path, root: Path | None = None, result=None) -> ModuleSource | None:
        spath = os.path.normpath(str(path))
        res = result if result is not None else self.read(spath)
        if res is None:
            return None
        mid = module_id_for_path(Path(spath), res.text, root=root)
        mod = scan_forms(res.forms, mid, spath, read_file=self.read, text=res.text)
        # the tree is not needed any more (an include reads its own file): let it go
        self._read_cache.pop(spath, None)
        if mid in self.modules and self.modules[mid].path != spath:
            self.errors.append(f"{spath}: module {mid} already defined by {self.modules[mid].path}")
            return None
        if res.foreign and res.lang:
            mod.lang = res.lang
            _foreign_lang_exports(mod, res.text)
        self.modules[mid] = mod
        self.path_module[spath] = mid
        self._exports.clear()
        self._imports.clear()
        self._expandable = None
        return mod

    def add_tree(self, root: Path, *, gerbil_src: bool = False, progress=None) -> int:
        files = iter_source_files(root, gerbil_src=gerbil_src)
        n = 0
        for f in files:
            if self.add_file(f, root=root) is not None:
                n += 1
            if progress:
                progress(str(f))
        return n

    # -- resolution -------------------------------------------------------
    def _path_to_module(self, p: Path) -> str | None:
        return self.path_module.get(os.path.normpath(str(p)))

    def get(self, mid: str) -> ModuleSource | None:
        if mid in self.modules:
            return self.modules[mid]
        if "~" in mid:
            base, *subs = mid.split("~")
            m = self.modules.get(base)
            for s in subs:
                if m is None:
                    return None
                m = m.submodules.get(s)
            return m
        return None

    def context(self, mod: ModuleSource) -> ImportContext:
        def sub(name: str) -> str | None:
            s = mod.find_submodule(name)
            return s.id if s else None

        return ImportContext(module=mod.id, path=mod.path, path_to_module=self._path_to_module,
                             submodule=sub)  # raw text is not needed for export evaluation

    def imported(self, mid: str, phase: int = 0) -> dict[str, Binding]:
        """Names a module imports at ``phase`` (0 = runtime, 1 = for-syntax), with origins."""
        key = (mid, phase)
        if key in self._imports:
            return self._imports[key]
        mod = self.get(mid)
        out: dict[str, Binding] = {}
        if mod is None:
            return out
        self._imports[key] = out  # cycle guard: partial while computing
        ctx = self.context(mod)
        for form in mod.import_forms:
            for spec in parse_import_form(form, ctx):
                if spec.phase != phase or spec.module is None:
                    continue
                exp = self.exports(spec.module)
                for vis, orig in spec.apply(exp.keys()).items():
                    out.setdefault(vis, exp[orig])
        return out

    def exports(self, mid: str, phase: int = 0) -> dict[str, Binding]:
        """Exported name -> binding, for the names the module exports at ``phase``."""
        key = (mid, phase)
        if key in self._exports:
            return self._exports[key]
        mod = self.get(mid)
        if mod is None and self.external is not None and phase == 0:
            ext = self.external(mid) or {}
            self._exports[key] = ext
            return ext
        if mod is None or key in self._busy:
            return {}
        self._busy.add(key)
        try:
            out: dict[str, Binding] = {}
            if not mod.expanded:
                mod.expanded = True
                expandable = self._expandable_names()
                for use in mod.macro_uses:
                    if node_head(use) in expandable:
                        self._expand_use(mod, use)
            if phase == 0:
                for name in mod.generated_exports:
                    out[name] = Binding(mod.id, name, mod.defs.get(name))
            for form in mod.export_forms:
                for c in form.children[1:]:
                    self._export_spec(mod, c, 0, phase, out)
            self._exports[key] = out
            return out
        finally:
            self._busy.discard(key)

    def _binding(self, mod: ModuleSource, name: str, phase: int = 0) -> Binding | None:
        m: ModuleSource | None = mod
        while m is not None:
            if phase == 0:
                d = m.defs.get(name)
                if d is not None:
                    return Binding(m.id, name, d)
            imp = self.imported(m.id, phase)
            if name in imp:
                return imp[name]
            m = m.parent  # a submodule sees its enclosing module's bindings
        return None

    def _export_spec(self, mod: ModuleSource, node, at: int, want: int,
                     out: dict[str, Binding]) -> None:
        """Evaluate one export spec at phase ``at``, keeping names exported at ``want``."""
        k = node.kind
        if k is BOOLEAN:
            if at == want and node.value is True:
                if want == 0:
                    for name, d in mod.defs.items():
                        if d.kind != "module":  # submodule names are not exported by #t
                            out.setdefault(name, Binding(mod.id, name, d))
                elif want == 1:
                    for name, d in mod.defs1.items():
                        out.setdefault(name, Binding(mod.id, name, d))
            return
        if k is SYMBOL:
            if at != want:
                return
            name = node_symbol(node)
            if name:
                b = self._binding(mod, name, at)
                out[name] = b or Binding(mod.id, name, None)
            return
        head = node_head(node)
        if head is None:
            return
        kids = node.children
        if head == "rename:" and len(kids) >= 3:
            if at == want:
                src, dst = node_symbol(kids[1]), node_symbol(kids[2])
                if src and dst:
                    b = self._binding(mod, src, at)
                    out[dst] = b or Binding(mod.id, src, None)
            return
        if head == "import:":
            if at != want:
                return
            ctx = self.context(mod)
            imp = self.imported(mod.id, at)
            for c in kids[1:]:
                for spec in _specs_of(c, ctx):
                    if spec.module is None:
                        continue
                    exp = self.exports(spec.module)
                    for vis in spec.apply(exp.keys()):
                        # re-export what this module imported from there, at this phase
                        if vis in imp:
                            out.setdefault(vis, imp[vis])
            return
        if head in ("struct-out", "interface-out"):
            if at != want:
                return
            for c in kids[1:]:
                name = node_symbol(c)
                if not name:
                    continue
                info = self._struct_info(mod, name)
                if info is None:
                    b = self._binding(mod, name)
                    out[name] = b or Binding(mod.id, name, None)
                    continue
                owner, si = info
                for n in si.names:
                    out[n] = Binding(owner.id, n, owner.defs.get(n))
            return
        if head in ("except-out", "rename-out", "prefix-out"):
            if len(kids) < 2:
                return
            sub: dict[str, Binding] = {}
            self._export_spec(mod, kids[1], at, want, sub)
            if head == "except-out":
                drop = {node_symbol(x) for x in kids[2:]}
                sub = {n: b for n, b in sub.items() if n not in drop}
            elif head == "rename-out":
                ren = {}
                for pair in kids[2:]:
                    if pair.kind is LIST and len(pair.children) == 2:
                        a, b2 = node_symbol(pair.children[0]), node_symbol(pair.children[1])
                        if a and b2:
                            ren[a] = b2
                sub = {ren.get(n, n): b for n, b in sub.items()}
            else:
                pre = node_name(kids[2]) if len(kids) > 2 else ""
                sub = {f"{pre}{n}": b for n, b in sub.items()}
            for n, b in sub.items():
                out.setdefault(n, b)
            return
        if head == "phi:":
            try:
                d = int(kids[1].text)
            except (IndexError, ValueError):
                return
            for c in kids[2:]:
                self._export_spec(mod, c, at + d, want, out)
            return
        if head in ("for-syntax", "for-template"):
            d = 1 if head == "for-syntax" else -1
            for c in kids[1:]:
                self._export_spec(mod, c, at + d, want, out)
            return
        if head == "begin:":
            for c in kids[1:]:
                self._export_spec(mod, c, at, want, out)
            return
        if head == "cond-expand":
            for clause in kids[1:]:
                if clause.kind is LIST:
                    for c in clause.children[1:]:
                        self._export_spec(mod, c, at, want, out)
            return
        # spec:, or an export macro we do not know: nothing

    # -- a little macro expansion: definers whose expansion exports -------
    def _expandable_names(self) -> set[str]:
        """Macros whose templates define, export or use themselves: the uses worth expanding."""
        if self._expandable is None:
            names: set[str] = set()
            todo = list(self.modules.values())
            while todo:
                m = todo.pop()
                todo.extend(m.submodules.values())
                for name, form in m.macros.items():
                    heads = {node_head(n) for n in _template_forms(form)}
                    if heads & _EXPANDED_HEADS or name in heads:
                        names.add(name)
            self._expandable = names
        return self._expandable

    def _expand_use(self, mod: ModuleSource, use, scope: ModuleSource | None = None,
                    anchor=None, depth: int = 0) -> None:
        """Expand a top-level macro use far enough to see what it defines and exports.

        ``scope`` is where the macro's head is looked up (the macro's own module
        for a use inside another macro's template); ``anchor`` is the original
        use, whose position generated definitions get.
        """
        head = node_head(use)
        scope = scope or mod
        anchor = anchor or use
        if head is None or depth > 4 or (head in scope.defs and head not in scope.macros):
            return
        b = self._binding(scope, head)
        if b is None:
            return
        owner = self.get(b.module)
        form = owner.macros.get(b.name) if owner is not None else None
        plan = _plan_of(form) if form is not None else None
        expansion = expand(use, plan) if plan is not None else None
        if expansion is None:
            return
        expandable = self._expandable_names()
        todo = top_forms(expansion)
        while todo:
            node = todo.pop(0)
            h = node_head(node)
            if h == "with-id":  # (with-id ctx ((id "prefix-" #'var) ...) body ...): made names in the body
                todo[:0] = [n for b in with_id(node, anchor) or () for n in top_forms(b)]
            elif h == "export":
                mod.generated_exports.extend(n for n in map(node_symbol, node.children[1:]) if n)
            elif h in _DEFINING and len(node.children) > 1:
                t = node.children[1]
                n = node_symbol(t) or (node_symbol(t.children[0]) if t.kind is LIST and t.children else None)
                if n and n not in mod.defs:
                    sp = anchor.span
                    mod.defs[n] = Definition(n, "macro" if h in ("defrule", "defrules") else "procedure",
                                             sp.start.line, sp.start.character, path=mod.path,
                                             generated_by=node_head(anchor))
            elif h in expandable and owner is not None:
                # a macro whose template uses another (or itself): expand that too
                self._expand_use(mod, node, owner, anchor, depth + 1)

    def _struct_info(self, mod: ModuleSource, name: str):
        if name in mod.structs:
            return mod, mod.structs[name]
        b = self._binding(mod, name)
        if b is not None:
            owner = self.get(b.module)
            if owner is not None and b.name in owner.structs:
                return owner, owner.structs[b.name]
        return None


_GRAMMAR_SECTION = re.compile(r"^%%(parser|lexer)\s+([^\s()]+)(?:\s+lexer:\s+([^\s()]+))?", re.M)


def _foreign_lang_exports(mod: ModuleSource, text: str) -> None:
    """Exports of a ``#lang :std/parser/grammar`` file: its parsers and lexers."""
    if "grammar" not in (mod.lang or ""):
        return
    for m in _GRAMMAR_SECTION.finditer(text):
        line = text.count("\n", 0, m.start())
        for name in (m.group(2), m.group(3)):
            if name and name not in mod.defs:
                mod.defs[name] = Definition(name, "procedure", line, 0, path=mod.path)
                mod.generated_exports.append(name)


_DEFINING = {"def", "define", "defalias", "defrule", "defrules"}
_EXPANDED_HEADS = {"export", *_DEFINING}


def _template_forms(form) -> list:
    """Top-level forms of a macro definition's templates, through ``begin`` and ``with-id`` bodies."""
    plan = _plan_of(form)
    out = []
    todo = [n for clause in plan.clauses if clause.template is not None
            for n in top_forms(clause.template)] if plan is not None else []
    while todo:
        n = todo.pop(0)
        if node_head(n) == "with-id":
            todo[:0] = [x for b in with_id_body(n) for x in top_forms(b)]
        else:
            out.append(n)
    return out


_PLANS: dict[int, tuple] = {}


def _plan_of(form) -> Plan | None:
    """The macro definition's plan, read once per form (the form is kept so its id stays its own)."""
    hit = _PLANS.get(id(form))
    if hit is None:
        hit = _PLANS[id(form)] = (form, plan_of(form))
    return hit[1]


def _specs_of(node, ctx):
    from .modules import parse_import_spec

    return parse_import_spec(node, ctx)


def _default_read(path: str):
    from gerbil_lsp.core.reader import read_file

    return read_file(path)
