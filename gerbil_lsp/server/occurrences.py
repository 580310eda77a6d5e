"""Where a binding is used: the shared ground of references, highlights and rename.

A *target* is what the symbol under the cursor means: a name bound inside one
top-level form (``local``), a top-level definition of a file that is no module
(``file``), or a module's export (``module``, named by the module that defines
it, through re-exports). Uses are found per top-level form ("unit"), by name:

* a local target's uses are the symbols of that name in its unit;
* a module target's uses, in a file that defines it or imports it, are the
  symbols of every name the file sees it under, in units that do not bind the
  name themselves. A unit that does (``(let ((price-of 1)) ...)``) may mean
  either binding there: its uses are reported apart, as ``shadowed``, because
  the analysis is not scope-exact (see :mod:`~gerbil_lsp.server.analysis`).

Quoted data (``'name``, the literal parts of a quasiquote, ``case`` datums and
``hash`` keys) is never a use; syntax templates (``#'name``) are, as Gerbil's
hygiene makes them.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from gerbil_lsp.core.index import Symbol, SymbolIndex
from gerbil_lsp.core.index.symindex import PRELUDE_MODULE
from gerbil_lsp.core.reader import LIST, QUOTE, SYMBOL, Node
from gerbil_lsp.server.analysis import Analysis, analyze, bound_in, top_units

LOCAL, FILE, MODULE = "local", "file", "module"
_DATA_QUOTES = frozenset(("'", "#&"))  # quoted data and boxes: nothing inside is a use
_UNQUOTES = frozenset((",", ",@"))
_DATA_CLAUSES = frozenset(("case", "ecase", "hash", "hash-eq", "hash-eqv"))
# what may stand before or after a symbol (a regex class body): space, brackets, quotes, ``,@``, bars, ``;``
_DELIMITERS = r"\s()\[\]{}'`,@;\"|"


class SearchedFile(NamedTuple):
    """A file on disk to look in."""

    uri: str
    text: str
    path: str | None


@dataclass(frozen=True)
class Target:
    """What a symbol means. ``name`` is the binding's own name (an import may show it under another)."""

    name: str
    scope: str  # LOCAL | FILE | MODULE
    uri: str  # the file the cursor is in
    module: str | None = None  # MODULE: the module that defines it
    unit: tuple[int, int] | None = None  # LOCAL: the top-level form it is bound in (offsets)


@dataclass
class Uses:
    """One file's uses of a target."""

    uri: str
    analysis: Analysis
    version: int | None = None  # the editor's version of the text searched (None: a file on disk)
    nodes: list[Node] = field(default_factory=list)
    shadowed: list[Node] = field(default_factory=list)  # in a form that also binds the name
    aliases: set[str] = field(default_factory=set)  # names other than the target's that it is seen under
    units: list[Node] = field(default_factory=list)  # the top-level forms the uses are in


def symbols_named(node: Node, names: set[str] | frozenset[str] | None) -> Iterator[Node]:
    """The symbols under ``node`` whose name is in ``names`` (None: all of them), quoted data left out."""
    stack: list[tuple[Node, int]] = [(node, 0)]
    while stack:
        sub, quasi = stack.pop()
        kind = sub.kind
        if kind is SYMBOL:
            if quasi == 0 and (names is None or sub.value in names):
                yield sub
        elif kind is QUOTE:
            prefix = sub.delimiter
            if prefix in _DATA_QUOTES:
                continue
            depth = quasi + 1 if prefix == "`" else max(quasi - 1, 0) if prefix in _UNQUOTES else quasi
            stack.extend((child, depth) for child in reversed(sub.children))
        elif kind is LIST and sub.head in _DATA_CLAUSES and quasi == 0:
            # (case key ((datum ...) body ...) ...), (hash (key value) ...): datums and keys are data
            evaluated = sub.children[1:2] if sub.head in ("case", "ecase") else []
            for clause in sub.children[len(evaluated) + 1:]:
                evaluated.extend(clause.children[1:] if clause.kind is LIST else ())
            stack.extend((child, 0) for child in reversed(evaluated))
        elif sub.children and not (kind is LIST and sub.head == "quote"):
            stack.extend((child, quasi) for child in reversed(sub.children))


def unit_at(analysis: Analysis, offset: int) -> Node | None:
    for unit in top_units(analysis):
        if unit.start <= offset < unit.end or offset == unit.end:
            return unit
    return None


