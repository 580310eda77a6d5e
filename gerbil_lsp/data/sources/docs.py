"""Gerbil's own documentation: reference pages, the guide and the tutorials.

Reference pages are read with the symbol index's doc parser
(:func:`gerbil_lsp.core.index.docs.parse_page`), so the data and the index
agree on every signature, module and example. Per documented binding we make
an entry teaching its signature, module and behaviour, and one teaching its use
from the page's examples. Guide and tutorial pages give one question/answer
entry per section that has Gerbil code.
"""

from __future__ import annotations

import re
from pathlib import Path

from gerbil_lsp.data.entries import CodeBlock, Provenance, chat, scheme_block
from gerbil_lsp.data.sources import Sink, read_text
from gerbil_lsp.data.sources.markdown import render, split_sections
from gerbil_lsp.data.sources.repl import transcript_code

GUIDE_DIRS = ("guide", "tutorials")
_HEADING_LINE = re.compile(r"^#{1,6}\s")


def from_docs(docs: Path, sink: Sink, *, version: str | None = None) -> None:
    """Entries from a Gerbil ``doc/`` folder (or its ``reference/`` alone)."""
    docs = Path(docs)
    if not docs.is_dir():
        sink.warn(str(docs), 0, "docs folder not found")
        return
    from gerbil_lsp.core.index.docs import SKIP_PREFIXES, find_reference_dir

    ref = find_reference_dir(docs)
    root = ref.parent if ref.name == "reference" else ref
    for page in sorted(ref.rglob("*.md")):
        rel = page.relative_to(ref).as_posix()
        if rel.startswith(SKIP_PREFIXES):
            continue
        reference_page(page, rel, f"{ref.relative_to(root).as_posix()}/{rel}" if ref != root else rel, sink, version)
    for sub in GUIDE_DIRS:
        for page in sorted((root / sub).rglob("*.md")) if (root / sub).is_dir() else []:
            guide_page(page, page.relative_to(root).as_posix(), sink, version)


def reference_page(path: Path, rel: str, shown: str, sink: Sink, version: str | None) -> None:
    from gerbil_lsp.core.index.docs import parse_page

    text = read_text(path, sink, shown)
    if text is None:
        return
    try:
        page = parse_page(text, rel)
    except Exception as exc:  # an odd page must not stop the build
        sink.warn(shown, 0, f"could not parse reference page ({type(exc).__name__}: {exc}); skipped")
        sink.drop("unparsable doc page", shown)
        return
    headings = [(i + 1, line) for i, line in enumerate(text.splitlines()) if _HEADING_LINE.match(line)]
    for sym in page.symbols:
        line = heading_line(sym.name, headings)
        prov = Provenance("docs", shown, line, version, f"docs:{shown}")
        symbol_entries(sym, prov, sink)


def heading_line(name: str, headings: list[tuple[int, str]]) -> int:
    """The line of the first heading naming ``name`` as a whole word (``0`` if none does)."""
    pattern = None
    for n, heading in headings:
        if name in heading:  # (cheap: the pattern cannot match a heading without the name)
            pattern = pattern or re.compile(rf"(^|[\s`,]){re.escape(name)}($|[\s`,#])")
            if pattern.search(heading):
                return n
    return 0


def _where(module: str | None) -> str:
    if module is None:
        return "is in the prelude: no import is needed"
    return f"comes from `{module}`: import it with `(import {module})`"


def symbol_entries(sym, prov: Provenance, sink: Sink) -> None:
    """A binding's signature/module/behaviour entry and, with examples, its use entry."""
    claims = ((sym.name, sym.module or ""),)
    imports = (sym.module,) if sym.module else ()
    kind = sym.kind if sym.kind in ("macro", "procedure", "syntax", "struct", "class") else sym.kind or "binding"
    article = "an" if kind[:1] in "aeiou" else "a"
    parts = [f"`{sym.name}` is {article} {kind} that {_where(sym.module)}."]
    if sym.signatures:
        parts.append("Usage:\n\n" + scheme_block("\n".join(sym.signatures)))
    if sym.params:
        parts.append("\n".join(f"- {p}" for p in sym.params))
    if sym.description:
        parts.append(sym.description.strip())
    if len(parts) == 1 and not sym.signatures:
        sink.drop("documented name without signature or description", prov.where())
        return
    sink.add(chat(
        f"What does `{sym.name}` do in Gerbil Scheme, and how do I call it?",
        "\n\n".join(parts),
        prov,
        claims=claims,
        tags=("reference",),
    ))
    for n, example in enumerate(sym.examples or ()):
        if not example.strip():
            continue
        lead = f"Here is `{sym.name}` in use" + (f" (after `(import {sym.module})`)" if sym.module else "") + ":"
        tail = f"\n\n{sym.summary}" if sym.summary else ""
        question = f"Show me an example of using `{sym.name}` in Gerbil Scheme."
        if n:
            question = f"Give me another example of `{sym.name}` in Gerbil Scheme (example {n + 1})."
        sink.add(chat(
            question,
            f"{lead}\n\n{scheme_block(example)}{tail}",
            prov,
            code=(CodeBlock(transcript_code(example), imports),),
            claims=claims,
            tags=("reference", "example"),
        ))


def _shell(code: str) -> bool:
    """A "scheme" block that is really a shell session (``$ gxi ...``)."""
    return any(line.lstrip().startswith("$ ") for line in code.splitlines())


def guide_page(path: Path, shown: str, sink: Sink, version: str | None) -> None:
    text = read_text(path, sink, shown)
    if text is None:
        return
    sections = split_sections(text)
    title = next((s.heading for s in sections if s.level == 1), path.stem.replace("-", " "))
    for section in sections:
        if section.unclosed_fence:
            sink.warn(shown, section.unclosed_fence, "code fence never closed; section skipped")
            sink.drop("unclosed code fence", f"{shown}:{section.unclosed_fence}")
            continue
        code = [c for c in section.code if c.lang in ("scheme", "gerbil") and not _shell(c.code)]
        if not code or not section.heading:
            continue
        answer = render(section)
        if len(answer) < 40:
            continue
        heading = section.heading.strip("` ")
        question = (
            f"{heading}: how do I do this in Gerbil Scheme?"
            if section.level == 1 or heading == title
            else f"In Gerbil Scheme ({title}), how does this work: {heading}?"
        )
        sink.add(chat(
            question,
            answer,
            Provenance("guide" if shown.startswith("guide") else "tutorials", shown, section.line, version,
                       f"guide:{shown}"),
            code=tuple(CodeBlock(transcript_code(c.code)) for c in code),
            tags=("guide",),
        ))
