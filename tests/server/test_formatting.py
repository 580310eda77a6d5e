"""Formatting (indentation) through a real `gerbil-lsp serve` process over stdio (pytest-lsp)."""

from __future__ import annotations

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from tests.edits import applied

# Written for these tests: every line but the first is indented wrongly.
MESSY = """(def (count-words text)
(let ((table (make-hash-table))
(words (string-split text #\\space)))
      (for (word words)
   (hash-update! table word 1+ 0))
table))
"""
TIDY = """(def (count-words text)
  (let ((table (make-hash-table))
        (words (string-split text #\\space)))
    (for (word words)
      (hash-update! table word 1+ 0))
    table))
"""
SPACES = types.FormattingOptions(tab_size=4, insert_spaces=True)


async def open_doc(client: LanguageClient, root, text: str, name: str = "main.ss") -> tuple[str, types.InitializeResult]:
    result = await client.initialize_session(types.InitializeParams(
        capabilities=types.ClientCapabilities(), root_uri=root.as_uri()))
    uri = (root / name).as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="gerbil", version=1, text=text)))
    return uri, result


def doc(uri: str) -> types.TextDocumentIdentifier:
    return types.TextDocumentIdentifier(uri=uri)


async def test_formatting_reindents_the_file_and_only_its_indentation(client: LanguageClient, tmp_path):
    uri, init = await open_doc(client, tmp_path, MESSY)
    capabilities = init.capabilities
    assert capabilities.document_formatting_provider and capabilities.document_range_formatting_provider
    assert capabilities.document_on_type_formatting_provider.first_trigger_character == "\n"

    edits = await client.text_document_formatting_async(types.DocumentFormattingParams(
        text_document=doc(uri), options=SPACES))
    assert applied(MESSY, edits) == TIDY
    # one edit per line that changes, each over the line's leading whitespace only
    assert len(edits) == 5 and all(e.range.start.character == 0 and e.range.start.line == e.range.end.line
                                   and not e.new_text.strip() for e in edits)

    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=TIDY)]))
    assert list(await client.text_document_formatting_async(types.DocumentFormattingParams(
        text_document=doc(uri), options=SPACES))) == []


async def test_macros_indent_their_body_where_their_pattern_or_documentation_puts_it(client: LanguageClient, tmp_path):
    # over-table: the file's own macro, (_ t body ...); let-hash: :std/sugar's, documented (let-hash hash body ...)
    text = ("(import :std/sugar)\n(defrules over-table ()\n((_ t body ...) (let ((x t)) body ...)))\n"
            "(def (f h)\n(over-table h\n(display h)\n(newline))\n(let-hash h\n(display .a))\n(frob h\n1))\n")
    uri, _ = await open_doc(client, tmp_path, text)
    edits = await client.text_document_formatting_async(types.DocumentFormattingParams(
        text_document=doc(uri), options=SPACES))
    assert applied(text, edits) == (
        "(import :std/sugar)\n(defrules over-table ()\n  ((_ t body ...) (let ((x t)) body ...)))\n"
        "(def (f h)\n  (over-table h\n    (display h)\n    (newline))\n  (let-hash h\n    (display .a))\n"
        "  (frob h\n        1))\n")  # frob is no macro: a call, aligned under its argument


async def test_range_formatting_touches_the_selected_lines_only(client: LanguageClient, tmp_path):
    uri, _ = await open_doc(client, tmp_path, MESSY)
    # lines 2 and 3 (0-based 1..2), selected as whole lines: the selection ends at the start of line 3
    edits = await client.text_document_range_formatting_async(types.DocumentRangeFormattingParams(
        text_document=doc(uri), options=SPACES,
        range=types.Range(start=types.Position(line=1, character=0), end=types.Position(line=3, character=0))))
    assert sorted(e.range.start.line for e in edits) == [1, 2]
    out = applied(MESSY, edits).split("\n")
    assert out[1:3] == TIDY.split("\n")[1:3] and out[3:] == MESSY.split("\n")[3:]


async def test_a_new_line_in_an_unfinished_form_is_indented(client: LanguageClient, tmp_path):
    text = "(def (greet name)\n  (let ((greeting \"hello\"))\n"
    uri, _ = await open_doc(client, tmp_path, text)
    edits = await client.text_document_on_type_formatting_async(types.DocumentOnTypeFormattingParams(
        text_document=doc(uri), position=types.Position(line=2, character=0), ch="\n", options=SPACES))
    assert applied(text, edits) == text + "    "  # the let's body, though nothing is closed yet


async def test_tabs_trailing_whitespace_and_final_newlines_as_the_editor_asks(client: LanguageClient, tmp_path):
    text = '(def (f x)   \n(g x\n"one  \n  two"))\n\n\n'
    uri, _ = await open_doc(client, tmp_path, text)
    edits = await client.text_document_formatting_async(types.DocumentFormattingParams(
        text_document=doc(uri), options=types.FormattingOptions(
            tab_size=2, insert_spaces=False, trim_trailing_whitespace=True, trim_final_newlines=True)))
    # `(g` at column 2 is one tab; the string under `x` (column 5) is two tabs and a space;
    # the spaces inside the string are kept, the ones after `(def (f x)` are not
    assert applied(text, edits) == '(def (f x)\n\t(g x\n\t\t "one  \n  two"))\n'

    uri, _ = uri.replace("main.ss", "other.ss"), None
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="gerbil", version=1, text="(f)")))
    edits = await client.text_document_formatting_async(types.DocumentFormattingParams(
        text_document=doc(uri), options=types.FormattingOptions(tab_size=2, insert_spaces=True,
                                                                insert_final_newline=True)))
    assert applied("(f)", edits) == "(f)\n"


@pytest.mark.parametrize(("text", "reason"), [
    ("(def (f x) x)\n(g x))\n", "main.ss:2: unexpected ')'"),
    ("#lang :std/parser/grammar\n%%parser p\n  A <- B\n", "main.ss is read by `#lang :std/parser/grammar`"),
])
async def test_a_file_that_does_not_read_is_refused_with_the_place(client: LanguageClient, tmp_path, text, reason):
    uri, _ = await open_doc(client, tmp_path, text)
    with pytest.raises(JsonRpcException) as refused:
        await client.text_document_formatting_async(types.DocumentFormattingParams(
            text_document=doc(uri), options=SPACES))
    assert refused.value.code == types.LSPErrorCodes.RequestFailed
    assert reason in refused.value.message
