"""References, highlights and rename through a real `gerbil-lsp serve` process (pytest-lsp).

A small project written for these tests: ``(package: shop)``; ``util.ss`` defines
and exports ``price-of`` and uses it; ``main.ss`` imports ``./util`` and uses it.
Unless a test opens it, util.ss is searched on disk. The index (built from the test
Gerbil tree) knows nothing of the project: the workspace scan teaches it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from tests.edits import applied
from tests.server.test_workspace_modules import shop

UTIL = """(import :gerbil/core)
(export price-of with-tax)

(def (price-of item qty)
  (* qty 2))

(def (with-tax p)
  (let ((rate 2))
    (* p rate (price-of p 1))))

(def (label) '(price-of is data))
(defstruct basket (items))
"""
MAIN = """(import :gerbil/core ./util)

(def (total item)
  (price-of item 3))

(def (gross item)
  (with-tax (total item)))
"""


@pytest.fixture
def project(tmp_path) -> Path:
    return shop(tmp_path, UTIL, MAIN)


async def start(client: LanguageClient, root: Path, document_changes: bool = False, main: str = MAIN) -> str:
    capabilities = types.ClientCapabilities(workspace=types.WorkspaceClientCapabilities(
        workspace_edit=types.WorkspaceEditClientCapabilities(document_changes=document_changes)))
    await client.initialize_session(types.InitializeParams(
        capabilities=capabilities, root_uri=root.as_uri(),
        initialization_options={"diagnostics": {"debounce_ms": 0},
                                "index": {"path": str(root.parent / "index.json.gz")}}))
    uri = (root / "main.ss").as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="gerbil", version=1, text=main)))
    await scanned(client, uri)
    return uri


async def scanned(client: LanguageClient, main: str, seconds: float = 10.0) -> None:
    """Wait for the workspace scan: until main.ss's use of price-of (line 4) resolves to :shop/util."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        hover = await client.text_document_hover_async(types.HoverParams(**at(main, 3, 5)))
        if hover is not None and ":shop/util" in hover.contents.value:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the workspace scan never taught the index :shop/util")


def at(uri: str, line: int, character: int) -> dict:
    return {"text_document": types.TextDocumentIdentifier(uri=uri),
            "position": types.Position(line=line, character=character)}


def places(locations) -> list[tuple[str, int, int, int]]:
    return sorted((Path(loc.uri).name if "://" not in loc.uri else loc.uri.rsplit("/", 1)[1],
                   loc.range.start.line, loc.range.start.character, loc.range.end.character) for loc in locations)


async def test_references_find_the_export_across_the_workspace_but_not_in_quoted_data(client, project):
    uri = await start(client, project)
    found = await client.text_document_references_async(types.ReferenceParams(
        context=types.ReferenceContext(include_declaration=True), **at(uri, 3, 4)))
    assert places(found) == [("main.ss", 3, 3, 11),  # the use in main.ss
                             ("util.ss", 1, 8, 16),  # (export price-of ...)
                             ("util.ss", 3, 6, 14),  # its definition
                             ("util.ss", 8, 15, 23)]  # the use in with-tax; '(price-of is data) is not one
    without = await client.text_document_references_async(types.ReferenceParams(
        context=types.ReferenceContext(include_declaration=False), **at(uri, 3, 4)))
    assert ("util.ss", 3, 6, 14) not in places(without) and len(without) == 3


async def test_a_search_through_many_files_shows_progress_in_the_editor(client, project):
    for n in range(60):
        (project / f"part{n}.ss").write_text(f"(import ./util)\n(export part-{n})\n(def (part-{n} x) (price-of x {n}))\n")
    await client.initialize_session(types.InitializeParams(
        capabilities=types.ClientCapabilities(window=types.WindowClientCapabilities(work_done_progress=True)),
        root_uri=project.as_uri(),
        initialization_options={"index": {"path": str(project.parent / "index.json.gz")}}))
    uri = (project / "main.ss").as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="gerbil", version=1, text=MAIN)))
    await scanned(client, uri)
    found = await client.text_document_references_async(types.ReferenceParams(
        context=types.ReferenceContext(include_declaration=True), **at(uri, 3, 4)))
    assert len([place for place in places(found) if place[0].startswith("part")]) == 60
    (steps,) = [steps for steps in client.progress_reports.values()
                if steps and steps[0].title == "gerbil-lsp: searching the workspace"]
    # on disk: util.ss and the 60 parts (main.ss is open: its editor text is searched, not the file)
    assert steps[0].message == "0/61 files"
    assert isinstance(steps[-1], types.WorkDoneProgressEnd) and steps[-1].message == "61 files"
    shown = [step.percentage for step in steps[1:-1]]
    assert shown == sorted(shown) and shown[-1] == 100 and len(shown) <= 21  # a report per 5%, not per file


