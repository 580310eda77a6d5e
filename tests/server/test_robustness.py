"""Robustness of the real `gerbil-lsp serve` process (pytest-lsp over stdio): no crash, no hang.

Positions out of range, URIs never opened or of other schemes, percent-encoded
URIs, invalid UTF-8 in files the server reads from disk, a 10 MB one-line
document, 10,000-deep nesting, and random incremental edit sequences
(hypothesis). Every request is bounded by ``asyncio.wait_for`` so a hang fails
the test instead of blocking the run; "alive" means a later hover on a fresh,
valid document still answers correctly and the server never reported an
internal error ("Error in server: ..." messages, or a request answered with a
JSON-RPC error, which pytest-lsp raises in the test).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import os
import shutil
from pathlib import Path
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.workspace import TextDocument
from pytest_lsp import LanguageClient

from gerbil_lsp.core.index import build_index, load_index
from gerbil_lsp.core.positions import LineIndex
from gerbil_lsp.core.settings import validate
from gerbil_lsp.server.analysis import analyze
from gerbil_lsp.server.app import uri_to_path
from gerbil_lsp.server.features.positions import range_of
from tests.server.test_lsp_features import FIXTURE_SRC, open_doc

BOUND = 60.0  # seconds any one request or notification may take before we call it a hang
ALIVE_TEXT = "(def h (make-hash-table))\n(hash-get h 'a)\n"
_names = itertools.count()


# --------------------------------------------------------------------------- helpers


def doc_id(uri: str) -> types.TextDocumentIdentifier:
    return types.TextDocumentIdentifier(uri=uri)


async def bounded(awaitable, seconds: float = BOUND):
    return await asyncio.wait_for(awaitable, seconds)


async def start(client: LanguageClient, root: Path, init: dict | None = None) -> None:
    """initialize + initialized, once per server (open_doc does both, then opens a document)."""
    if client.capabilities is None:
        await open_doc(client, root, ALIVE_TEXT, name="start.ss", init=init)


def did_open(client: LanguageClient, uri: str, text: str, version: int = 1) -> None:
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="gerbil", version=version, text=text)))


async def until(check, seconds: float = BOUND, what: str = "") -> None:
    """Poll (the client handles notifications meanwhile) until ``check()`` holds, or fail."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what or check}")
        await asyncio.sleep(0.02)


async def published(client: LanguageClient, uri: str, seconds: float = BOUND) -> list[types.Diagnostic]:
    """The diagnostics published for ``uri`` (a URI this test opened once, so any publish is the one)."""
    await until(lambda: uri in client.diagnostics, seconds, f"diagnostics for {uri}")
    return list(client.diagnostics[uri])


async def ask_everything(client: LanguageClient, uri: str, position: types.Position, seconds: float = BOUND) -> list:
    """Every feature of a document (at ``position`` where it takes one); each must answer in time."""
    here = types.Range(start=position, end=position)
    return [
        await bounded(client.text_document_completion_async(
            types.CompletionParams(text_document=doc_id(uri), position=position)), seconds),
        await bounded(client.text_document_hover_async(
            types.HoverParams(text_document=doc_id(uri), position=position)), seconds),
        await bounded(client.text_document_signature_help_async(
            types.SignatureHelpParams(text_document=doc_id(uri), position=position)), seconds),
        await bounded(client.text_document_definition_async(
            types.DefinitionParams(text_document=doc_id(uri), position=position)), seconds),
        await bounded(client.text_document_document_symbol_async(
            types.DocumentSymbolParams(text_document=doc_id(uri))), seconds),
        await bounded(client.text_document_code_action_async(types.CodeActionParams(
            text_document=doc_id(uri), range=here, context=types.CodeActionContext(diagnostics=[]))), seconds),
        await bounded(client.text_document_selection_range_async(types.SelectionRangeParams(
            text_document=doc_id(uri), positions=[position])), seconds),
        await bounded(client.text_document_folding_range_async(
            types.FoldingRangeParams(text_document=doc_id(uri))), seconds),
        await bounded(client.text_document_references_async(types.ReferenceParams(
            text_document=doc_id(uri), position=position,
            context=types.ReferenceContext(include_declaration=True))), seconds),
        await bounded(client.text_document_document_highlight_async(
            types.DocumentHighlightParams(text_document=doc_id(uri), position=position)), seconds),
        await bounded(refused_or(client.text_document_prepare_rename_async(
            types.PrepareRenameParams(text_document=doc_id(uri), position=position))), seconds),
        await bounded(refused_or(client.text_document_formatting_async(
            types.DocumentFormattingParams(text_document=doc_id(uri), options=FORMATTING))), seconds),
        await bounded(refused_or(client.text_document_range_formatting_async(types.DocumentRangeFormattingParams(
            text_document=doc_id(uri), range=here, options=FORMATTING))), seconds),
        await bounded(client.text_document_on_type_formatting_async(types.DocumentOnTypeFormattingParams(
            text_document=doc_id(uri), position=position, ch="\n", options=FORMATTING)), seconds),
        await bounded(client.text_document_semantic_tokens_full_async(
            types.SemanticTokensParams(text_document=doc_id(uri))), seconds),
        await bounded(client.text_document_semantic_tokens_range_async(types.SemanticTokensRangeParams(
            text_document=doc_id(uri), range=here)), seconds),
        await bounded(call_hierarchy(client, uri, position), seconds),
        await bounded(client.text_document_implementation_async(
            types.ImplementationParams(text_document=doc_id(uri), position=position)), seconds),
    ]


