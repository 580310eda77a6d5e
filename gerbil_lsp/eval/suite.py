"""The question suite: TOML files shipped with the package, validated on load."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

SPLITS = ("train", "heldout")


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    must_mention: tuple[str, ...]
    must_not_mention: tuple[str, ...]
    tags: tuple[str, ...]
    source: str
    split: str


@dataclass(frozen=True)
class FimTask:
    id: str
    prefix: str
    suffix: str
    must_use: tuple[str, ...]
    source: str
    split: str


class SuiteError(ValueError):
    pass


def _read(name: str) -> dict:
    text = resources.files("gerbil_lsp.eval").joinpath("suite", name).read_text(encoding="utf-8")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError(f"gerbil_lsp/eval/suite/{name}: {exc}") from None


def _check(kind: str, rows: list[dict], required: tuple[str, ...]) -> None:
    seen: set[str] = set()
    for number, row in enumerate(rows, 1):
        missing = [key for key in required if not row.get(key)]
        if missing:
            raise SuiteError(f"{kind} #{number} ({row.get('id', '?')}): missing {', '.join(missing)}")
        if row["id"] in seen:
            raise SuiteError(f"{kind} #{number}: duplicate id {row['id']!r}")
        if row["split"] not in SPLITS:
            raise SuiteError(f"{kind} {row['id']}: split must be one of {SPLITS}, found {row['split']!r}")
        seen.add(row["id"])


@cache
def _questions() -> tuple[Question, ...]:
    rows = _read("questions.toml").get("question", [])
    _check("question", rows, ("id", "question", "must_mention", "tags", "source", "split"))
    return tuple(
        Question(r["id"], r["question"], tuple(r["must_mention"]), tuple(r.get("must_not_mention", ())),
                 tuple(r["tags"]), r["source"], r["split"])
        for r in rows
    )


@cache
def _fim_tasks() -> tuple[FimTask, ...]:
    rows = _read("fim.toml").get("task", [])
    _check("task", rows, ("id", "prefix", "suffix", "must_use", "source", "split"))
    return tuple(FimTask(r["id"], r["prefix"], r["suffix"], tuple(r["must_use"]), r["source"], r["split"]) for r in rows)


def load_suite(split: str | None = None) -> list[Question]:
    """Questions of one split ("train" / "heldout"), or all of them."""
    return [q for q in _questions() if split in (None, "all", q.split)]


def load_fim_tasks(split: str | None = None) -> list[FimTask]:
    return [t for t in _fim_tasks() if split in (None, "all", t.split)]