async def test_the_preludes_syntax_gets_no_references_but_its_procedures_do(client, project):
    """``def`` is used by every file: like a keyword, it is not searched for; ``*`` is a procedure, and is."""
    uri = await start(client, project)
    keyword = await client.text_document_references_async(types.ReferenceParams(
        context=types.ReferenceContext(include_declaration=True), **at(uri, 2, 2)))
    assert keyword is not None and len(keyword) == 0  # an answer: none
    in_file = await client.text_document_document_highlight_async(types.DocumentHighlightParams(**at(uri, 2, 2)))
    assert [h.range.start.line for h in in_file] == [2, 5]  # the editor still shows it in the file
    util = (project / "util.ss").as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=util, language_id="gerbil", version=1, text=UTIL)))
    times = await client.text_document_references_async(types.ReferenceParams(
        context=types.ReferenceContext(include_declaration=True), **at(util, 4, 4)))
    assert places(times) == [("util.ss", 4, 3, 4), ("util.ss", 8, 5, 6)]


async def test_highlights_show_a_local_binding_in_its_form_and_the_definition_as_written(client, project):
    await start(client, project)
    util = (project / "util.ss").as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=util, language_id="gerbil", version=1, text=UTIL)))
    rate = await client.text_document_document_highlight_async(types.DocumentHighlightParams(**at(util, 8, 10)))
    assert [(h.range.start.line, h.range.start.character) for h in rate] == [(7, 9), (8, 9)]
    price = await client.text_document_document_highlight_async(types.DocumentHighlightParams(**at(util, 3, 7)))
    assert [(h.range.start.line, h.kind) for h in price] == [
        (1, types.DocumentHighlightKind.Read), (3, types.DocumentHighlightKind.Write),
        (8, types.DocumentHighlightKind.Read)]
    nothing = await client.text_document_document_highlight_async(types.DocumentHighlightParams(**at(util, 5, 0)))
    assert not nothing


async def test_rename_of_an_export_edits_every_file_that_uses_it(client, project):
    uri = await start(client, project)
    placeholder = await client.text_document_prepare_rename_async(types.PrepareRenameParams(**at(uri, 3, 6)))
    assert placeholder.placeholder == "price-of" and placeholder.range.start == types.Position(line=3, character=3)
    edit = await client.text_document_rename_async(types.RenameParams(new_name="cost-of", **at(uri, 3, 6)))
    assert set(edit.changes) == {uri, (project / "util.ss").as_uri()}
    assert applied(MAIN, edit.changes[uri]) == MAIN.replace("price-of", "cost-of")
    renamed = applied(UTIL, edit.changes[(project / "util.ss").as_uri()])
    assert renamed == UTIL.replace("price-of", "cost-of").replace("'(cost-of is data)", "'(price-of is data)")


async def test_rename_of_a_local_stays_in_its_form_and_names_the_open_documents_version(client, project):
    uri = await start(client, project, document_changes=True)
    edit = await client.text_document_rename_async(types.RenameParams(new_name="sum", **at(uri, 6, 20)))
    (change,) = edit.document_changes
    assert change.text_document.uri == uri and change.text_document.version == 1
    assert applied(MAIN, change.edits) == MAIN.replace("(def (gross item)\n  (with-tax (total item)))",
                                                       "(def (gross sum)\n  (with-tax (total sum)))")


