"""Documentation as the client reads it: Markdown, or the same text plain.

Hover and completion documentation is written in Markdown (a ``scheme`` code
block for the signature, a link to the docs). A client that lists the formats
it reads (``hover.contentFormat``, ``completionItem.documentationFormat``)
without Markdown gets plain text: code as written, each link followed by its
address. A client that lists none gets Markdown, which every editor we ship a
configuration for reads.
"""

from __future__ import annotations

from collections.abc import Sequence

from lsprotocol import types
from markdown_it import MarkdownIt

_MARKDOWN = MarkdownIt("commonmark")


def markup(markdown: str, formats: Sequence[types.MarkupKind] | None) -> types.MarkupContent:
    """``markdown`` as the client with these ``formats`` reads it."""
    if not formats or types.MarkupKind.Markdown in formats:
        return types.MarkupContent(kind=types.MarkupKind.Markdown, value=markdown)
    return types.MarkupContent(kind=types.MarkupKind.PlainText, value=plain_text(markdown))


def plain_text(markdown: str) -> str:
    """What a reader of the rendered Markdown sees, as text: paragraphs, code blocks, list items."""
    blocks: list[str] = []
    bullet = ""
    for token in _MARKDOWN.parse(markdown):
        if token.type == "list_item_open":
            bullet = "- "
        elif token.type in ("fence", "code_block"):
            blocks.append(token.content.rstrip("\n"))
        elif token.type == "inline":
            blocks.append(bullet + _inline(token.children or []))
            bullet = ""
    return "\n\n".join(block for block in blocks if block)


def _inline(children) -> str:
    parts: list[str] = []
    href = None
    for child in children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif child.type == "link_open":
            href = child.attrs.get("href")
        elif child.type == "link_close" and href:
            parts.append(f" <{href}>")
            href = None
    return "".join(parts)


def hover_formats(capabilities: types.ClientCapabilities) -> Sequence[types.MarkupKind] | None:
    hover = capabilities.text_document.hover if capabilities.text_document else None
    return hover.content_format if hover else None


def completion_formats(capabilities: types.ClientCapabilities) -> Sequence[types.MarkupKind] | None:
    completion = capabilities.text_document.completion if capabilities.text_document else None
    item = completion.completion_item if completion else None
    return item.documentation_format if item else None


def for_client(items: list[types.CompletionItem], formats: Sequence[types.MarkupKind] | None) -> None:
    """Each item's Markdown documentation made what the client reads (in place)."""
    if not formats or types.MarkupKind.Markdown in formats:
        return
    for item in items:
        doc = item.documentation
        if isinstance(doc, types.MarkupContent) and doc.kind == types.MarkupKind.Markdown:
            item.documentation = markup(doc.value, formats)
