"""What the server knows about one document version: read once, checked once.

Every feature (completion, hover, diagnostics...) asks :func:`analyze` and gets
the same :class:`Analysis` for a given (uri, version), so a keystroke costs one
read of the text. The checks here are deliberately conservative: a false
"unbound identifier" error in the editor (and in OpenCode's model context) is
worse than a missed one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property

from gerbil_lsp.core.index import DriftEntry, ImportSpec, LocalDefinition, Symbol, SymbolIndex
from gerbil_lsp.core.reader import Node, NodeKind, ReadResult, read_source

# Forms whose first argument binds names for the rest of the form.
_LAMBDA_LIKE = {"lambda", "λ", "case-lambda", "lambda*", "opt-lambda", "def", "def*", "define", "defmethod",
                "definline", "defn", "defproto", "defsyntax-call", "define-values", "defvalues", "defconst",
                "defalias", "defparameter", "deftable", "defmutable"}
_LET_LIKE = {"let", "let*", "letrec", "letrec*", "let-values", "let*-values", "letrec-values", "letrec*-values",
             "when-let", "if-let", "and-let*", "let-hash", "with", "with*", "fluid-let", "parameterize",
             "let-syntax", "letrec-syntax", "do", "for", "for*", "for/collect", "for/fold", "for/foldr",
             "for/and", "for/or", "for/vector", "for/list", "while-let", "receive", "with-id", "with-syntax",
             "with-syntax*", "using", "with-lock", "with-catch", "chain", "defrules", "defrule",
             "let/cc", "let/esc", "lambda/cc", "with-destroy", "with-result", "with-output-to-string"}
# Forms whose whole body is a pattern/template language: names inside are not references.
_OPAQUE = {"quote", "syntax", "quasisyntax", "defrules", "defrule", "defsyntax", "define-syntax",
           "defsyntax-for-match", "syntax-rules", "syntax-case", "syntax-parse", "begin-syntax", "for-syntax",
           "defrules*", "define-rules", "cond-expand", "begin-foreign", "c-declare", "c-lambda", "define-c-lambda",
           "extern", "declare", "export", "import", "module", "include", "begin-ffi", "c-define-type",
           "define-c-struct", "defstruct", "defclass", "defmessage", "deferror-class", "definterface",
           "interface", "defgeneric", "defspecific", "defcall-actor", "defhandler", "defproto", "deftype",
           "defenum", "defsyntax-for-import", "defsyntax-for-export", "package:", "namespace:", "foreign",
           "defcompile-method", "define-type", "define-record-type", "define-structure", "defcall"}
_MATCH_LIKE = {"match", "match*", "with", "with*", "lambda-match", "match-lambda", "def/c", "defmatch",
               "case", "ecase", "<-", "<<", "try", "catch", "guard", "handler-case", "syntax-case",
               "ast-case", "ast-rules", "core-ast-case", "core-syntax-case", "match-ast"}


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


@dataclass
class Analysis:
    uri: str
    version: int | None
    result: ReadResult
    index: SymbolIndex
    path: str | None = None
    _visible: dict[str, Symbol] | None = field(default=None, repr=False)

    @cached_property
    def imports(self) -> list[ImportSpec]:
        return self.index.file_imports(self.result, self.path)

    @cached_property
    def imported_modules(self) -> set[str]:
        return {spec.module for spec in self.imports if spec.module}

    @cached_property
    def definitions(self) -> dict[str, LocalDefinition]:
        return self.index.local_definitions(self.result, self.path)

    @property
    def visible(self) -> dict[str, Symbol]:
        """Prelude plus imported exports, by visible name."""
        if self._visible is None:
            self._visible = self.index.visible_names(self.imports)
        return self._visible

    def resolve(self, name: str) -> Symbol | None:
        return self.index.resolve(name, self.imports)

    @cached_property
    def drift_by_name(self) -> dict[str, DriftEntry]:
        return {entry.name: entry for entry in self.index.drift()}

    def import_form(self) -> Node | None:
        """The file's first top-level ``(import ...)`` form, where new imports go."""
        return next((form for form in self.result.forms if form.head == "import"), None)

    @cached_property
    def problems(self) -> list[Problem]:
        found = [
            Problem(e.span.start.offset, max(e.span.end.offset, e.span.start.offset + 1), e.message, e.code)
            for e in self.result.errors
        ]
        found.extend(check_references(self))
        return found