@pytest.mark.parametrize(("file", "extra", "line", "character", "new_name", "reason"), [
    ("main.ss", "", 3, 4, "with-tax", "`with-tax` is already defined or imported in main.ss"),
    ("main.ss", "", 3, 4, "two words", "`two words` is not a plain Gerbil symbol"),
    ("main.ss", "", 3, 4, "key:", "`key:` is not a plain Gerbil symbol"),
    # with-tax binds `rate` around its use of price-of: renamed so, the use would mean the local
    ("main.ss", "", 3, 4, "rate", "`rate` is bound in the form at util.ss:7, where `price-of` is used"),
    ("main.ss", "", 6, 20, "total", "`total` is already used in this form (main.ss:7)"),
    ("main.ss", "\n(def (item) 1)\n", 3, 12, "thing",
     "`item` is bound inside this form and also names a top-level definition of this file"),
    ("main.ss", "\n(def (free x)\n  (let ((price-of x)) price-of))\n", 3, 4, "cost-of",
     "`price-of` is bound again in the forms around its uses at main.ss:10"),
    ("main.ss", "\n(def (lookup t) (hash-get t 1))\n", 8, 18, "fetch", "comes from :gerbil/core"),
    ("util.ss", "\n(def (items b) (basket-items b))\n", 13, 17, "contents",
     "`basket-items` is made by the definition of `basket`: rename that instead"),
])
async def test_rename_refuses_what_it_cannot_do_safely_and_says_why(
        client, project, file, extra, line, character, new_name, reason):
    text = (project / file).read_text() + extra
    (project / file).write_text(text)
    uri = await start(client, project, main=(project / "main.ss").read_text())
    if file != "main.ss":
        uri = (project / file).as_uri()
        client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="gerbil", version=1, text=text)))
    with pytest.raises(JsonRpcException) as refused:
        await client.text_document_rename_async(types.RenameParams(new_name=new_name, **at(uri, line, character)))
    assert reason in refused.value.message
    assert refused.value.code == types.LSPErrorCodes.RequestFailed


async def test_prepare_rename_refuses_names_from_outside_the_workspace_before_the_user_types_one(client, project):
    uri = await start(client, project, main=MAIN + "(def (lookup t) (hash-get t (zork) 1))\n")
    with pytest.raises(JsonRpcException) as library:
        await client.text_document_prepare_rename_async(types.PrepareRenameParams(**at(uri, 7, 18)))
    assert "`hash-get` comes from :gerbil/core/runtime, outside this workspace" in library.value.message
    with pytest.raises(JsonRpcException) as unbound:
        await client.text_document_prepare_rename_async(types.PrepareRenameParams(**at(uri, 7, 30)))
    assert "`zork` is not bound here" in unbound.value.message
    assert await client.text_document_prepare_rename_async(types.PrepareRenameParams(**at(uri, 7, 35))) is None


async def test_a_name_imported_under_another_name_is_found_but_not_renamed(client, project):
    main = "(import :gerbil/core (prefix-in ./util u/))\n\n(def (total item)\n  (u/price-of item 3))\n"
    (project / "main.ss").write_text(main)
    uri = await start(client, project, main=main)
    found = await client.text_document_references_async(types.ReferenceParams(
        context=types.ReferenceContext(include_declaration=True), **at(uri, 3, 6)))
    assert ("main.ss", 3, 3, 13) in places(found) and ("util.ss", 3, 6, 14) in places(found)
    with pytest.raises(JsonRpcException) as refused:
        await client.text_document_rename_async(types.RenameParams(new_name="cost-of", **at(uri, 3, 6)))
    assert "main.ss imports `price-of` as `u/price-of`: rename by hand" in refused.value.message
