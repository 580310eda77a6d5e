"""The workspace's own modules, indexed live, through a real `gerbil-lsp serve` process (pytest-lsp).

A small project written for these tests: ``(package: shop)`` with ``util.ss``
exporting ``price-of``, and ``main.ss`` importing it as ``./util``. The index is
built from the test Gerbil tree (a complete prelude), and knows nothing of the
project: what the server knows of it, it learned from the workspace.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from gerbil_lsp.core.index import SymbolIndex, build_index
from gerbil_lsp.server.workspace import WorkProgress, workspace_files
from tests.server.test_lsp_features import FIXTURE_SRC

UTIL = ("(import :gerbil/core)\n(export price-of)\n\n(def (price-of item qty)\n  (* qty 2))\n"
        "\n(def (round-price p) p)\n(defstruct basket (items))\n")
MAIN = "(import :gerbil/core ./util)\n\n(def (total item)\n  (price-of item 3))\n\n(def (bad item)\n  (discount-of item))\n"


def shop(tmp_path: Path, util: str, main: str) -> Path:
    """The project ``(package: shop)`` with ``util.ss`` and ``main.ss``; beside it, an index of the test Gerbil tree."""
    root = tmp_path / "shop"
    root.mkdir()
    (root / "gerbil.pkg").write_text("(package: shop)\n")
    (root / "util.ss").write_text(util)
    (root / "main.ss").write_text(main)
    build_index(None, FIXTURE_SRC).save(tmp_path / "index.json.gz")
    return root


@pytest.fixture
def project(tmp_path) -> Path:
    root = shop(tmp_path, UTIL, MAIN)
    hidden = root / ".gerbil" / "lib"  # build output: never scanned
    hidden.mkdir(parents=True)
    (hidden / "util.ss").write_text("(export price-of discount-of)\n(def (discount-of x) x)\n")
    return root


async def start(client: LanguageClient, root: Path, watch: bool = False) -> str:
    capabilities = types.ClientCapabilities(workspace=types.WorkspaceClientCapabilities(
        did_change_watched_files=types.DidChangeWatchedFilesClientCapabilities(dynamic_registration=True)))
    await client.initialize_session(types.InitializeParams(
        capabilities=capabilities if watch else types.ClientCapabilities(),
        root_uri=root.as_uri(),
        initialization_options={"diagnostics": {"debounce_ms": 0},
                                "index": {"path": str(root.parent / "index.json.gz")}},
    ))
    uri = (root / "main.ss").as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="gerbil", version=1, text=MAIN)))
    return uri


async def published(client: LanguageClient, seconds: float = 10.0) -> bool:
    """Whether more diagnostics arrive within ``seconds``."""
    try:
        await asyncio.wait_for(client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS), seconds)
    except TimeoutError:
        return False
    return True


async def unbound_names(client: LanguageClient, uri: str, until=lambda names: True) -> set[str]:
    """The unbound names of the latest diagnostics for ``uri`` that satisfy ``until`` (a scan may come later)."""
    names: set[str] = set()
    while await published(client):
        names = {d.message.split("'")[1] for d in client.diagnostics.get(uri, []) if d.code == "unbound"}
        if until(names):
            return names
    raise AssertionError(f"diagnostics never settled; last unbound names: {names}")


async def test_a_file_importing_a_workspace_module_is_checked_completed_and_navigable(client, project):
    uri = await start(client, project)
    # price-of comes from ./util; discount-of exists nowhere the workspace's sources say
    assert await unbound_names(client, uri, until=lambda names: names == {"discount-of"}) == {"discount-of"}

    result = await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=3, character=4)))
    item = next(i for i in result.items if i.label == "price-of")
    assert item.label_details.description == ":shop/util" and "(price-of item qty)" in item.detail

    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=3, character=5)))
    assert "(price-of item qty)" in hover.contents.value and ":shop/util" in hover.contents.value

    (location,) = await client.text_document_definition_async(types.DefinitionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=3, character=5)))
    assert location.uri == (project / "util.ss").as_uri() and location.range.start.line == 3


async def test_workspace_symbols_find_every_top_level_definition(client, project):
    uri = await start(client, project)
    await unbound_names(client, uri, until=lambda names: names == {"discount-of"})
    found = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="price"))
    # the prefix match first, then the substring; exported or not; generated names (basket-items) left out
    assert [(s.name, s.container_name) for s in found] == [("price-of", ":shop/util"), ("round-price", ":shop/util")]
    assert found[0].location.uri == (project / "util.ss").as_uri() and found[0].location.range.start.line == 3
    assert found[0].kind == types.SymbolKind.Function
    names = [s.name for s in await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="bskt"))]
    assert names == ["basket"]  # letters in order
    everything = [s.name for s in await client.workspace_symbol_async(types.WorkspaceSymbolParams(query=""))]
    assert {"total", "bad", "price-of", "round-price", "basket"} <= set(everything)
    assert not {"basket-items", "make-basket"} & set(everything)


async def test_modules_the_index_has_as_on_disk_are_not_scanned_again_and_give_their_exports(client, project):
    build_index(None, FIXTURE_SRC, [project]).save(project.parent / "index.json.gz")  # `index build --project`
    uri = await start(client, project)
    await unbound_names(client, uri, until=lambda names: names == {"discount-of"})
    found = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="price"))
    assert [(s.name, s.container_name, s.location.range.start.line) for s in found] == [("price-of", ":shop/util", 3)]


async def test_an_export_added_in_the_editor_is_known_once_saved_before_it_reaches_the_disk(client, project):
    uri = await start(client, project)
    await unbound_names(client, uri, until=lambda names: names == {"discount-of"})
    util = (project / "util.ss").as_uri()
    added = UTIL.replace("(export price-of)", "(export price-of discount-of)") + "\n(def (discount-of item) item)\n"
    # (opened with the edit in it, as an editor restores an unsaved buffer: no change waits to rest)
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=util, language_id="gerbil", version=1, text=added)))
    client.text_document_did_save(types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=util)))
    # main.ss is checked again with the editor's util.ss (the disk still has the old one)
    assert await unbound_names(client, uri, until=lambda names: not names) == set()
    assert "discount-of" not in (project / "util.ss").read_text()


async def test_a_module_that_re_exports_a_changed_one_follows_it(client, project):
    (project / "all.ss").write_text("(import ./util)\n(export (import: ./util))\n")
    shop = "(import :gerbil/core :shop/all)\n(def (sale item)\n  (discount-of (price-of item 1)))\n"
    await start(client, project)
    uri = (project / "shop.ss").as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="gerbil", version=1, text=shop)))
    assert await unbound_names(client, uri, until=lambda names: names == {"discount-of"}) == {"discount-of"}
    (project / "util.ss").write_text(UTIL.replace("(export price-of)", "(export price-of discount-of)")
                                     + "\n(def (discount-of item) item)\n")
    client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[
        types.FileEvent(uri=(project / "util.ss").as_uri(), type=types.FileChangeType.Changed)]))
    # :shop/all is scanned again because it re-exports :shop/util; then shop.ss is checked again
    assert await unbound_names(client, uri, until=lambda names: not names) == set()


async def test_unsaved_edits_are_scanned_once_the_text_rests(client, project):
    uri = await start(client, project)
    await unbound_names(client, uri, until=lambda names: names == {"discount-of"})
    util = (project / "util.ss").as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=util, language_id="gerbil", version=1, text=UTIL)))
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=util, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=UTIL.replace("price-of", "cost-of"))]))
    # no save: after the pause, price-of is gone from :shop/util, so main.ss's use of it is unbound
    assert await unbound_names(client, uri, until=lambda names: "price-of" in names) == {"price-of", "discount-of"}
    # closed without saving: the disk's util.ss again
    client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=util)))
    assert await unbound_names(client, uri, until=lambda names: "price-of" not in names) == {"discount-of"}


async def test_files_changed_on_disk_are_followed_where_the_editor_reports_them(client, project):
    registered = asyncio.get_running_loop().create_future()

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register_capability(params: types.RegistrationParams) -> None:
        if not registered.done():
            registered.set_result(params)

    uri = await start(client, project, watch=True)
    (registration,) = (await asyncio.wait_for(registered, 10)).registrations
    assert registration.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES
    assert registration.register_options == {"watchers": [{"globPattern": "**/*.ss"}]}  # as sent on the wire
    await unbound_names(client, uri, until=lambda names: names == {"discount-of"})

    (project / "util.ss").unlink()  # a checkout removed it
    client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[
        types.FileEvent(uri=(project / "util.ss").as_uri(), type=types.FileChangeType.Deleted)]))
    while await published(client):
        result = await client.text_document_completion_async(types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=3, character=4)))
        if "price-of" not in [i.label for i in result.items]:
            break
    else:
        raise AssertionError("the deleted module's exports are still offered")
    # ./util now names no module the index knows: no name is claimed unbound any more
    assert not [d for d in client.diagnostics[uri] if d.code == "unbound"]


async def test_a_long_scan_shows_progress_in_the_editor(client, project):
    for n in range(60):
        (project / f"part{n}.ss").write_text(f"(export part-{n})\n(def (part-{n} x) x)\n")
    await client.initialize_session(types.InitializeParams(
        capabilities=types.ClientCapabilities(window=types.WindowClientCapabilities(work_done_progress=True)),
        root_uri=project.as_uri()))
    for _ in range(100):
        reports = [r for token, r in client.progress_reports.items() if token.startswith("gerbil-lsp-workspace")]
        # (the token's list exists from its window/workDoneProgress/create on, empty until the first $/progress)
        if reports and reports[0] and isinstance(reports[0][-1], types.WorkDoneProgressEnd):
            break
        await asyncio.sleep(0.1)
    (steps,) = reports
    assert isinstance(steps[0], types.WorkDoneProgressBegin) and steps[0].message == "0/62 files"
    assert isinstance(steps[-1], types.WorkDoneProgressEnd) and steps[-1].message == "62 modules"
    shown = [step.percentage for step in steps[1:-1]]
    assert shown == sorted(shown) and shown[-1] == 100 and len(shown) <= 21  # a report per 5%, not per file


def test_progress_says_nothing_after_its_end():
    """A cancelled search ends its progress while its worker thread still reads files and reports them."""
    sent = []

    class Recorder:  # what pygls's work_done_progress is sent, in order
        def report(self, token, value):
            sent.append(value)

        def end(self, token, value):
            sent.append(value)

    server = type("Server", (), {"work_done_progress": Recorder()})()
    progress = WorkProgress(server, "searching the workspace", 100)
    progress.report(50)
    progress.end("cancelled")
    progress.report(100)
    assert [type(step).__name__ for step in sent] == ["WorkDoneProgressReport", "WorkDoneProgressEnd"]


def test_the_workspace_walk_skips_build_output_stops_at_the_limit_and_leaves_what_the_index_has(project, tmp_path):
    (project / "sub").mkdir()
    (project / "sub" / "more.ss").write_text("(export x)\n(def x 1)\n")
    (project / "notes.txt").write_text("not a module\n")
    (project / "table.ss").write_text(";; generated\n" + "(def t '(" + "0 " * 1_000_001 + "))\n")  # over 2 MB
    unrelated = SymbolIndex()  # an index built from no project: every file is scanned, none under .gerbil/
    assert sorted(workspace_files(str(project), 100, unrelated)) == [
        str(project / "main.ss"), str(project / "sub" / "more.ss"), str(project / "util.ss")]
    assert len(workspace_files(str(project), 2, unrelated)) == 2

    # indexed with the project, as `gerbil-lsp index build --project` does: nothing changed since
    build_index(None, FIXTURE_SRC, [project]).save(tmp_path / "with-project.json.gz")
    built = SymbolIndex.load(tmp_path / "with-project.json.gz")
    assert workspace_files(str(project), 100, built) == []
    (project / "util.ss").write_text(UTIL + "\n(def (more) 1)\n")
    later = (tmp_path / "with-project.json.gz").stat().st_mtime + 5
    os.utime(project / "util.ss", (later, later))
    assert workspace_files(str(project), 100, built) == [str(project / "util.ss")]


async def test_every_workspace_folder_is_scanned_and_folders_can_come_and_go(client, project):
    """Two folders, each its own package: main.ss in shop imports :tools/fmt from the other one."""
    tools = project.parent / "tools"
    tools.mkdir()
    (tools / "gerbil.pkg").write_text("(package: tools)\n")
    (tools / "fmt.ss").write_text("(import :gerbil/core)\n(export money)\n\n(def (money x) x)\n")
    (tools / "report.ss").write_text("(import :gerbil/core ./fmt)\n(def (line x) (money x))\n")
    text = MAIN.replace("./util)", "./util :tools/fmt)") + "\n(def (shown item)\n  (money (total item)))\n"
    folder = types.WorkspaceFolder
    await client.initialize_session(types.InitializeParams(
        capabilities=types.ClientCapabilities(),
        workspace_folders=[folder(uri=project.as_uri(), name="shop"), folder(uri=tools.as_uri(), name="tools")],
        initialization_options={"diagnostics": {"debounce_ms": 0},
                                "index": {"path": str(project.parent / "index.json.gz")}}))
    uri = (project / "main.ss").as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="gerbil", version=1, text=text)))
    assert await unbound_names(client, uri, until=lambda names: names == {"discount-of"}) == {"discount-of"}

    async def money_symbols() -> list[str]:
        found = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="money"))
        return [s.container_name for s in found]

    assert await money_symbols() == [":tools/fmt"]

    def change(added=(), removed=()) -> None:
        client.workspace_did_change_workspace_folders(types.DidChangeWorkspaceFoldersParams(
            event=types.WorkspaceFoldersChangeEvent(added=list(added), removed=list(removed))))

    async def money_from() -> str | None:
        hover = await client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=9, character=4)))
        return hover.contents.value if hover is not None else None

    assert ":tools/fmt" in await money_from()

    # its module is forgotten: main.ss imports a module the index does not know, so it gets no unbound check
    change(removed=[folder(uri=tools.as_uri(), name="tools")])
    assert await unbound_names(client, uri, until=lambda names: not names) == set()
    assert await money_symbols() == [] and await money_from() is None

    change(added=[folder(uri=tools.as_uri(), name="tools")])  # and scanned again when it comes back
    assert await unbound_names(client, uri, until=lambda names: names == {"discount-of"}) == {"discount-of"}
    assert await money_symbols() == [":tools/fmt"]
    # references search every folder: the definition in tools/fmt.ss, the use in shop/main.ss
    found = await client.text_document_references_async(types.ReferenceParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=9, character=4),
        context=types.ReferenceContext(include_declaration=True)))
    assert sorted((Path(loc.uri).parent.name, Path(loc.uri).name, loc.range.start.line) for loc in found) == [
        ("shop", "main.ss", 9), ("tools", "fmt.ss", 1), ("tools", "fmt.ss", 3), ("tools", "report.ss", 1)]
