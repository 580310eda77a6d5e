"""Every identifier the code uses must resolve in the symbol index under the code's imports.

Visible = prelude + modules the code imports (its own ``(import ...)`` forms,
read by :meth:`SymbolIndex.file_imports`, plus the entry's stated imports) +
its top-level definitions (:meth:`SymbolIndex.local_definitions`) + names it
binds locally (parameters, let/match/for bindings, macro pattern variables).
The index has no notion of local scope, so the last set is gathered here,
generously: a name bound anywhere in the block counts as bound everywhere in
it, which can only let a name through, never drop a good entry.

A name the docs still use but the source renamed (the index's ``drift()``) is
rewritten to the source's name when that name is visible; otherwise the entry
is dropped with the reason counted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from gerbil_lsp.data.entries import CodeBlock, Entry, Message
from gerbil_lsp.data.reads import Reads, read_with

# syntax auxiliaries and pattern words that are never bindings of their own
AUXILIARY = frozenset({"else", "=>", "_", "...", "unquote", "unquote-splicing", "quasiquote", "quote",
                       "syntax", "quasisyntax", "unsyntax", "unsyntax-splicing", "@", "::"})
# forms whose contents are not Gerbil expressions to check
OPAQUE_HEADS = frozenset({"import", "export", "declare", "begin-ffi", "c-declare", "c-lambda", "c-define",
                          "c-define-type", "c-initialize", "extern", "include", "begin-foreign",
                          "quote", "quasiquote", "syntax", "quasisyntax", "define-c-lambda", "cond-expand",
                          "begin-annotation", "@list", "defsyntax-for-import", "package:", "namespace:"})
LAMBDA_HEADS = frozenset({"lambda", "lambda%", "λ", "case-lambda", "def", "define", "def*", "defn", "define-values",
                          "def-values", "defmethod", "defproto", "definline", "defrule", "defrules", "defsyntax",
                          "defsyntax-call", "define-syntax", "defalias", "defconst", "defvalues",
                          "defmacro", "define-macro", "defstruct", "defclass", "defrecord", "definterface",
                          "define-record-type", "deferror-class", "defcall-actor", "defmessage", "defhandler"})
LET_HEADS = frozenset({"let", "let*", "letrec", "letrec*", "let-values", "let*-values", "letrec-values",
                       "letrec*-values", "let-syntax", "letrec-syntax", "parameterize", "with", "with*",
                       "let-hash", "using", "for", "for*", "for/collect", "for/fold", "for/foldr", "do",
                       "receive", "fluid-let", "let/cc", "let/esc", "with-destroy", "alet", "alet*",
                       "awhen", "aif", "chain", "while", "until", "with-lock", "when-let", "if-let"})
MATCH_HEADS = frozenset({"match", "match*", "with", "with*", "syntax-case", "syntax-rules", "ast-case",
                         "ast-rules", "defrules", "defrule", "catch", "case", "ecase", "cond", "try",
                         "defsyntax-case"})


@dataclass
class IdentifierVerdict:
    unresolved: list[str] = field(default_factory=list)
    drift_drops: list[str] = field(default_factory=list)
    renames: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.unresolved and not self.drift_drops


def _symbols(node) -> Iterable:
    """Symbols of a binding area, except operators: ``(values k v)`` binds k and v, not values."""
    for n in node.walk():
        if n.kind.name == "SYMBOL":
            yield n


def binders(forms) -> set[str]:
    """Names bound anywhere in the forms (generously: every symbol in a binding position)."""
    out: set[str] = set()
    for form in forms:
        for node in form.walk():
            name = node.head
            if name is None:
                continue
            kids = node.children
            if name in LAMBDA_HEADS and len(kids) > 1:
                out.update(s.value for s in _symbols(kids[1]))
                if name in ("defstruct", "defclass", "defrecord", "definterface", "deferror-class") and len(kids) > 2:
                    out.update(s.value for s in _symbols(kids[2]))
            if name in LET_HEADS and len(kids) > 1:
                target = kids[1]
                if target.kind.name == "SYMBOL" and len(kids) > 2:  # named let
                    out.add(target.value)
                    target = kids[2]
                for binding in target.children if target.kind.name == "LIST" else [target]:
                    if binding.kind.name == "SYMBOL":
                        out.add(binding.value)
                    elif binding.children:
                        first = binding.children[0]
                        whole = first.kind.name == "SYMBOL" and first.value == "values"
                        out |= {s.value for s in _symbols(binding if whole else first)}
                if target.kind.name == "LIST" and target.children and target.children[0].kind.name == "SYMBOL":
                    out.add(target.children[0].value)  # (let (x 1) ...): Gerbil's single binding
            if name in MATCH_HEADS:
                for clause in kids[1:]:
                    if clause.kind.name in ("LIST", "VECTOR") and clause.children:
                        out.update(s.value for s in _symbols(clause.children[0]))
    return out


def references(forms) -> list:
    """Symbol nodes the code uses as variables or operators (quoted data and opaque forms skipped)."""
    out: list = []

    def visit(node, in_brace_head: bool = False) -> None:
        kind = node.kind.name
        if kind == "SYMBOL":
            if not in_brace_head:
                out.append(node)
            return
        if kind in ("QUOTE", "VECTOR"):  # quoted data and vector literals are not code
            return
        children = getattr(node, "children", None) or []
        if kind == "LIST" and node.head in OPAQUE_HEADS:
            return
        brace = getattr(node, "delimiter", "") == "{"
        for i, child in enumerate(children):
            visit(child, in_brace_head=brace and i == 0)

    for form in forms:
        visit(form)
    return out


#: Core forms the reference docs do not document, accepted only when the index's prelude
#: came from docs alone (``prelude_complete()`` false); with a source tree the index decides.
UNDOCUMENTED_CORE = frozenset({
    "defstruct", "defclass", "defmethod", "receive", "let-values", "let*-values", "define-values",
    "values", "call-with-values", "with-catch", "unwind-protect", "raise", "error", "hash", "try", "catch",
    "finally", "defrule", "while", "until", "<>", "<...>", "case-lambda", "syntax-case", "syntax-rules",
    "defsyntax-case", "begin-syntax", "quasiquote", "unquote", "with-syntax", "datum->syntax",
    "syntax->datum", "syntax->list", "stx-identifier", "export", "import", "declare", "include",
    "extern", "begin-ffi", "c-lambda", "c-declare", "define-c-lambda",
})


class IdentifierCheck:
    """Checks entries against one symbol index; caches what each import set makes visible."""

    def __init__(self, index, *, reads: Reads | None = None) -> None:
        self.index = index
        self.reads = reads  # shared reader results (the readability check reads the same blocks)
        self.prelude_complete = bool(index.prelude_complete())
        self._visible: dict[tuple, frozenset[str]] = {}
        self._drift = {}
        for d in index.drift():
            self._drift.setdefault(d.name, d)

    def _spec(self, module: str):
        from gerbil_lsp.core.index.model import ImportSpec

        return ImportSpec(module=module, raw=module)

    def visible(self, specs) -> frozenset[str]:
        key = tuple(sorted((s.module or "", s.raw, repr(s.ops)) for s in specs))
        if key not in self._visible:
            self._visible[key] = frozenset(self.index.visible_names(list(specs)))
        return self._visible[key]

    def check_block(self, block: CodeBlock, verdict: IdentifierVerdict) -> None:
        result = read_with(self.reads, block.code)
        specs = list(self.index.file_imports(result, None)) + [self._spec(m) for m in block.imports]
        visible = self.visible(specs)
        local = set(self.index.local_definitions(result)) | binders(result.forms) | AUXILIARY
        for node in references(result.forms):
            name = node.value
            if name in visible or name in local or name in verdict.renames or _not_a_name(name):
                continue
            if name.startswith("##"):  # Gambit's runtime primitives: no Gerbil module lists them
                continue
            if not self.prelude_complete and name in UNDOCUMENTED_CORE:
                continue
            drift = self._drift.get(name)
            if drift is not None:
                fix = next((s for s in drift.suggestions if s in visible), None)
                if fix:
                    verdict.renames[name] = fix
                else:
                    verdict.drift_drops.append(name)
                continue
            if name not in verdict.unresolved:
                verdict.unresolved.append(name)

    def check_claim(self, name: str, module: str, verdict: IdentifierVerdict) -> None:
        visible = self.visible([self._spec(module)] if module else [])
        if name in visible:
            return
        drift = self._drift.get(name)
        fix = next((s for s in drift.suggestions if s in visible), None) if drift else None
        if fix:
            verdict.renames[name] = fix
        elif drift is not None:
            verdict.drift_drops.append(name)
        else:
            verdict.unresolved.append(name)

    def check(self, entry: Entry, *, code: bool = True) -> IdentifierVerdict:
        verdict = IdentifierVerdict()
        for name, module in entry.claims:
            self.check_claim(name, module, verdict)
        if code:
            for block in entry.code:
                self.check_block(block, verdict)
        return verdict


def _not_a_name(name: str) -> bool:
    # numbers the reader left as symbols, #!optional-style specials, keywords, module paths
    return bool(re.fullmatch(r"[+-]?[\d.]+.*|#!.*|.*:|:.*|\.\.\..*|\|.*\|", name))


def apply_renames(entry: Entry, renames: dict[str, str]) -> Entry:
    """The entry with drifted doc names replaced by the source's names (whole identifiers only)."""
    if not renames:
        return entry
    pattern = re.compile(
        r"(?<![^\s()\[\]{}\"'`,;])(" + "|".join(re.escape(n) for n in sorted(renames, key=len, reverse=True))
        + r")(?![^\s()\[\]{}\"'`,;])"
    )

    def fix(text: str) -> str:
        return pattern.sub(lambda m: renames[m.group(1)], text)

    return entry.with_content(
        messages=tuple(Message(m.role, fix(m.content)) for m in entry.messages),
        code=tuple(CodeBlock(fix(b.code), b.imports, b.role) for b in entry.code),
        claims=tuple((renames.get(n, n), mod) for n, mod in entry.claims),
    )