async def call_hierarchy(client: LanguageClient, uri: str, position: types.Position) -> list:
    """Prepare at ``position``; both directions for what it gives, and for an item the server never made.

    The answers that are not empty (none: nothing to follow there).
    """
    items = await client.text_document_prepare_call_hierarchy_async(types.CallHierarchyPrepareParams(
        text_document=doc_id(uri), position=position)) or []
    stranger = types.CallHierarchyItem(name="x", kind=types.SymbolKind.Function, uri=uri + "-gone",
                                       range=types.Range(start=position, end=position),
                                       selection_range=types.Range(start=position, end=position),
                                       data={"name": 1, "scope": "module", "module": None})
    out = [items]
    for item in [*items[:1], stranger]:
        out.append(await client.call_hierarchy_incoming_calls_async(types.CallHierarchyIncomingCallsParams(item=item)))
        out.append(await client.call_hierarchy_outgoing_calls_async(types.CallHierarchyOutgoingCallsParams(item=item)))
    return [answer for answer in out if answer]


FORMATTING = types.FormattingOptions(tab_size=8, insert_spaces=True, trim_trailing_whitespace=True)


async def refused_or(request):
    """The answer, or None for a refusal (a rename or formatting the server will not make is an answer, with a reason)."""
    try:
        return await request
    except JsonRpcException as refused:
        assert refused.code == types.LSPErrorCodes.RequestFailed and refused.message, refused
        return None


def server_errors(client: LanguageClient) -> list[str]:
    """Internal errors pygls reported out of band (failed notifications, unserialisable results)."""
    return [m.message for m in client.messages if m.message.startswith("Error in server")]


async def assert_alive(client: LanguageClient, root: Path) -> None:
    """A fresh, valid document still gets diagnostics and a correct hover; nothing failed on the way."""
    uri = (root / f"alive-{next(_names)}.ss").as_uri()
    did_open(client, uri, ALIVE_TEXT)
    await published(client, uri)
    hover = await bounded(client.text_document_hover_async(
        types.HoverParams(text_document=doc_id(uri), position=types.Position(line=1, character=3))))
    assert hover is not None and "(hash-get " in hover.contents.value and "arity 2" in hover.contents.value
    assert client.error is None
    assert server_errors(client) == []


def assert_within(text: str, diagnostics: list[types.Diagnostic]) -> None:
    """Every range lies inside the document (LSP lines; UTF-16 columns up to the line's end)."""
    lines = LineIndex(text)
    for d in diagnostics:
        for pos in (d.range.start, d.range.end):
            assert 0 <= pos.line < lines.line_count, (d, text)
            content = text[lines.line_start(pos.line):lines.line_end(pos.line)]
            assert pos.character <= len(content.encode("utf-16-le")) // 2, (d, text)
        assert (d.range.start.line, d.range.start.character) <= (d.range.end.line, d.range.end.character), d


# --------------------------------------------------------------------------- positions and URIs


