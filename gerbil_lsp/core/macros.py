"""Expanding Gerbil macros far enough to see what a use of one means: names it binds and defines.

The index (exports and definitions a top-level macro use makes) and the server's
analysis (what an expansion references) share this one expander. It reads a
macro's definition into a :class:`Plan` (``defrule``, ``defrules``,
``syntax-rules``, and ``syntax-case`` clauses that end in a ``#'`` template,
through ``with-syntax``), matches a use against the clauses' patterns (literals,
one ellipsis per level, dotted tails, the fenders we can evaluate) and fills the
template in. Template nodes are :class:`TemplateNode`: their positions are the
use's (``anchor``), since the template's own text is the macro's. Whatever is
beyond a pattern language (a clause computed by Scheme code) gives no expansion:
``None``, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gerbil_lsp.core.reader import DOT as _DOT
from gerbil_lsp.core.reader import KEYWORD as _KEYWORD
from gerbil_lsp.core.reader import LIST as _LIST
from gerbil_lsp.core.reader import QUOTE as _QUOTE
from gerbil_lsp.core.reader import STRING as _STRING
from gerbil_lsp.core.reader import SYMBOL as _SYMBOL
from gerbil_lsp.core.reader import VECTOR as _VECTOR
from gerbil_lsp.core.reader import Node, NodeKind


class TemplateNode:
    """A node a macro expansion built from its template (enough of the reader's Node to walk and expand).

    ``anchor`` is the node of the user's text the expansion stands for: positions come from it (the
    template's own text is the macro's, never the user's).
    """

    __slots__ = ("kind", "value", "text", "children", "delimiter", "start", "end", "closed", "anchor")

    def __init__(self, kind, value, text, children, delimiter, anchor=None) -> None:
        self.kind = kind
        self.value = value
        self.text = text
        self.children = children
        self.delimiter = delimiter
        self.anchor = anchor
        self.start = anchor.start if anchor is not None else 0
        self.end = anchor.end if anchor is not None else 0
        self.closed = True

    @property
    def head(self) -> str | None:
        if self.kind is _LIST and self.children and self.children[0].kind is _SYMBOL:
            return self.children[0].value
        return None

    @property
    def span(self):
        return self.anchor.span

    def line_columns(self) -> tuple[int, int, int, int]:
        return self.anchor.line_columns()

    def walk(self):
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            if node.children:
                stack.extend(reversed(node.children))


def format_id(fmt: str, vals: list[str]) -> str:
    """``format-id``'s template filling (``~a``/``~s`` take the next value): the name a macro makes."""
    out, i, k = [], 0, 0
    while i < len(fmt):
        if fmt[i] == "~" and i + 1 < len(fmt) and fmt[i + 1] in "as":
            out.append(vals[k] if k < len(vals) else "")
            k += 1
            i += 2
        else:
            out.append(fmt[i])
            i += 1
    return "".join(out)


class _Seq(list):
    """What a pattern variable under an ellipsis matched: one value per repetition."""

    __slots__ = ()


class _NoExpansion(Exception):  # noqa: N818 - control flow, not an error
    pass


def _is_ellipsis(node) -> bool:
    return node.kind is _SYMBOL and node.value == "..."


def _pattern_vars(pattern, literals, out: list[str]) -> list[str]:
    if pattern.kind is _SYMBOL:
        name = pattern.value
        if name not in ("_", "...") and name not in literals:
            out.append(name)
    else:
        for child in pattern.children:
            _pattern_vars(child, literals, out)
    return out


def _match(pattern, form, literals, env: dict) -> bool:
    kind = pattern.kind
    if kind is _SYMBOL:
        name = pattern.value
        if name == "_":
            return True
        if name in literals:
            return form.kind is _SYMBOL and form.value == name
        env[name] = form
        return True
    if kind is _LIST or kind is _VECTOR:
        return form.kind is kind and _match_items(pattern.children, form.children, literals, env, form)
    if kind is _QUOTE or kind is _DOT:
        return False
    return form.kind is kind and form.value == pattern.value  # a literal datum: keyword, string, number...


def _match_items(patterns: list, forms: list, literals, env: dict, anchor) -> bool:
    """Match list items, with one ellipsis per level and an optional ``. tail`` pattern."""
    tail = None
    for i, p in enumerate(patterns):
        if p.kind is _DOT:
            tail = patterns[i + 1] if i + 1 < len(patterns) else None
            patterns = patterns[:i]
            break
    dot = next((i for i, f in enumerate(forms) if f.kind is _DOT), None)
    if dot is not None:
        return _match_dotted(patterns, tail, forms, dot, literals, env)
    ellipsis = next((i for i in range(len(patterns) - 1) if _is_ellipsis(patterns[i + 1])), None)
    if ellipsis is None:
        if len(forms) < len(patterns) or (tail is None and len(forms) != len(patterns)):
            return False
        for p, f in zip(patterns, forms, strict=False):
            if not _match(p, f, literals, env):
                return False
        if tail is not None:
            rest = forms[len(patterns):]
            return _match(tail, TemplateNode(_LIST, None, "", rest, "(", rest[0] if rest else anchor), literals, env)
        return True
    before, sub, after = patterns[:ellipsis], patterns[ellipsis], patterns[ellipsis + 2:]
    count = len(forms) - len(before) - len(after)
    if count < 0:
        return False
    for p, f in zip(before, forms, strict=False):
        if not _match(p, f, literals, env):
            return False
    names = _pattern_vars(sub, literals, [])
    seqs = {name: _Seq() for name in names}
    for item in forms[len(before):len(before) + count]:
        inner: dict = {}
        if not _match(sub, item, literals, inner):
            return False
        for name in names:
            seqs[name].append(inner.get(name))
    env.update(seqs)
    for p, f in zip(after, forms[len(before) + count:], strict=False):
        if not _match(p, f, literals, env):
            return False
    if tail is not None:
        return _match(tail, TemplateNode(_LIST, None, "", [], "(", anchor), literals, env)
    return True


def _match_dotted(patterns: list, tail, forms: list, dot: int, literals, env: dict) -> bool:
    """A use with a dotted tail, ``(f a b . rest)``: a pattern with a tail, ``(_ x y . more)``, matches it.

    The pattern's items take the use's items before the dot; its tail takes what is left,
    the datum after the dot included. A pattern with an ellipsis, or more items than the
    use has before its dot, does not match (the datum after the dot is not a list to take
    items from).
    """
    if tail is None or dot + 2 != len(forms) or len(patterns) > dot or any(map(_is_ellipsis, patterns)):
        return False
    for p, f in zip(patterns, forms, strict=False):
        if not _match(p, f, literals, env):
            return False
    if len(patterns) == dot:
        return _match(tail, forms[dot + 1], literals, env)
    rest = forms[len(patterns):]
    return _match(tail, TemplateNode(_LIST, None, "", rest, "(", rest[0]), literals, env)


def _subst(template, env: dict, anchor):
    """The template with pattern variables replaced by what they matched (``...`` repeated)."""
    kind = template.kind
    if kind is _SYMBOL:
        name = template.value
        if name in env:
            value = env[name]
            if value is None or isinstance(value, _Seq):
                raise _NoExpansion
            return value
        return TemplateNode(_SYMBOL, name, name, [], "", anchor)
    children = template.children
    if not children:
        return TemplateNode(kind, template.value, template.text, [], template.delimiter, anchor)
    if kind is _LIST and len(children) == 2 and _is_ellipsis(children[0]):
        return _subst(children[1], {k: v for k, v in env.items() if not isinstance(v, _Seq)}, anchor)  # (... ...)
    out: list = []
    i = 0
    while i < len(children):
        child = children[i]
        if child.kind is _DOT and i + 1 < len(children):
            rest = _subst(children[i + 1], env, anchor)
            if rest.kind is _LIST and rest.delimiter != "{":
                out.extend(rest.children)  # (a . rest) with rest a list: spliced
            else:
                out.append(child)
                out.append(rest)
            break
        j = i + 1
        depth = 0
        while j < len(children) and _is_ellipsis(children[j]):
            depth += 1
            j += 1
        if depth:
            out.extend(_subst_repeated(child, env, anchor, depth))
        else:
            out.append(_subst(child, env, anchor))
        i = j
    return TemplateNode(kind, template.value, template.text, out, template.delimiter, anchor)


def _subst_repeated(template, env: dict, anchor, depth: int) -> list:
    names = [n for n in _pattern_vars(template, (), []) if isinstance(env.get(n), _Seq)]
    if not names:
        raise _NoExpansion
    count = min(len(env[n]) for n in names)
    out: list = []
    for k in range(count):
        inner = dict(env)
        for n in names:
            inner[n] = env[n][k]
        if depth > 1:
            out.extend(_subst_repeated(template, inner, anchor, depth - 1))
        else:
            out.append(_subst(template, inner, anchor))
    return out


@dataclass(slots=True)
class _Clause:
    pattern: list  # the pattern's items after the macro keyword
    keyword: str | None  # a pattern variable in the keyword position: bound to the use's head
    fender: object | None  # the clause's guard expression
    template: object | None  # None: this clause computes its output (we cannot expand it)
    generated: list = field(default_factory=list)  # (variable, parts) of with-syntax made identifiers


@dataclass(slots=True)
class Plan:
    literals: frozenset
    clauses: list[_Clause]


def plan_of(form) -> Plan | None:
    """How to expand a macro definition form; None when it is procedural beyond our reach."""
    head = form.head
    kids = form.children
    if head in ("defrule", "define-syntax-rule"):
        if len(kids) >= 3 and kids[1].kind is _LIST and kids[1].children:
            return Plan(frozenset(), [_clause(kids[1], None, kids[-1], [])])
        return None
    if head in ("defrules", "define-rules", "defrules*") and len(kids) >= 3:
        return _rules_plan(kids[2], kids[3:], syntax_case=False)
    if head in ("defsyntax", "define-syntax") and len(kids) >= 3:
        if kids[1].kind is _SYMBOL:
            return transformer_plan(kids[-1])
        body = kids[-1]
        if body.head == "syntax-case" and len(body.children) >= 3:
            return _rules_plan(body.children[2], body.children[3:], syntax_case=True)
    return None


def transformer_plan(expr) -> Plan | None:
    """A transformer expression: ``(syntax-rules ...)``, or a ``lambda`` ending in ``syntax-case``."""
    head = expr.head
    if head == "syntax-rules" and len(expr.children) >= 2:
        return _rules_plan(expr.children[1], expr.children[2:], syntax_case=False)
    if head in ("lambda", "λ") and len(expr.children) >= 3:
        body = expr.children[-1]
        if body.head == "syntax-case" and len(body.children) >= 3:
            return _rules_plan(body.children[2], body.children[3:], syntax_case=True)
    return None


def _rules_plan(literals, clauses, *, syntax_case: bool) -> Plan | None:
    if literals.kind is not _LIST:
        return None
    lits = frozenset(c.value for c in literals.children if c.kind is _SYMBOL)
    out = []
    for clause in clauses:
        parts = clause.children
        if clause.kind is not _LIST or len(parts) not in (2, 3):
            continue
        if parts[0].kind is not _LIST or not parts[0].children:
            continue  # an identifier macro clause: not a call form
        generated: list = []
        template = _case_template(parts[-1], generated) if syntax_case else parts[-1]
        out.append(_clause(parts[0], parts[1] if len(parts) == 3 else None, template, generated))
    return Plan(lits, out) if out else None


def _clause(pattern, fender, template, generated: list) -> _Clause:
    keyword = pattern.children[0]
    name = keyword.value if keyword.kind is _SYMBOL and keyword.value != "_" else None
    return _Clause(pattern.children[1:], name, fender, template, generated)


def _case_template(body, generated: list):
    """The ``#'template`` a syntax-case clause returns, through ``with-syntax`` bindings."""
    while True:
        if body.kind is _QUOTE and body.delimiter == "#'" and body.children:
            return body.children[0]
        head = body.head
        if head in ("with-syntax", "with-syntax*") and len(body.children) >= 3 and body.children[1].kind is _LIST:
            for binding in body.children[1].children:
                if binding.kind is _LIST and len(binding.children) == 2:
                    generated.append((binding.children[0], binding.children[1]))
            body = body.children[-1]
            continue
        return None


_SYNTAX_PREDICATES = {
    "identifier?": lambda n: n.kind is _SYMBOL,
    "stx-string?": lambda n: n.kind is _STRING,
    "stx-keyword?": lambda n: n.kind is _KEYWORD,
    "stx-pair?": lambda n: n.kind is _LIST and bool(n.children),
    "stx-null?": lambda n: n.kind is _LIST and not n.children,
    "stx-list?": lambda n: n.kind is _LIST,
    "identifier-list?": lambda n: n.kind is _LIST and all(c.kind is _SYMBOL for c in n.children),
    "stx-fixnum?": lambda n: n.kind is NodeKind.NUMBER and isinstance(n.value, int),
}


def _fender(expr, env: dict) -> bool | None:
    """A clause guard of syntax predicates on pattern variables, evaluated; None when beyond us."""
    head = expr.head if expr.kind is _LIST else None
    args = expr.children[1:] if head else ()
    if head in ("and", "or") and args:
        verdicts = [_fender(a, env) for a in args]
        if head == "and":
            return False if False in verdicts else (None if None in verdicts else True)
        return True if True in verdicts else (None if None in verdicts else False)
    if head == "not" and len(args) == 1:
        verdict = _fender(args[0], env)
        return None if verdict is None else not verdict
    test = _SYNTAX_PREDICATES.get(head)
    if test is not None and len(args) == 1:
        arg = args[0]
        if arg.kind is _QUOTE and arg.delimiter == "#'" and arg.children and arg.children[0].kind is _SYMBOL:
            value = env.get(arg.children[0].value)
            if value is not None and not isinstance(value, _Seq):
                return test(value)
    return None


def _identifier_name(expr, env: dict, plain: frozenset = frozenset()) -> str | None:
    """The name an identifier-making expression gives, if we can say.

    ``(stx-identifier ctx part ...)``, ``(format-id ctx "fmt" arg ...)``, and the unhygienic
    ``(syntax-local-introduce 'name)`` / ``(datum->syntax ctx 'name)``.  ``plain`` are the
    variables (of an enclosing ``lambda``) that hold syntax themselves.
    """
    head = expr.head
    args = expr.children[2:]
    parts: list[str] = []

    def text(node) -> str | None:
        if node.kind is _STRING:
            return node.value
        if node.kind is _SYMBOL and node.value in plain:
            bound = env.get(node.value)
            return bound.value if bound is not None and getattr(bound, "kind", None) is _SYMBOL else None
        if node.kind is _QUOTE and node.children and node.children[0].kind is _SYMBOL:
            inner = node.children[0]
            if node.delimiter == "'":
                return inner.value
            bound = env.get(inner.value) if node.delimiter == "#'" else None
            return bound.value if bound is not None and getattr(bound, "kind", None) is _SYMBOL else None
        if node.head == "stx-e" and len(node.children) == 2:
            return text(node.children[1])
        return None

    if head == "syntax-local-introduce" and len(expr.children) == 2:
        return text(expr.children[1])
    if head == "datum->syntax" and len(expr.children) == 3:
        return text(expr.children[2])
    if head == "stx-identifier":
        for arg in args:
            value = text(arg)
            if value is None:
                return None
            parts.append(value)
        return "".join(parts) or None
    if head == "format-id" and args and args[0].kind is _STRING:
        values = [text(arg) for arg in args[1:]]
        if None in values:
            return None
        return format_id(args[0].value, values)
    return None


def expand(use, plan: Plan):
    """The expansion of ``use``; None when no clause applies or the clause is beyond us."""
    args = use.children[1:]
    clauses = plan.clauses
    for i, clause in enumerate(clauses):
        env: dict = {}
        if not _match_items(clause.pattern, args, plan.literals, env, use):
            continue
        if clause.fender is not None:
            verdict = _fender(clause.fender, env)
            if verdict is False:
                continue
            if verdict is None and any(_match_items(c.pattern, args, plan.literals, {}, use)
                                       for c in clauses[i + 1:]):
                return None  # a guard we cannot evaluate picks between clauses
        if clause.template is None:
            return None
        if clause.keyword is not None:
            env[clause.keyword] = use.children[0]
        for var, expr in clause.generated:
            if var.kind is not _SYMBOL:
                made = _generated_names(var, expr, env, use)
                for name in _pattern_vars(var, (), []):
                    env[name] = made  # None: bound to something computed, unusable in a template
                continue
            if expr.kind is _QUOTE and expr.delimiter == "#'" and expr.children:
                try:
                    env[var.value] = _subst(expr.children[0], env, use)
                except _NoExpansion:
                    env[var.value] = None
                continue
            name = _identifier_name(expr, env) if expr.kind is _LIST else None
            env[var.value] = TemplateNode(_SYMBOL, name or "%%computed", name or "%%computed", [], "", use)
        try:
            return _subst(clause.template, env, use)
        except (_NoExpansion, RecursionError):
            return None
    return None


def _generated_names(var, expr, env: dict, anchor) -> _Seq | None:
    """``((v ...) (stx-map (lambda (x) (stx-identifier x ...)) #'(w ...)))``: one made name per ``w``."""
    kids = var.children
    if not (var.kind is _LIST and len(kids) == 2 and kids[0].kind is _SYMBOL and _is_ellipsis(kids[1])):
        return None
    if expr.head not in ("stx-map", "map") or len(expr.children) != 3:
        return None
    fn, source = expr.children[1], expr.children[2]
    if fn.head not in ("lambda", "λ") or len(fn.children) != 3 or fn.children[1].kind is not _LIST:
        return None
    formals = fn.children[1].children
    if len(formals) != 1 or formals[0].kind is not _SYMBOL:
        return None
    if not (source.kind is _QUOTE and source.delimiter == "#'" and source.children):
        return None
    listed = source.children[0]
    if not (listed.kind is _LIST and len(listed.children) == 2 and listed.children[0].kind is _SYMBOL
            and _is_ellipsis(listed.children[1])):
        return None
    items = env.get(listed.children[0].value)
    if not isinstance(items, _Seq) or fn.children[2].kind is not _LIST:
        return None
    param = formals[0].value
    out = _Seq()
    for item in items:
        name = _identifier_name(fn.children[2], {**env, param: item}, frozenset((param,)))
        if name is None:
            return None
        out.append(TemplateNode(_SYMBOL, name, name, [], "", anchor))
    return out


def top_forms(node) -> list:
    """The forms a template or an expansion puts at top level: itself, or a ``begin``'s children (nested)."""
    out = []
    todo = [node]
    while todo:
        n = todo.pop()
        if n.kind is _LIST and n.head == "begin":
            todo.extend(reversed(n.children[1:]))
        else:
            out.append(n)
    return out


def _with_id_specs_at(kids: list) -> int:
    """Where ``(with-id [ctx] (spec ...) body ...)`` has its specs; the body follows them."""
    return 1 if len(kids) > 1 and kids[1].kind is _LIST else 2


def with_id_body(form) -> list:
    """The body forms of a ``with-id``, as written (no names put in)."""
    return form.children[_with_id_specs_at(form.children) + 1:]


def with_id(form, anchor) -> object | None:
    """``(with-id ctx ((id "part" #'x ...) ...) body ...)`` with the made names put in."""
    kids = form.children
    at = _with_id_specs_at(kids)
    if len(kids) <= at + 1 or kids[at].kind is not _LIST:
        return None
    env: dict = {}
    for spec in kids[at].children:
        if spec.kind is _SYMBOL:
            env[spec.value] = TemplateNode(_SYMBOL, spec.value, spec.value, [], "", anchor)
            continue
        if spec.kind is not _LIST or not spec.children or spec.children[0].kind is not _SYMBOL:
            return None
        parts = []
        for part in spec.children[1:] or [spec.children[0]]:
            if part.kind is _STRING:
                parts.append(part.value)
            elif part.kind is _SYMBOL:
                parts.append(part.value)
            elif part.kind is _QUOTE and part.children and part.children[0].kind is _SYMBOL:
                parts.append(part.children[0].value)
            else:
                return None
        name = "".join(parts)
        env[spec.children[0].value] = TemplateNode(_SYMBOL, name, name, [], "", anchor)
    body = kids[at + 1:]
    try:
        return [_subst_plain(b, env, anchor) for b in body]
    except _NoExpansion:
        return None


def _subst_plain(node, env: dict, anchor):
    try:
        return _subst_plain_deep(node, env, anchor)
    except RecursionError:
        raise _NoExpansion from None


def _subst_plain_deep(node, env: dict, anchor):
    """Replace symbols by ``env`` values, keeping every other node (no template semantics)."""
    if node.kind is _SYMBOL:
        return env.get(node.value, node)
    if not node.children:
        return node
    return TemplateNode(node.kind, node.value, node.text, [_subst_plain_deep(c, env, anchor) for c in node.children],
              node.delimiter, node if isinstance(node, Node) else anchor)