def locally_bound(analysis: Analysis, unit: Node) -> set[str]:
    """Names some form inside the top-level form ``unit`` binds (its own top-level names left out); kept per unit."""
    bound = analysis.bound_by_unit.get(unit.start)
    if bound is None:
        bound = analysis.bound_by_unit[unit.start] = bound_in(analysis, unit, defined_in(analysis, unit))
    return bound


def defined_in(analysis: Analysis, unit: Node) -> set[str]:
    """The top-level names ``unit`` defines (its definitions' positions lie inside it)."""
    starts = analysis.definition_starts
    return {name for _, name in starts[bisect_left(starts, (unit.start,)):bisect_left(starts, (unit.end,))]}


def home_of(symbol: Symbol) -> str:
    """The module that defines ``symbol`` (through re-exports; the prelude's own module for its names)."""
    return symbol.origin or symbol.module or PRELUDE_MODULE


def module_of(analysis: Analysis) -> str | None:
    """The module the file is, when the index knows it (a workspace or library module)."""
    return analysis.index.module_for_path(analysis.path) if analysis.path else None


def target_at(analysis: Analysis, node: Node) -> Target | None:
    """What the symbol ``node`` means in ``analysis``; None for names the server cannot place."""
    if node.kind is not SYMBOL or "#" in node.value:
        return None  # ##car, gx#name: Gambit globals, outside the module system
    name = node.value
    unit = unit_at(analysis, node.start)
    if unit is not None and name in locally_bound(analysis, unit):
        return Target(name, LOCAL, analysis.uri, unit=(unit.start, unit.end))
    if name in analysis.top_level:
        module = module_of(analysis)
        return Target(name, MODULE if module else FILE, analysis.uri, module=module)
    symbol = analysis.resolve(name)
    if symbol is None:
        return None
    return Target(symbol.name, MODULE, analysis.uri, module=home_of(symbol))


def defines(analysis: Analysis, target: Target) -> bool:
    """Whether ``analysis``'s file is where ``target`` is defined at top level."""
    if target.scope == LOCAL or target.name not in analysis.definitions:
        return False
    return module_of(analysis) == target.module if target.scope == MODULE else analysis.uri == target.uri


def names_for(analysis: Analysis, target: Target) -> set[str]:
    """The names under which ``analysis``'s file sees ``target`` (none: it does not)."""
    if target.scope != MODULE:
        return {target.name} if analysis.uri == target.uri else set()
    if module_of(analysis) == target.module:
        return {target.name}
    names = set()
    for visible, symbol in analysis.visible.items():
        if symbol.name == target.name and home_of(symbol) == target.module:
            names.add(visible)
    return names - analysis.top_level  # the file's own definition shadows the import


def uses_in(analysis: Analysis, target: Target, version: int | None = None) -> Uses:
    """Every use of ``target`` in one file (see the module docstring)."""
    uses = Uses(analysis.uri, analysis, version)
    if target.scope == LOCAL:
        if analysis.uri == target.uri:
            unit = unit_at(analysis, target.unit[0])
            if unit is not None:
                uses.nodes.extend(symbols_named(unit, {target.name}))
                uses.units.append(unit)
        return uses
    names = names_for(analysis, target)
    uses.aliases = names - {target.name}
    if not names:
        return uses
    for unit in top_units(analysis):
        found = list(symbols_named(unit, names))
        if not found:
            continue
        uses.units.append(unit)
        local = locally_bound(analysis, unit)
        for node in found:
            (uses.shadowed if node.value in local else uses.nodes).append(node)
    return uses


def spelled_in(name: str) -> Callable[[str], bool]:
    """A test for texts that may use ``name``: those that spell it as a whole symbol.

    Analysing a file is what a search costs; ``error`` or ``-`` is inside other names
    in nearly every file (``raise-io-error``, ``string->list``). An alias made by
    ``prefix-in`` spells the name inside a longer symbol, so a file with a ``prefix-in``
    only needs to contain it; one made by ``rename-in`` is declared by a whole use of it.
    """
    whole = re.compile(rf"(?<![^{_DELIMITERS}]){re.escape(name)}(?![^{_DELIMITERS}])")

    def may_use(text: str) -> bool:
        return name in text and ("prefix-in" in text or whole.search(text) is not None)

    return may_use


def uses_in_files(index: SymbolIndex, target: Target, files: Iterable[SearchedFile]) -> list[Uses]:
    """Uses of ``target`` in each file that has any (:func:`spelled_in` says which to read). Runs on a worker thread."""
    may_use = spelled_in(target.name)
    out = []
    for uri, text, path in files:
        if not may_use(text):
            continue
        uses = uses_in(analyze(text, uri, index, path=path), target)
        if uses.nodes or uses.shadowed:
            out.append(uses)
    return out
