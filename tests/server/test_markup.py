"""Markdown documentation as plain text, for clients that read no Markdown (in process)."""

from __future__ import annotations

from lsprotocol import types

from gerbil_lsp.server.features.markup import markup, plain_text


def test_plain_text_keeps_code_as_written_and_shows_where_links_go():
    markdown = ("```scheme\n(let* (bind ...) body ...)\n```\n\n*macro* — `:std/sugar`\n\n"
                "- one `(f x)`\n- two\n\n[Documentation](https://cons.io/x.html#let)")
    assert plain_text(markdown) == ("(let* (bind ...) body ...)\n\nmacro — :std/sugar\n\n- one (f x)\n\n- two\n\n"
                                    "Documentation <https://cons.io/x.html#let>")


def test_markdown_goes_to_clients_that_read_it_or_say_nothing():
    for formats in (None, [], [types.MarkupKind.PlainText, types.MarkupKind.Markdown]):
        assert markup("*a*", formats) == types.MarkupContent(kind=types.MarkupKind.Markdown, value="*a*")
    assert markup("*a*", [types.MarkupKind.PlainText]) == types.MarkupContent(kind=types.MarkupKind.PlainText,
                                                                              value="a")