async def test_positions_out_of_range_are_answered(client: LanguageClient, tmp_path):
    await start(client, tmp_path)
    text = "(def (f x)\n  (hash-get x 'k))\n(def s \"a😀b\") ; é\n"
    uri = (tmp_path / "main.ss").as_uri()
    did_open(client, uri, text)
    await published(client, uri)
    far = 2**31 - 1  # the largest uinteger a Position may carry
    positions = [
        (0, 0), (3, 0),  # the start; the empty line after the final newline
        (4, 0), (10, 5), (1000, 0), (far, far),  # lines past the last one
        (0, 11), (1, 17), (1, 500), (0, far),  # past the end of a line
        (2, 10),  # inside the surrogate pair of 😀 (UTF-16 column 10 is its second half)
    ]
    for line, character in positions:
        await ask_everything(client, uri, types.Position(line=line, character=character))

    empty = (tmp_path / "empty.ss").as_uri()
    did_open(client, empty, "")
    assert await published(client, empty) == []
    for line, character in [(0, 0), (0, 1), (1, 0), (far, far)]:
        (completion, hover, signature, definition, symbols, actions, (selection,), folds, references, highlights,
         rename, formatting, range_formatting, on_type, tokens, tokens_in_range, calls,
         implementations) = await ask_everything(
            client, empty, types.Position(line=line, character=character))
        assert hover is None and signature is None and definition is None
        assert not symbols and not actions and not folds and selection.parent is None
        assert references is None and highlights is None and rename is None
        assert not formatting and not range_formatting and not on_type
        assert not tokens.data and not tokens_in_range.data and not calls and implementations is None
        assert completion is not None  # the prelude is offered even in an empty file
    await assert_alive(client, tmp_path)


async def test_uris_never_opened_and_other_schemes(client: LanguageClient, tmp_path):
    await start(client, tmp_path)
    for uri in ("file:///nowhere/x.ss", "untitled:Untitled-1", "gerbil-doc:/std/iter", "file:///nowhere/%ZZ.ss"):
        for position in (types.Position(line=0, character=0), types.Position(line=3, character=7)):
            results = await ask_everything(client, uri, position)
            assert all(not r for r in results), (uri, results)
    # close and change a document that was never opened: ignored, not an internal error
    client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=doc_id("file:///nowhere/x.ss")))

    # an untitled (not file:) document that *is* open works like any other
    untitled = "untitled:Untitled-2"
    did_open(client, untitled, "(hash-get 1)\n")
    found = await published(client, untitled)
    assert [d.code for d in found] == ["arity"]
    hover = await bounded(client.text_document_hover_async(
        types.HoverParams(text_document=doc_id(untitled), position=types.Position(line=0, character=3))))
    assert hover is not None and "(hash-get hash key)" in hover.contents.value
    await assert_alive(client, tmp_path)


async def test_percent_encoded_file_uris_are_the_same_document(client: LanguageClient, tmp_path):
    """Editors percent-encode paths (`my project` -> `my%20project`); pygls keys documents by the decoded URI."""
    root = tmp_path / "my project é"
    root.mkdir()
    await start(client, root)
    uri = (root / "main file.ss").as_uri()
    assert "%20" in uri and "%C3%A9" in uri
    did_open(client, uri, "(hash-get 1)\n")
    found = await published(client, uri)
    assert [d.code for d in found] == ["arity"]
    hover = await bounded(client.text_document_hover_async(
        types.HoverParams(text_document=doc_id(uri), position=types.Position(line=0, character=3))))
    assert hover is not None and "(hash-get hash key)" in hover.contents.value
    # a configuration change re-publishes every open document, under the URI the editor used
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"gerbil-lsp": {"diagnostics": {"arity": False}}}))
    await until(lambda: not client.diagnostics[uri], what="diagnostics without the arity check")
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text="(hash-get 1 2\n")]))
    await until(lambda: [d.code for d in client.diagnostics[uri]] == ["unclosed"], what="the edited file's diagnostics")
    client.text_document_did_save(types.DidSaveTextDocumentParams(text_document=doc_id(uri)))
    assert unquote(uri) not in client.diagnostics  # never published under the decoded URI
    client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=doc_id(uri)))
    await assert_alive(client, root)


# --------------------------------------------------------------------------- invalid UTF-8 on disk

BAD = b"\xff\xfe\xc3(\x80"  # never valid UTF-8, in any position


@pytest.fixture
def bad_tree(tmp_path) -> tuple[Path, str]:
    """A Gerbil source tree with a module whose file is not UTF-8, and an index built from it."""
    src = tmp_path / "src"
    shutil.copytree(FIXTURE_SRC, src)
    (src / "std" / "bad.ss").write_bytes(
        b";; caf" + BAD + b"\n(export bad-name)\n\n(def (bad-name x)\n  \"" + BAD + b"\" x)\n")
    index = tmp_path / "index.json.gz"
    build_index(None, src).save(index)
    return src, str(index)


