"""One training example and where it came from.

Every source turns its material into :class:`Entry` objects; the checks, the
dedupe, the split and every output format read only this model. The id is a
hash of the content (not of the provenance), so the same text found twice gets
the same id and the same inputs always give the same ids.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any, Literal

Kind = Literal["chat", "fim"]
Role = Literal["system", "user", "assistant"]

#: The system turn every chat entry starts with: it names the language so the
#: model does not answer Gerbil questions with Racket or Guile.
SYSTEM_PROMPT = (
    "You are an expert in Gerbil Scheme (the Gerbil dialect of Scheme built on Gambit). "
    "Answer with correct, idiomatic Gerbil code and say which modules to import."
)


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True)
class Provenance:
    """Where an entry comes from: enough to find the exact place again."""

    source: str  # docs | guide | cookbook | security-rules | error-fixes | resources | gerbil-src | project | tests | harvest
    file: str
    line: int = 0
    gerbil_version: str | None = None
    group: str = ""  # entries of one group land on the same side of the train/held-out split

    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True)
class CodeBlock:
    """A piece of Gerbil code inside an entry, with the imports it is read under.

    ``imports`` are modules the code may use without importing them itself (the
    module a reference page documents, a recipe's ``imports`` list); the code's
    own ``(import ...)`` forms are found by the checks.
    """

    code: str
    imports: tuple[str, ...] = ()
    role: Literal["answer", "question", "fim"] = "answer"


@dataclass(frozen=True)
class FimParts:
    """A fill-in-the-middle split: ``prefix + middle + suffix`` is the original text."""

    prefix: str
    middle: str
    suffix: str
    path: str = ""
    repo_name: str = ""
    context_files: tuple[tuple[str, str], ...] = ()  # (path, text) shown before the file, repo-level FIM
    split_kind: str = ""  # form | argument | body


@dataclass(frozen=True)
class Entry:
    kind: Kind
    provenance: Provenance
    messages: tuple[Message, ...] = ()
    fim: FimParts | None = None
    code: tuple[CodeBlock, ...] = ()
    tags: tuple[str, ...] = ()
    # names the entry says exist, as (name, module); module "" = the prelude
    claims: tuple[tuple[str, str], ...] = ()
    split: Literal["train", "heldout"] = "train"
    id: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", content_id(self))

    # ----------------------------------------------------------------- views

    def with_content(self, **changes: Any) -> Entry:
        """A copy with new content and the id recomputed from it."""
        return replace(self, id="", **changes)

    def text(self) -> str:
        """All the words of the entry, for dedupe, overlap and length counting."""
        if self.kind == "fim" and self.fim is not None:
            return self.fim.prefix + self.fim.middle + self.fim.suffix
        return "\n".join(m.content for m in self.messages if m.role != "system")

    def to_record(self) -> dict[str, Any]:
        """The full entry as plain JSON (``entries.jsonl``, ``data show``)."""
        record: dict[str, Any] = {"id": self.id, "kind": self.kind, "split": self.split}
        if self.messages:
            record["messages"] = [{"role": m.role, "content": m.content} for m in self.messages]
        if self.fim is not None:
            record["fim"] = {
                "prefix": self.fim.prefix,
                "middle": self.fim.middle,
                "suffix": self.fim.suffix,
                "path": self.fim.path,
                "repo_name": self.fim.repo_name,
                "context_files": [list(pair) for pair in self.fim.context_files],
                "split_kind": self.fim.split_kind,
            }
        record["provenance"] = {
            "source": self.provenance.source,
            "file": self.provenance.file,
            "line": self.provenance.line,
            "gerbil_version": self.provenance.gerbil_version,
            "group": self.provenance.group,
        }
        if self.tags:
            record["tags"] = list(self.tags)
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Entry:
        prov = record.get("provenance") or {}
        fim = record.get("fim")
        return cls(
            kind=record.get("kind", "chat"),
            provenance=Provenance(
                source=prov.get("source", "unknown"),
                file=prov.get("file", ""),
                line=int(prov.get("line") or 0),
                gerbil_version=prov.get("gerbil_version"),
                group=prov.get("group", ""),
            ),
            messages=tuple(Message(m["role"], m["content"]) for m in record.get("messages", [])),
            fim=None
            if fim is None
            else FimParts(
                prefix=fim["prefix"],
                middle=fim["middle"],
                suffix=fim["suffix"],
                path=fim.get("path", ""),
                repo_name=fim.get("repo_name", ""),
                context_files=tuple((p, t) for p, t in fim.get("context_files", [])),
                split_kind=fim.get("split_kind", ""),
            ),
            tags=tuple(record.get("tags", ())),
            split=record.get("split", "train"),
            id=record.get("id", ""),
        )


def content_id(entry: Entry) -> str:
    """A stable 16-hex id from the entry's kind and content only."""
    if entry.kind == "fim" and entry.fim is not None:
        payload: Any = [
            "fim",
            entry.fim.prefix,
            entry.fim.middle,
            entry.fim.suffix,
            entry.fim.repo_name,
            [list(p) for p in entry.fim.context_files],
        ]
    else:
        payload = ["chat", [[m.role, m.content] for m in entry.messages]]
    blob = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]


def chat(
    question: str,
    answer: str,
    provenance: Provenance,
    *,
    code: tuple[CodeBlock, ...] = (),
    tags: tuple[str, ...] = (),
    claims: tuple[tuple[str, str], ...] = (),
    system: str = SYSTEM_PROMPT,
) -> Entry:
    """A one-turn chat entry (system, user, assistant)."""
    messages = (Message("system", system), Message("user", question.strip()), Message("assistant", answer.strip()))
    return Entry(kind="chat", provenance=provenance, messages=messages, code=code, tags=tags, claims=claims)


def scheme_block(code: str) -> str:
    """Code fenced the way the model should answer: a ```scheme block."""
    return f"```scheme\n{code.strip()}\n```"
