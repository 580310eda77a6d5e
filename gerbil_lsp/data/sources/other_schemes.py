"""Other Schemes' names and what Gerbil calls them: one chat entry per name the index can answer.

The names general code models invent for Gerbil (``hash-table-ref``,
``string->jsexpr``, ``with-handlers``) are the ones in
:mod:`gerbil_lsp.core.other_schemes`, the table the language server's
diagnostics use. Each entry asks how to write one of them in Gerbil and answers
with the Gerbil names the index has, their signatures and the import they need;
the names are the entry's claims, so the identifier check holds each to the
index as it does every other entry. The other Scheme's name is only in the
question: no answer shows it (the eval counts any mention of it against an
answer). A row none of whose names the index has is dropped with its reason.
"""

from __future__ import annotations

from gerbil_lsp.core.other_schemes import WHERE, OtherName, table
from gerbil_lsp.data.entries import Provenance, chat
from gerbil_lsp.data.sources import Sink

SOURCE = "other-schemes"
_QUESTIONS = (
    "How do I write `{name}` ({origin}) in Gerbil Scheme?",
    "My Scheme code uses `{name}` from {origin}. What is the Gerbil equivalent?",
    "Gerbil says `{name}` is unbound. What should I use instead?",
)


def from_other_schemes(index, sink: Sink, *, version: str | None = None) -> None:
    """One entry per row of the table whose Gerbil names ``index`` has (at least one of them)."""
    for number, row in enumerate(table().values()):
        found = [(g, module) for g in row.gerbil if (module := home(index, g)) is not None]
        if not found:
            sink.drop("other-schemes: no Gerbil name for it in the index", f"{WHERE}: {row.name}")
            continue
        question = _QUESTIONS[number % len(_QUESTIONS)].format(name=row.name, origin=row.origin)
        provenance = Provenance(SOURCE, WHERE, gerbil_version=version, group=f"{SOURCE}:{row.name}")
        sink.add(chat(question, answer(index, row, found), provenance, tags=(SOURCE,), claims=tuple(found)))


def home(index, name: str) -> str | None:
    """Where ``name`` comes from: "" for the prelude, a module to import, None when the index lacks it."""
    if index.resolve(name, []) is not None:
        return ""
    exporters = index.modules_exporting(name)
    return exporters[0] if exporters else None


def answer(index, row: OtherName, found: list[tuple[str, str]]) -> str:
    """The Gerbil names for ``row``, each with where it comes from and its signature, then the row's note."""
    names = [f"`{name}`" for name, _ in found]
    use = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    lines = [f"In Gerbil, use {use}:"]  # the other name stays in the question: answers never show it
    for name, module in found:
        symbol = index.get(module or None, name) or index.resolve(name, [])
        signature = symbol.signatures[0] if symbol is not None and symbol.signatures else None
        where = "in the prelude, no import needed" if not module else f"from `(import {module})`"
        lines.append(f"- `{name}`, {where}" + (f": `{signature}`" if signature else ""))
    if row.note:
        lines.append(f"Note: {row.note}.")
    return "\n".join(lines)