async def test_invalid_utf8_files_on_disk(client: LanguageClient, tmp_path, bad_tree):
    src, index = bad_tree
    project = tmp_path / "project"
    project.mkdir()
    (project / "gerbil.pkg").write_bytes(b"(package: proj" + BAD + b")\n")
    (project / "util.ss").write_bytes(b"(export helper)\n(def (helper x) ; " + BAD + b"\n  x)\n")
    main = project / "main.ss"
    on_disk = b"(import :std/bad ./util \"util\")\n(bad-name (helper 1)) ; caf\xe9\n"
    main.write_bytes(on_disk)  # latin-1 on disk; the editor decoded it and sends valid text
    await start(client, project, init={"index": {"path": index}})
    uri = main.as_uri()
    did_open(client, uri, on_disk.decode("latin-1"))
    found = await published(client, uri)
    assert not [d for d in found if "bad-name" in d.message]  # the bad file's export is indexed and visible
    position = types.Position(line=1, character=3)
    completion, hover, signature, definition, *_ = await ask_everything(client, uri, position)
    assert hover is not None and "bad-name" in hover.contents.value
    assert definition and definition[0].uri == (src / "std" / "bad.ss").resolve().as_uri()
    await ask_everything(client, uri, types.Position(line=1, character=12))  # on `helper`, from ./util
    # a file with bad bytes, opened with the bytes the editor could not decode replaced
    bad_uri = (src / "std" / "bad.ss").as_uri()
    did_open(client, bad_uri, (src / "std" / "bad.ss").read_bytes().decode("utf-8", errors="replace"))
    await published(client, bad_uri)
    await ask_everything(client, bad_uri, types.Position(line=3, character=8))
    # a file whose *name* is not UTF-8: its URI carries %FF, which decodes to no str path
    odd = Path(os.fsdecode(bytes(project) + b"/odd\xff.ss"))
    odd.write_bytes(b"(import ./util)\n(helper 1)\n")
    odd_uri = odd.as_uri()
    assert "%FF" in odd_uri
    did_open(client, odd_uri, "(import ./util)\n(helper 1)\n")
    await published(client, odd_uri)
    await ask_everything(client, odd_uri, types.Position(line=1, character=3))
    await assert_alive(client, project)


async def test_project_settings_file_that_is_not_utf8(client: LanguageClient, tmp_path):
    (tmp_path / ".gerbil-lsp.toml").write_bytes(b"[diagnostics]\narity = fal" + BAD + b"se\n")
    await start(client, tmp_path)
    await until(lambda: any("not UTF-8" in m.message for m in client.messages), what="the settings error message")
    uri = (tmp_path / "main.ss").as_uri()
    did_open(client, uri, "(hash-get 1)\n")
    assert [d.code for d in await published(client, uri)] == ["arity"]  # defaults stay in force
    await assert_alive(client, tmp_path)


# --------------------------------------------------------------------------- size and depth


@pytest.mark.slow
async def test_ten_megabyte_one_line_document(client: LanguageClient, tmp_path):
    await start(client, tmp_path)
    text = "(define x " * 1_000_000  # 10 MB, one line, a million forms left open
    assert len(text) == 10_000_000 and "\n" not in text
    uri = (tmp_path / "huge.ss").as_uri()
    did_open(client, uri, text)
    found = await published(client, uri, seconds=2 * BOUND)
    assert found and any(d.code == "unclosed" for d in found)
    assert len(found) <= 10_001  # the reader caps its errors
    assert all(d.range.start.line == 0 and d.range.end.character <= len(text) for d in found)
    for character in (5_000_003, len(text), 8):  # inside `define`, the very end, `x`
        await ask_everything(client, uri, types.Position(line=0, character=character), seconds=2 * BOUND)
    client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=doc_id(uri)))
    await assert_alive(client, tmp_path)


