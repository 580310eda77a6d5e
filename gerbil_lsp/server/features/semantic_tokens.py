"""textDocument/semanticTokens (full and range): what each name in the code is, for the editor's colours.

Scheme grammars know Scheme's special forms; Gerbil's (``def``, ``defstruct``,
``match``, ``using``...) and the file's own macros look like any call to them.
The server knows better: each symbol of code (quoted data left out) is coloured
by what it is bound to, as completion and hover see it:

* ``keyword``: the prelude's syntax (``def``, ``lambda``, ``match``...) and its
  own words (``...``, ``_``, ``else``, ``=>``, ``<>``);
* ``macro``: any other macro (a library's ``for``, the file's own ``defrules``);
* ``function``, ``variable``, ``class`` (a ``defstruct``/``defclass`` type): by
  what the file, its imports or the prelude define;
* ``variable`` also for a name bound inside the form (a parameter, a ``let``);
* ``namespace``: a module in ``import``/``export`` (``:std/iter``, ``./util``);
* ``method``: the method of a call ``{area shape}`` and of a ``(defmethod {area circle} ...)``.

Modifiers: ``declaration`` where the file defines the name, ``defaultLibrary``
for names of the prelude and Gerbil's own libraries. Unbound names get no token
(their diagnostic says enough).
"""

from __future__ import annotations

from lsprotocol import types

from gerbil_lsp.core.index import Symbol
from gerbil_lsp.core.index.symindex import PRELUDE_MODULE
from gerbil_lsp.core.reader import SYMBOL, LineIndex, Node
from gerbil_lsp.server.analysis import Analysis, top_units
from gerbil_lsp.server.features.implementation import called_method
from gerbil_lsp.server.occurrences import home_of, locally_bound, symbols_named

TOKEN_TYPES = ["namespace", "class", "variable", "function", "macro", "keyword", "method"]
TOKEN_MODIFIERS = ["declaration", "defaultLibrary"]
LEGEND = types.SemanticTokensLegend(token_types=TOKEN_TYPES, token_modifiers=TOKEN_MODIFIERS)

NAMESPACE, CLASS, VARIABLE, FUNCTION, MACRO, KEYWORD, METHOD = range(len(TOKEN_TYPES))
DECLARATION, DEFAULT_LIBRARY = 1, 2
_BY_KIND = {"procedure": FUNCTION, "method": FUNCTION, "extern": FUNCTION, "ffi": FUNCTION, "macro": MACRO,
            "syntax": MACRO, "struct": CLASS, "class": CLASS}
_LIBRARIES = (":gerbil/", ":std/", ":scheme/", ":srfi/")
_MODULE_FORMS = frozenset(("import", "export"))
_AUXILIARY = frozenset(("_", "...", "<>", "<...>", "else", "=>"))  # syntax's own words: patterns, cut, cond


def token_of(symbol: Symbol) -> tuple[int, int]:
    """(type, modifiers) of a name the prelude or an import gives."""
    home = home_of(symbol)  # the prelude's own modules are :gerbil/core/...
    if symbol.kind in ("macro", "syntax") and home.startswith(PRELUDE_MODULE):
        return KEYWORD, DEFAULT_LIBRARY
    return _BY_KIND.get(symbol.kind, VARIABLE), DEFAULT_LIBRARY if home.startswith(_LIBRARIES) else 0


def tokens(analysis: Analysis, first_line: int = 0, last_line: int | None = None) -> list[int]:
    """The encoded tokens of the top-level forms over lines ``first_line`` to ``last_line``."""
    found: list[tuple[int, int, int, int, int]] = []  # line, character, length, type, modifiers
    definitions = analysis.definitions
    visible = analysis.visible
    lines = analysis.result.lines
    for unit in top_units(analysis):
        line, _, end_line, _ = unit.line_columns()
        if end_line < first_line or (last_line is not None and line > last_line):
            continue
        if unit.head in _MODULE_FORMS:
            _modules(unit, lines, found)
        local = locally_bound(analysis, unit)
        methods = _method_names(unit) if analysis.result.text.find("{", unit.start, unit.end) >= 0 else ()
        for node in symbols_named(unit, None):
            name = node.value
            modifiers = 0
            if id(node) in methods:
                kind = METHOD
            elif name in _AUXILIARY:
                kind, modifiers = KEYWORD, DEFAULT_LIBRARY
            elif name in local:
                kind = VARIABLE
            elif name in definitions:
                definition = definitions[name]
                kind = _BY_KIND.get(definition.kind, VARIABLE)
                if lines.position(node.start) == (definition.line, definition.character):
                    modifiers = DECLARATION
            elif name in visible:
                kind, modifiers = token_of(visible[name])
            else:
                continue
            _add(node, lines, kind, modifiers, found)
    return _encoded(sorted(found))


def _method_names(unit: Node) -> set[int]:
    """The ids of the method names in ``unit``: the heads of its ``{...}`` lists."""
    out = set()
    stack = [unit]
    while stack:
        node = stack.pop()
        method = called_method(node)
        if method is not None:
            out.add(id(method))
        stack.extend(node.children)
    return out


def _modules(form: Node, lines: LineIndex, found: list) -> None:
    """Module names in an import or export form (``:std/iter``, ``./util``), at any depth of its specs."""
    stack = list(form.children[1:])
    while stack:
        node = stack.pop()
        if node.children:
            stack.extend(node.children)
        elif node.kind is SYMBOL and node.value.startswith((":", "./", "../")):
            _add(node, lines, NAMESPACE, 0, found)


def _add(node: Node, lines: LineIndex, kind: int, modifiers: int, found: list) -> None:
    if "\n" not in node.text and "\r" not in node.text:  # a token is on one line (not so a |multi-line| symbol)
        found.append((*lines.position(node.start), lines.utf16_len(node.start, node.end), kind, modifiers))


def _encoded(found: list[tuple[int, int, int, int, int]]) -> list[int]:
    """LSP's relative encoding: each token's line and start from the one before."""
    data: list[int] = []
    last_line = last_character = 0
    for line, character, length, kind, modifiers in found:
        delta_line = line - last_line
        data += (delta_line, character - last_character if delta_line == 0 else character, length, kind, modifiers)
        last_line, last_character = line, character
    return data


def register(server) -> None:
    @server.feature(types.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL, LEGEND)
    def semantic_tokens_full(params: types.SemanticTokensParams) -> types.SemanticTokens | None:
        analysis = server.analysis(params.text_document.uri)
        return None if analysis is None else types.SemanticTokens(data=tokens(analysis))

    @server.feature(types.TEXT_DOCUMENT_SEMANTIC_TOKENS_RANGE, LEGEND)
    def semantic_tokens_range(params: types.SemanticTokensRangeParams) -> types.SemanticTokens | None:
        analysis = server.analysis(params.text_document.uri)
        if analysis is None:
            return None
        return types.SemanticTokens(data=tokens(analysis, params.range.start.line, params.range.end.line))
