"""The index features through a real `gerbil-lsp serve` process over stdio (pytest-lsp).

Two indexes: the bundled docs-only one (zero configuration: completion, hover,
signatures, arity) and one built from a small Gerbil-like source tree written
for these tests (complete prelude: unbound identifiers and their quick fix).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from gerbil_lsp.core.index import build_index
from tests.edits import applied

FIXTURE_SRC = Path(__file__).resolve().parents[1] / "fixtures" / "server" / "gerbil-src"


async def open_doc(client: LanguageClient, root: Path, text: str, name: str = "main.ss", init: dict | None = None,
                   capabilities: types.ClientCapabilities | None = None) -> str:
    await client.initialize_session(types.InitializeParams(
        capabilities=capabilities or types.ClientCapabilities(),
        root_uri=root.as_uri(),
        initialization_options={"diagnostics": {"debounce_ms": 0}, **(init or {})},
    ))
    uri = (root / name).as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="gerbil", version=1, text=text)))
    return uri


async def diagnostics(client: LanguageClient, uri: str, version_hint: int = 1) -> list[types.Diagnostic]:
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    return client.diagnostics[uri]


@pytest.fixture
def complete_index(tmp_path) -> str:
    path = tmp_path / "index.json.gz"
    build_index(None, FIXTURE_SRC).save(path)
    return str(path)


def labels(result) -> list[str]:
    items = result.items if isinstance(result, types.CompletionList) else result
    return [item.label for item in items]


async def test_completion_offers_locals_prelude_and_imports(client: LanguageClient, tmp_path):
    text = "(import :std/iter)\n(def (count-keys table)\n  (let ((total 0))\n    (hash-\n    tot))\n"
    uri = await open_doc(client, tmp_path, text)
    result = await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=3, character=9)))
    names = labels(result)
    assert "hash-get" in names and "hash-put!" in names
    hash_get = next(item for item in result.items if item.label == "hash-get")
    assert "(hash-get hash key)" in hash_get.detail and hash_get.label_details.description == "prelude"
    assert hash_get.additional_text_edits is None

    result = await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=4, character=7)))
    assert "total" in labels(result)
    result = await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=3, character=8)))
    assert "count-keys" not in labels(result) and "hash-get" in labels(result)  # prefix "has" filters


async def test_completion_sends_documentation_with_the_items_or_on_resolve_as_the_client_says(
        client: LanguageClient, tmp_path):
    text = "(def (count-keys table)\n  (hash-g table 'k))\n"
    at = types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=(tmp_path / "main.ss").as_uri()),
                                position=types.Position(line=1, character=9))
    lazy = types.ClientCapabilities(text_document=types.TextDocumentClientCapabilities(
        completion=types.CompletionClientCapabilities(completion_item=types.ClientCompletionItemOptions(
            documentation_format=[types.MarkupKind.Markdown],
            resolve_support=types.ClientCompletionItemResolveOptions(properties=["documentation"])))))
    await open_doc(client, tmp_path, text, capabilities=lazy)
    assert client.capabilities is not None
    result = await client.text_document_completion_async(at)
    listed = next(item for item in result.items if item.label == "hash-get")
    assert listed.documentation is None and "(hash-get hash key)" in listed.detail
    resolved = await client.completion_item_resolve_async(listed)
    doc = resolved.documentation.value
    assert "#f" in doc and "https://cons.io/reference/gerbil/runtime/hash-tables.html#hash-get" in doc
    assert resolved.label == "hash-get" and resolved.detail == listed.detail
    local = types.CompletionItem(label="table", detail="local")  # nothing to add: it comes back as it was
    assert await client.completion_item_resolve_async(local) == local


async def test_completion_items_carry_their_documentation_for_a_client_that_does_not_resolve(
        client: LanguageClient, tmp_path):
    uri = await open_doc(client, tmp_path, "(def (count-keys table)\n  (hash-g table 'k))\n")
    result = await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=1, character=9)))
    listed = next(item for item in result.items if item.label == "hash-get")
    assert "hash-tables.html#hash-get" in listed.documentation.value and listed.data is None


async def test_completion_from_unimported_module_adds_the_import(client: LanguageClient, tmp_path):
    text = "(import :std/iter)\n\n(def (load-config port)\n  (read-js))\n"
    uri = await open_doc(client, tmp_path, text)
    result = await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=3, character=10)))
    item = next(item for item in result.items if item.label == "read-json")
    assert item.label_details.description == ":std/text/json"
    (edit,) = item.additional_text_edits
    assert edit.new_text == " :std/text/json"
    assert edit.range.start == types.Position(line=0, character=17)  # just before the import form's ')'


async def test_hover_shows_arity_module_and_doc_link(client: LanguageClient, tmp_path):
    uri = await open_doc(client, tmp_path, "(def h (make-hash-table))\n(hash-get h 'a)\n")
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=1, character=3)))
    assert hover is not None
    value = hover.contents.value
    assert "(hash-get hash key)" in value and "arity 2" in value and "prelude" in value
    assert "#f" in value and "https://cons.io/reference/gerbil/runtime/hash-tables.html#hash-get" in value
    assert hover.range == types.Range(start=types.Position(line=1, character=1), end=types.Position(line=1, character=9))


async def test_a_client_that_reads_no_markdown_gets_plain_text_in_hover_and_completion(client: LanguageClient,
                                                                                       tmp_path):
    plain = [types.MarkupKind.PlainText]
    capabilities = types.ClientCapabilities(text_document=types.TextDocumentClientCapabilities(
        hover=types.HoverClientCapabilities(content_format=plain),
        completion=types.CompletionClientCapabilities(
            completion_item=types.ClientCompletionItemOptions(documentation_format=plain))))
    uri = await open_doc(client, tmp_path, "(def h (make-hash-table))\n(hash-get h 'a)\n(hash-g h)\n",
                         capabilities=capabilities)
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=1, character=3)))
    assert hover.contents.kind == types.MarkupKind.PlainText
    assert hover.contents.value.startswith("(hash-get hash key)") and "```" not in hover.contents.value
    assert "procedure — prelude (no import needed) — arity 2" in hover.contents.value  # no *emphasis* marks
    assert "Documentation <https://cons.io/reference/gerbil/runtime/hash-tables.html#hash-get>" in hover.contents.value
    result = await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=2, character=7)))
    doc = next(item for item in result.items if item.label == "hash-get").documentation
    assert doc.kind == types.MarkupKind.PlainText and "](" not in doc.value and "<https://cons.io/" in doc.value


async def test_signature_help_tracks_the_active_parameter(client: LanguageClient, tmp_path):
    uri = await open_doc(client, tmp_path, "(hash-get table )\n")
    help_ = await client.text_document_signature_help_async(types.SignatureHelpParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=0, character=16)))
    assert help_.signatures[0].label.startswith("(hash-get hash key)")
    assert [p.label for p in help_.signatures[0].parameters] == ["hash", "key"]
    assert help_.active_parameter == 1


async def test_reader_and_arity_errors_are_published_as_errors(client: LanguageClient, tmp_path):
    uri = await open_doc(client, tmp_path, "(def (f h)\n  (hash-get h 'k 'default))\n(def (g x) (list x\n")
    found = await diagnostics(client, uri)
    by_code = {d.code: d for d in found}
    assert by_code["arity"].severity == types.DiagnosticSeverity.Error
    assert "takes 2 arguments, given 3" in by_code["arity"].message
    assert by_code["arity"].range.start == types.Position(line=1, character=3)
    assert by_code["unclosed"].severity == types.DiagnosticSeverity.Error
    assert "2:" not in by_code["unclosed"].message or "3:" in by_code["unclosed"].message
    assert "unbound" not in by_code  # the bundled docs-only index never claims a name is unbound


async def test_unbound_identifier_with_quick_fix(client: LanguageClient, tmp_path, complete_index):
    text = "(import :gerbil/core)\n(def (load port)\n  (let ((data (read-json port)))\n    (hash-table-ref data 'k)))\n"
    uri = await open_doc(client, tmp_path, text, init={"index": {"path": complete_index}})
    found = await diagnostics(client, uri)
    messages = {d.message: d for d in found}
    assert "unbound identifier 'read-json' (exported by :std/text/json)" in messages
    assert any(m.startswith("unbound identifier 'hash-table-ref' (SRFI 69); in Gerbil: hash-ref") for m in messages)
    assert all(d.severity == types.DiagnosticSeverity.Error for d in found)
    assert not any("'data'" in m or "'port'" in m or "'load'" in m for m in messages)  # locals are bound

    diagnostic = messages["unbound identifier 'read-json' (exported by :std/text/json)"]
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=diagnostic.range,
        context=types.CodeActionContext(diagnostics=[diagnostic])))
    (action,) = actions
    assert action.title == "Import :std/text/json (for read-json)"
    (edit,) = action.edit.changes[uri]
    assert edit.new_text == " :std/text/json" and edit.range.start == types.Position(line=0, character=20)


async def test_another_schemes_name_or_a_typo_gets_what_to_write_instead(client: LanguageClient, tmp_path,
                                                                         complete_index):
    text = "(import :gerbil/core)\n(def (load port)\n  (let ((table (json-read port)))\n    (hash-gett table 'k)))\n"
    uri = await open_doc(client, tmp_path, text, init={"index": {"path": complete_index}})
    found = {d.data["name"]: d for d in await diagnostics(client, uri) if d.code == "unbound"}
    assert found["hash-gett"].message == "unbound identifier 'hash-gett'; did you mean hash-get?"
    # Chicken's name: Gerbil's is exported by a module the file does not import yet
    assert found["json-read"].message == "unbound identifier 'json-read' (Chicken); in Gerbil: read-json from :std/text/json"

    async def fixes(diagnostic: types.Diagnostic) -> list[types.CodeAction]:
        return await client.text_document_code_action_async(types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), range=diagnostic.range,
            context=types.CodeActionContext(diagnostics=[diagnostic])))

    (typo,) = await fixes(found["hash-gett"])
    assert typo.title == "Replace with hash-get" and typo.is_preferred
    (other,) = await fixes(found["json-read"])
    assert other.title == "Replace with read-json (import :std/text/json)"
    assert applied(text, other.edit.changes[uri]) == (
        "(import :gerbil/core :std/text/json)\n(def (load port)\n  (let ((table (read-json port)))\n    (hash-gett table 'k)))\n")


async def test_definition_and_document_symbols(client: LanguageClient, tmp_path):
    text = "(defstruct point (x y))\n\n(def (norm p)\n  (+ (point-x p) (point-y p)))\n\n(norm (make-point 1 2))\n"
    uri = await open_doc(client, tmp_path, text)
    location = await client.text_document_definition_async(types.DefinitionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=5, character=2)))
    assert location[0].uri == uri and location[0].range.start.line == 2
    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    names = [s.name for s in symbols]
    assert "point" in names and "norm" in names
    assert "point-x" not in names  # generated accessors are not listed as their own symbols


async def test_did_change_configuration_switches_the_index(client: LanguageClient, tmp_path, complete_index):
    uri = await open_doc(client, tmp_path, "(import :gerbil/core)\n(frobnicate 1)\n")
    assert not [d for d in await diagnostics(client, uri) if d.code == "unbound"]
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"gerbil-lsp": {"index": {"path": complete_index}}}))
    for _ in range(20):
        await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        if any(d.code == "unbound" for d in client.diagnostics[uri]):
            break
    assert any("'frobnicate'" in d.message for d in client.diagnostics[uri])


async def test_debounced_changes_publish_for_the_latest_text(client: LanguageClient, tmp_path):
    uri = await open_doc(client, tmp_path, "(list 1 2)\n", init={"diagnostics": {"debounce_ms": 100}})
    await diagnostics(client, uri)
    for version, text in enumerate(["(list 1 2", "(list 1 2)\n(", "(list 1 2)\n(hash-get 1)\n"], start=2):
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))
    await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    await asyncio.sleep(0.3)
    codes = [d.code for d in client.diagnostics[uri]]
    assert codes == ["arity"]


async def test_selection_grows_one_s_expression_at_a_time(client: LanguageClient, tmp_path):
    text = "(def (area r)\n  (* 3 (square r)))\n\n(area 2)\n"
    uri = await open_doc(client, tmp_path, text)
    inner, between = types.Position(line=1, character=16), types.Position(line=2, character=0)
    found, outside = await client.text_document_selection_range_async(types.SelectionRangeParams(
        text_document=types.TextDocumentIdentifier(uri=uri), positions=[inner, between]))
    chain = []
    while found is not None:
        start, end = found.range.start, found.range.end
        chain.append(text.splitlines()[start.line][start.character:end.character] if start.line == end.line
                     else (start.line, end.line))
        found = found.parent
    assert chain == ["r", "(square r)", "(* 3 (square r))", (0, 1)]
    assert outside.range == types.Range(start=between, end=between) and outside.parent is None


async def test_folding_ranges_for_lists_over_lines_and_comment_runs(client: LanguageClient, tmp_path):
    text = (";;; Geometry\n;; areas of shapes\n;; (and more)\n(def (area r)\n  (let ((k 3))\n    (* k r r)))\n"
            "(def (one) 1)\n#| a block\n   comment |#\n")
    uri = await open_doc(client, tmp_path, text)
    ranges = await client.text_document_folding_range_async(types.FoldingRangeParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    found = {(r.start_line, r.end_line, r.kind) for r in ranges}
    assert found == {(0, 2, types.FoldingRangeKind.Comment), (7, 8, types.FoldingRangeKind.Comment),
                     (3, 5, None), (4, 5, None)}  # (def (one) 1) and (k 3) are on one line