DEEP = 10_000
DEEP_DOCUMENTS = {
    "parens": "(" * DEEP + ")" * DEEP,
    "calls": "(f " * DEEP + "x" + ")" * DEEP,
    "unclosed": "(" * DEEP,
    "unopened": ")" * DEEP,
    "mixed brackets": "([{" * (DEEP // 3) + "x" + "}])" * (DEEP // 3),
    "quotes": "'(`(,(" * (DEEP // 3) + "x" + ")))" * (DEEP // 3),
    "vectors": "#(" * DEEP + ")" * DEEP,
    "block comments": "#|" * DEEP + "|#" * DEEP + "\n(hash-get 1)\n",
    "lets": "(def (f a)\n" + "(let ((x a)) " * DEEP + "(hash-get x)" + ")" * DEEP + ")\n",
    "lambdas": "(lambda (y) " * DEEP + "(y)" + ")" * DEEP,
    "datum comments": "#; " * DEEP + "x\n(hash-get 1)\n",
}


async def test_ten_thousand_nested_parens(client: LanguageClient, tmp_path):
    await start(client, tmp_path)
    for name, text in DEEP_DOCUMENTS.items():
        uri = (tmp_path / f"deep {name}.ss").as_uri()
        did_open(client, uri, text)
        found = await published(client, uri)
        assert_within(text, found)
        if name == "unclosed":
            assert len(found) >= 1 and all(d.code == "unclosed" for d in found)
        lines = LineIndex(text)
        middle = lines.pos(len(text) // 2)
        end = lines.pos(len(text))
        for pos in (middle, end, lines.pos(DEEP // 2 + 1)):
            await ask_everything(client, uri, types.Position(line=pos.line, character=pos.character))
        client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=doc_id(uri)))
    await assert_alive(client, tmp_path)


# --------------------------------------------------------------------------- random edit sequences

TOKENS = ["(", ")", "[", "]", "{", "}", "'", "`", ",", ",@", "#", "#;", "#|", "|#", ";", "|", "\\", '"', "\n", "\r\n",
          " ", "\t", "def", "define", "lambda", "λ", "let", "hash-get", "hash-", "import", ":std/iter", "x", "é", "😀",
          "#\\x", "#\\(", "1.5e3", "#t", "#!eof", "(def (f x) (hash-get x 'k))", "(import :std/iter)", "\x00", "\x0c"]
fragments = st.lists(st.sampled_from(TOKENS) | st.text(max_size=3), max_size=8).map("".join)
position = st.builds(types.Position, line=st.integers(0, 12), character=st.integers(0, 40))
partial_change = st.builds(
    lambda start, end, text: types.TextDocumentContentChangePartial(range=types.Range(start=start, end=end), text=text),
    position, position, fragments)  # ranges past the end, and reversed ones, on purpose
whole_change = st.builds(types.TextDocumentContentChangeWholeDocument, text=fragments)
step = st.one_of(
    st.tuples(st.just("edit"), st.lists(partial_change, min_size=1, max_size=3)),
    st.tuples(st.just("edit"), st.lists(whole_change, min_size=1, max_size=1)),
    st.tuples(st.just("completion"), position),
    st.tuples(st.just("hover"), position),
)

# lengths drawn uniformly from 1..30 (plain st.lists favours short lists)
sequences = st.integers(1, 30).flatmap(lambda n: st.lists(step, min_size=n, max_size=n))

_DEFAULTS = validate([]).settings.diagnostics
_WANTED = {"unbound": _DEFAULTS.unbound, "arity": _DEFAULTS.arity, "doc-drift": _DEFAULTS.drift}
bundled_index = functools.cache(lambda: load_index(None))


def expected_diagnostics(uri: str, text: str, version: int) -> list[tuple]:
    """What the server must publish for ``text``: the same analysis, run here on the bundled index."""
    analysis = analyze(text, uri, bundled_index(), version, uri_to_path(uri))
    return sorted((p.code, p.message, repr(range_of(analysis, p.start, p.end)))
                  for p in analysis.problems if _WANTED.get(p.code, True))


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(initial=fragments, steps=sequences)
async def test_random_edit_sequences(client: LanguageClient, tmp_path, initial, steps):
    """Random incremental edits, interleaved with completion and hover, on one open document per example.

    pytest-asyncio runs an async ``@given`` test's examples on the test's event loop, so the
    pytest-lsp ``client`` fixture (one server process) serves every example: that is why the
    function-scoped-fixture health check is off, and why each example opens its own URI. The
    edits are mirrored locally with pygls's ``TextDocument`` (the server's own document
    model); after each sequence the server must publish exactly the diagnostics that the
    same analysis gives for the mirrored text (so they are for the latest version) and then
    still answer a hover on a valid document.
    """
    await start(client, tmp_path)
    uri = (tmp_path / f"edit-{next(_names)}.ss").as_uri()
    mirror = TextDocument(uri, initial, version=1)
    did_open(client, uri, initial)
    version = 1
    for kind, arg in steps:
        if kind == "edit":
            version += 1
            for change in arg:
                mirror.apply_change(change)
            client.text_document_did_change(types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version), content_changes=arg))
        elif kind == "completion":
            result = await bounded(client.text_document_completion_async(
                types.CompletionParams(text_document=doc_id(uri), position=arg)))
            assert result is not None
        else:
            await bounded(client.text_document_hover_async(types.HoverParams(text_document=doc_id(uri), position=arg)))
    want = expected_diagnostics(uri, mirror.source, version)

    def latest() -> bool:
        got = client.diagnostics.get(uri)
        return got is not None and sorted((d.code, d.message, repr(d.range)) for d in got) == want

    await until(latest, what=f"diagnostics of version {version}: {want!r} for {mirror.source!r}")
    assert_within(mirror.source, client.diagnostics[uri])
    client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=doc_id(uri)))
    await assert_alive(client, tmp_path)