def analyze(text: str, uri: str, index: SymbolIndex, version: int | None = None, path: str | None = None) -> Analysis:
    return Analysis(uri, version, read_source(text), index, path)


# --------------------------------------------------------------------------- binding collection


def _symbols_in(node: Node) -> Iterator[str]:
    for sub in node.walk():
        if sub.kind is NodeKind.SYMBOL:
            yield sub.value


def _formals(node: Node) -> Iterator[str]:
    """Names a lambda list binds: `x`, `(x y . rest)`, `(x (opt default) key: (k v))`."""
    if node.kind is NodeKind.SYMBOL:
        yield node.value
        return
    if node.kind is not NodeKind.LIST:
        return
    for position, child in enumerate(node.children):
        if child.kind is NodeKind.SYMBOL:
            yield child.value
        elif child.kind is NodeKind.LIST and child.children:
            if position == 0:
                yield from _formals(child)  # curried: (def ((make-adder n) x) ...)
            else:
                yield from _formals(child.children[0])  # (opt default)


def _let_bindings(node: Node) -> Iterator[str]:
    """Names a binding list binds: `((a 1) ((values b c) e))`, or Gerbil's single `(a 1)`."""
    if node.kind is NodeKind.SYMBOL:
        yield node.value
        return
    if node.kind is not NodeKind.LIST or not node.children:
        return
    first = node.children[0]
    if first.kind is NodeKind.SYMBOL:  # (let (x expr) body)
        yield first.value
        return
    if first.head == "values" and len(node.children) == 2:  # (for ((values k v) (in-hash h)) body)
        yield from _symbols_in(first)
        return
    for binding in node.children:
        if binding.kind is NodeKind.SYMBOL:
            yield binding.value
        elif binding.kind is NodeKind.LIST and binding.children:
            yield from _symbols_in(binding.children[0])  # a name, or a values/match pattern


def _bound_names(form: Node) -> set[str]:
    """Every name some binding form inside ``form`` introduces (generous: not scope-exact)."""
    bound: set[str] = set()
    for node in form.walk():
        if node.kind is not NodeKind.LIST or not node.children:
            continue
        head = node.head
        args = node.children[1:]
        if head is None or not args:
            continue
        if head in _LAMBDA_LIKE or head.startswith("def"):
            bound.update(_formals(args[0]))
            if head in ("case-lambda", "def*", "defcase"):
                for clause in args:
                    if clause.kind is NodeKind.LIST and clause.children:
                        bound.update(_formals(clause.children[0]))
        elif head in ("with", "with*", "catch", "receive"):
            bound.update(_symbols_in(args[0]))  # patterns: every variable in them
        elif head in _LET_LIKE:
            first = args[0]
            if first.kind is NodeKind.SYMBOL and len(args) > 1 and args[1].kind is NodeKind.LIST:  # named let
                bound.add(first.value)
                first = args[1]
            bound.update(_let_bindings(first))
        elif head in _MATCH_LIKE:
            for clause in args:
                if clause.kind is NodeKind.LIST and clause.children:
                    bound.update(_symbols_in(clause.children[0]))  # patterns bind their variables
    return bound


def _references(node: Node, opaque=lambda head: False, quasi_depth: int = 0) -> Iterator[Node]:
    """Symbols in evaluated positions: skips quoted data, pattern/template forms and method names.

    ``opaque(head)`` says a form is a macro whose syntax we do not know (defined in this
    file, or not known at all): its head is still checked, its arguments are not.
    """
    stack: list[tuple[Node, int]] = [(node, quasi_depth)]
    while stack:
        current, depth = stack.pop()
        kind = current.kind
        if kind is NodeKind.SYMBOL:
            if depth == 0:
                yield current
            continue
        if kind is NodeKind.QUOTE:
            prefix = current.delimiter
            if prefix in ("'", "#'", "#`", "#&"):
                continue
            if prefix == "`":
                stack.extend((child, depth + 1) for child in current.children)
            elif prefix in (",", ",@", "#,", "#,@"):
                stack.extend((child, max(depth - 1, 0)) for child in current.children)
            else:
                stack.extend((child, depth) for child in current.children)
            continue
        if kind is NodeKind.VECTOR:
            continue  # vector literals are self-quoting data
        if kind is not NodeKind.LIST or not current.children:
            continue
        head = current.head
        if depth == 0 and head in _OPAQUE:
            continue
        if depth == 0 and head is not None and opaque(head):
            stack.append((current.children[0], depth))
            continue
        children = current.children
        if current.delimiter == "{":
            children = children[1:]  # {method obj args...}: the method name is not a variable
        stack.extend((child, depth) for child in reversed(children))


