"""Call hierarchy through a real `gerbil-lsp serve` process (pytest-lsp): prepare, incoming and outgoing calls.

The project ``(package: shop)``: ``util.ss`` defines ``price-of`` and a macro,
``main.ss`` (on disk only where callers are asked for) calls ``price-of`` from procedures, passes
it as a value, shadows it in one form and calls it at top level. The index is
built from the test Gerbil tree, so the prelude's procedures have source files.
"""

from __future__ import annotations

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.server.test_workspace_modules import published, shop

UTIL = """(import :gerbil/core)
(export price-of total-of with-tax)

(def (price-of item qty)
  (* qty (unit-price item)))

(def (unit-price item) 2)

(defrules with-tax ()
  ((_ body) (* 2 body)))

(def (total-of items)
  (with-tax (+ (price-of (car items) 1) (length items))))
"""

MAIN = """(import :gerbil/core ./util)

(def (checkout items)
  (displayln (total-of items))
  (price-of (car items) 2))

(def (price-list items)
  (list price-of items))

(def (not-ours price-of)
  (price-of 1 2))

(price-of 'sample 1)
"""


@pytest.fixture
def project(tmp_path):
    return shop(tmp_path, UTIL, MAIN)


def at(uri: str, line: int, character: int) -> types.CallHierarchyPrepareParams:
    return types.CallHierarchyPrepareParams(text_document=types.TextDocumentIdentifier(uri=uri),
                                            position=types.Position(line=line, character=character))


def lines_of(ranges: list[types.Range]) -> list[tuple[int, int]]:
    return [(r.start.line, r.start.character) for r in ranges]


async def open_file(client: LanguageClient, project, name: str, text: str) -> str:
    """The server started on the project, with ``name`` open and published clean.

    (Clean may come before the workspace scan ends: a file whose imports are not known yet gets no
    unbound name. The call hierarchy's requests wait for the scan themselves.)
    """
    await client.initialize_session(types.InitializeParams(
        capabilities=types.ClientCapabilities(), root_uri=project.as_uri(),
        initialization_options={"diagnostics": {"debounce_ms": 0},
                                "index": {"path": str(project.parent / "index.json.gz")}}))
    uri = (project / name).as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="gerbil", version=1, text=text)))
    while await published(client):
        if uri in client.diagnostics and not client.diagnostics[uri]:
            return uri
    raise AssertionError(f"{name} never came clean: {client.diagnostics.get(uri)}")


async def test_who_calls_a_procedure_across_the_workspace(client: LanguageClient, project):
    util = await open_file(client, project, "util.ss", UTIL)
    (item,) = await client.text_document_prepare_call_hierarchy_async(at(util, 3, 8))
    assert (item.name, item.kind, item.uri) == ("price-of", types.SymbolKind.Function, util)
    assert (item.range.start.line, item.range.end.line) == (3, 4)  # the whole definition
    assert lines_of([item.selection_range]) == [(3, 6)] and item.detail == "(price-of item qty)"

    calls = await client.call_hierarchy_incoming_calls_async(types.CallHierarchyIncomingCallsParams(item=item))
    found = {(c.from_.name, c.from_.uri.rsplit("/", 1)[-1]): lines_of(c.from_ranges) for c in calls}
    assert found == {
        ("total-of", "util.ss"): [(12, 16)],
        ("checkout", "main.ss"): [(4, 3)],
        ("price-list", "main.ss"): [(7, 8)],  # passed on as a value: called wherever it goes
        ("main.ss", "main.ss"): [(12, 1)],  # a top-level expression: the file calls it
    }  # not-ours binds price-of itself: its call means that binding
    caller = next(c.from_ for c in calls if c.from_.name == "checkout")
    assert caller.kind == types.SymbolKind.Function and (caller.range.start.line, caller.range.end.line) == (2, 4)
    assert lines_of([caller.selection_range]) == [(2, 6)]


async def test_a_call_site_prepares_the_definition_it_calls(client: LanguageClient, project):
    uri = await open_file(client, project, "main.ss", MAIN)
    (item,) = await client.text_document_prepare_call_hierarchy_async(at(uri, 4, 5))  # (price-of (car items) 2)
    assert item.name == "price-of" and item.uri == (project / "util.ss").as_uri()
    assert lines_of([item.selection_range]) == [(3, 6)]
    # a name bound in the form, quoted data and core syntax are no procedures to follow
    for line, character in ((2, 16), (12, 11), (2, 2)):
        assert await client.text_document_prepare_call_hierarchy_async(at(uri, line, character)) is None


async def test_what_a_procedure_calls(client: LanguageClient, project):
    util = await open_file(client, project, "util.ss", UTIL)
    (item,) = await client.text_document_prepare_call_hierarchy_async(at(util, 11, 8))
    assert item.name == "total-of"
    calls = await client.call_hierarchy_outgoing_calls_async(types.CallHierarchyOutgoingCallsParams(item=item))
    found = [(c.to.name, c.to.uri.rsplit("/", 1)[-1], lines_of(c.from_ranges)) for c in calls]
    # in the order first called: the workspace's macro is, the prelude's syntax (def) is not; the
    # prelude's procedures are, where the index has their source; ``items`` is bound here
    assert found == [("with-tax", "util.ss", [(12, 3)]), ("+", "runtime.ss", [(12, 13)]),
                     ("price-of", "util.ss", [(12, 16)]), ("car", "runtime.ss", [(12, 26)]),
                     ("length", "runtime.ss", [(12, 41)])]

    # expanding a callee asks for its calls in turn: price-of calls unit-price (not exported), and *
    (price,) = [c.to for c in calls if c.to.name == "price-of"]
    deeper = await client.call_hierarchy_outgoing_calls_async(types.CallHierarchyOutgoingCallsParams(item=price))
    assert [(c.to.name, lines_of(c.from_ranges)) for c in deeper] == [("*", [(4, 3)]), ("unit-price", [(4, 10)])]
