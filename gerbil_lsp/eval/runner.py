"""Asks each model every question (concurrently, with retries and an answer cache) and scores it."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.progress import Progress

from gerbil_lsp.core import paths
from gerbil_lsp.core.atomic import write_text_atomic
from gerbil_lsp.eval.scorer import score_answer
from gerbil_lsp.eval.suite import Question, load_suite

SYSTEM = "You are an expert Gerbil Scheme programmer. Answer precisely, with Gerbil code in ```scheme blocks."


@dataclass
class EvalRun:
    run_id: str
    created: float
    split: str
    models: list[str]
    settings: dict
    scores: dict[str, dict[str, dict]] = field(default_factory=dict)  # model -> question id -> score
    answers: dict[str, dict[str, str]] = field(default_factory=dict)
    tags: dict[str, list[str]] = field(default_factory=dict)  # question id -> tags
    errors: dict[str, dict[str, str]] = field(default_factory=dict)

    def total(self, model: str) -> float:
        rows = self.scores.get(model, {})
        return sum(r["score"] for r in rows.values()) / len(rows) if rows else 0.0

    def by_tag(self, model: str) -> dict[str, float]:
        sums: dict[str, list[float]] = {}
        for qid, row in self.scores.get(model, {}).items():
            for tag in self.tags.get(qid, []):
                sums.setdefault(tag, []).append(row["score"])
        return {tag: sum(v) / len(v) for tag, v in sorted(sums.items())}

    def save(self, directory: Path | None = None) -> Path:
        directory = directory or paths.runs_dir() / "eval"
        path = directory / f"{self.run_id}.json"
        write_text_atomic(path, json.dumps(asdict(self), indent=1, sort_keys=True))
        return path


def load_run(ref: str | Path) -> EvalRun:
    """A saved run by path or by run id."""
    path = Path(ref)
    if not path.is_file():
        path = paths.runs_dir() / "eval" / f"{ref}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no eval run {ref!r} (looked for {path}); `gerbil-lsp eval run` makes one")
    return EvalRun(**json.loads(path.read_text(encoding="utf-8")))


def _cache_key(spec: str, question: Question, settings: dict) -> str:
    blob = json.dumps([spec, question.id, question.question, settings], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


async def _ask(backend, spec: str, question: Question, settings: dict, retries: int) -> str:
    cache = paths.cache_dir() / "eval" / f"{_cache_key(spec, question, settings)}.json"
    if cache.is_file():
        return json.loads(cache.read_text(encoding="utf-8"))["answer"]
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question.question}]
    for attempt in range(retries + 1):
        try:
            completion = await backend.chat(messages, max_tokens=settings["max_tokens"],
                                            temperature=settings["temperature"])
            break
        except Exception:
            if attempt == retries:
                raise
            await asyncio.sleep(0.5 * 2**attempt)
    write_text_atomic(cache, json.dumps({"spec": spec, "question": question.id, "answer": completion.text}))
    return completion.text


async def _run_model(spec, questions, settings, concurrency, retries, run, progress, task) -> None:
    from gerbil_lsp.server.backends import backend_from_spec

    backend = backend_from_spec(spec)
    limit = asyncio.Semaphore(concurrency)

    async def one(question: Question) -> None:
        async with limit:
            try:
                answer = await _ask(backend, spec, question, settings, retries)
            except Exception as exc:
                run.errors.setdefault(spec, {})[question.id] = f"{type(exc).__name__}: {exc}"
                answer = ""
            run.answers.setdefault(spec, {})[question.id] = answer
            run.scores.setdefault(spec, {})[question.id] = score_answer(question, answer).to_dict()
            progress.advance(task)

    try:
        await asyncio.gather(*(one(q) for q in questions))
    finally:
        await backend.aclose()


def run_eval(specs: list[str], split: str = "heldout", *, concurrency: int = 4, retries: int = 2,
             temperature: float = 0.2, max_tokens: int = 768, show_progress: bool = True) -> EvalRun:
    questions = load_suite(split)
    settings = {"temperature": temperature, "max_tokens": max_tokens}
    run = EvalRun(time.strftime("%Y%m%d-%H%M%S") + f"-{hashlib.sha1(repr(specs).encode()).hexdigest()[:6]}",
                  time.time(), split, list(specs), settings, tags={q.id: list(q.tags) for q in questions})

    async def main() -> None:
        with Progress(disable=not show_progress) as progress:
            for spec in specs:
                task = progress.add_task(f"asking {spec}", total=len(questions))
                await _run_model(spec, questions, settings, concurrency, retries, run, progress, task)

    asyncio.run(main())
    return run