_IGNORED = {"_", "...", "<>", "<...>", ".", "else", "=>", "unquote", "unquote-splicing", "@method"}


def _ignorable(name: str) -> bool:
    return (
        name in _IGNORED
        or name.startswith("##")
        or name.startswith("@")
        or name.startswith(":")
        or ("." in name.strip(".") and not name.startswith("."))  # obj.field under `using`
        or name.startswith("%#")
        or name.startswith("$")  # grammar actions' positional variables
    )


class _Scope:
    """Names bound inside one form, plus the file's top-level definitions (without copying them per form)."""

    __slots__ = ("inner", "outer")

    def __init__(self, inner: set[str], outer: set[str]) -> None:
        self.inner, self.outer = inner, outer

    def __contains__(self, name: str) -> bool:
        return name in self.inner or name in self.outer


def _form_scopes(analysis: Analysis) -> Iterator[tuple[Node, _Scope, Callable[[str], bool]]]:
    """Each checkable top-level form with the names bound in it and its opaque-macro test."""
    top_level = set(analysis.definitions)
    macros = {name for name, d in analysis.definitions.items() if d.kind in ("macro", "syntax")}
    visible = analysis.visible
    for form in analysis.result.forms:
        if form.kind is not NodeKind.LIST or form.head in _OPAQUE:
            continue
        local = _Scope(_bound_names(form), top_level)

        def opaque(head: str, local=local) -> bool:
            return head in macros or (head not in local and head not in visible)

        yield form, local, opaque


def free_references(analysis: Analysis) -> Iterator[Node]:
    """Symbols the file uses that no local binding or definition of its own explains.

    Whether each one is visible through the imports is the caller's question: the
    diagnostics and the eval scorer classify them differently.
    """
    for form, local, opaque in _form_scopes(analysis):
        for sym in _references(form, opaque):
            if sym.value not in local and not _ignorable(sym.value):
                yield sym


def check_references(analysis: Analysis) -> list[Problem]:
    """Unbound names (only with a complete prelude), wrong arity and doc-drift names; one walk per form."""
    index = analysis.index
    unbound_known = index.prelude_complete()
    visible = analysis.visible
    problems: list[Problem] = []
    for form, local, opaque in _form_scopes(analysis):
        for sym in _references(form, opaque):
            name = sym.value
            if name in local or name in visible or _ignorable(name):
                continue
            problem = _unbound_problem(analysis, sym, unbound_known)
            if problem is not None:
                problems.append(problem)
        problems.extend(_arity_problems(form, local, analysis))
    return problems


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
    where = f" (exported by {', '.join(exporters[:3])})" if exporters else ""
    return Problem(sym.start, sym.end, f"unbound identifier '{name}'{where}", "unbound", "error", name, exporters)


def _arity_problems(form: Node, local: _Scope, analysis: Analysis) -> Iterator[Problem]:
    for node in _calls(form):
        name = node.head
        if name is None or name in local:
            continue
        symbol = analysis.visible.get(name)
        if symbol is None or symbol.kind != "procedure" or symbol.arity is None:
            continue
        argc = len(node.children) - 1
        if any(child.kind is NodeKind.DOT for child in node.children):
            continue
        if not symbol.arity.accepts(argc):
            yield Problem(node.children[0].start, node.children[0].end,
                          f"'{name}' takes {_describe_arity(symbol)} argument{'s' if symbol.arity.max != 1 else ''}, given {argc}",
                          "arity", "error", name)


def _calls(form: Node) -> Iterator[Node]:
    """Call forms in evaluated positions (same skipping rules as references)."""
    stack = [form]
    while stack:
        node = stack.pop()
        if node.kind is NodeKind.LIST and node.children and node.delimiter == "(":
            head = node.head
            if head in _OPAQUE:
                continue
            if head is not None and not (head in _LET_LIKE or head in _LAMBDA_LIKE or head in _MATCH_LIKE):
                yield node
            stack.extend(node.children)
        elif node.kind is NodeKind.LIST:
            stack.extend(node.children)


def _describe_arity(symbol: Symbol) -> str:
    arity = symbol.arity
    if arity.max is None:
        return f"at least {arity.min}"
    if arity.max == arity.min:
        return str(arity.min)
    return f"{arity.min} to {arity.max}"
