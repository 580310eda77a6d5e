"""``gerbil-lsp retrain``: harvested entries -> new dataset -> candidate -> eval gate -> promote or keep.

Steps, each through another part's public functions:

1. dataset: the data part's ``build_dataset`` over the configured base sources
   plus every harvested entry not rejected (``entries_from_harvest``);
2. candidate: the trainer part trains an adapter on it (``--backend``);
3. gate: the eval part scores candidate and current model on the eval suite;
   the candidate is promoted only if it is not worse than the current one by
   more than ``harvest.promote_margin``;
4. promote: the trainer part makes it the served version, keeping the previous
   one for rollback.

The whole run holds ``retrain.lock`` (one retrain at a time) and writes its
progress to the status file the language server shows in the editor. A
report (``report.md`` + ``report.json``) in the run folder says what changed
and why the candidate was or was not promoted. Entries that went into a
trained candidate become ``used``; after a failure they stay ``pending``.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from filelock import Timeout
from rich.console import Console

from gerbil_lsp.core import paths
from gerbil_lsp.core.atomic import write_text_atomic
from gerbil_lsp.core.settings import Settings, load_settings
from gerbil_lsp.harvest.retrain_trigger import retrain_lock, write_status
from gerbil_lsp.harvest.store import HarvestStore, StoredEntry


class RetrainError(RuntimeError):
    """A retrain that cannot start or cannot finish, said so the user can act."""


@dataclass
class RetrainReport:
    state: str  # dry-run | promoted | kept | failed
    reason: str
    run_dir: str = ""
    backend: str = ""
    harvested: dict[str, int] = field(default_factory=dict)  # by kind/source
    pending_used: int = 0
    base_sources: dict[str, Any] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)
    candidate: str = ""
    current: str = ""
    scores: dict[str, Any] = field(default_factory=dict)
    steps: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        lines = [f"retrain: {self.state} — {self.reason}"]
        if self.harvested:
            lines.append("harvested entries: " + ", ".join(f"{k} {v}" for k, v in sorted(self.harvested.items())))
        if self.base_sources:
            configured = ", ".join(f"{k}={v}" for k, v in self.base_sources.items() if v)
            lines.append("base sources: " + (configured or "none configured (set data.docs, data.cookbooks, "
                                                            "data.gerbil_src): harvested entries only"))
        lines.extend(f"  {step}" for step in self.steps)
        if self.scores:
            lines.append("scores: " + json.dumps(self.scores))
        if self.run_dir:
            lines.append(f"report: {self.run_dir}/report.md")
        return "\n".join(lines)

    def write(self, run_dir: Path) -> None:
        write_text_atomic(run_dir / "report.json", json.dumps(asdict(self), indent=2))
        write_text_atomic(run_dir / "report.md", "# Retrain report\n\n```\n" + self.summary() + "\n```\n")


def harvest_records(entries: list[StoredEntry]) -> list[dict[str, Any]]:
    """Stored payloads in the shape the data part's ``entries_from_harvest`` reads."""
    records = []
    for entry in entries:
        prov = entry.payload.get("provenance") or {}
        base = {"file": prov.get("file") or entry.file or "", "line": prov.get("line", 0),
                "group": prov.get("group") or entry.file or entry.session_id or ""}
        if entry.kind == "fim":
            records.append({**base, **{k: v for k, v in entry.payload["fim"].items()}})
        else:
            records.append({**base, "messages": entry.payload.get("messages", [])})
    return records


def _counts(entries: list[StoredEntry]) -> dict[str, int]:
    return dict(Counter(f"{e.kind}/{e.source}" for e in entries))


def _base_sources(settings: Settings) -> dict[str, Any]:
    data = settings.data
    return {"docs": data.docs, "cookbooks": list(data.cookbooks), "gerbil_src": data.gerbil_src,
            "projects": list(data.projects)}


def _current_model(settings: Settings) -> str:
    model = settings.model
    if model.backend == "none":
        return "none"
    return f"{model.backend}:{model.model}" + (f"+{model.adapter}" if model.adapter else "")


# --------------------------------------------------------------------------- steps (other parts)


def build_retrain_dataset(settings: Settings, records: list[dict[str, Any]], output: Path):
    from gerbil_lsp.data import build_dataset, entries_from_harvest

    data = settings.data
    return build_dataset(docs=data.docs, cookbooks=data.cookbooks, gerbil_src=data.gerbil_src,
                         projects=data.projects, output=output, seed=data.seed,
                         extra_entries=entries_from_harvest(records))


def train_candidate(settings: Settings, dataset_dir: Path, backend: str, output: Path) -> Any:
    from gerbil_lsp.trainer.candidate import train_candidate as trainer_train

    return trainer_train(dataset_dir=dataset_dir, backend=backend, output=output, settings=settings)


def gate(settings: Settings, candidate: Any, margin: float) -> Any:
    from gerbil_lsp.eval.gate import judge
    from gerbil_lsp.server.backends import spec_from_settings
    from gerbil_lsp.trainer.versions import set_score

    verdict = judge(candidate.spec, spec_from_settings(settings), margin, settings=settings.eval)
    set_score(candidate.version_id, verdict.candidate)  # `gerbil-lsp models list` shows it
    return verdict


def promote(settings: Settings, candidate: Any) -> str:
    from gerbil_lsp.trainer.candidate import promote_candidate

    return promote_candidate(candidate, settings=settings)


# --------------------------------------------------------------------------- the run


def run_retrain(*, backend: str | None = None, force: bool = False, dry_run: bool = False,
                console: Console | None = None) -> RetrainReport:
    console = console or Console(stderr=True)
    started = time.monotonic()
    settings = load_settings().settings
    backend = backend or settings.train.backend
    if backend not in ("local", "together"):
        raise RetrainError(f"unknown backend {backend!r}: use local or together")
    threshold = settings.harvest.retrain_threshold
    with HarvestStore() as store:
        pending = store.entries(status="pending")
        used = store.entries(status="used")
    report = RetrainReport(state="dry-run", reason="", backend=backend, harvested=_counts(pending + used),
                           pending_used=len(pending), base_sources=_base_sources(settings),
                           current=_current_model(settings))
    report.steps = [
        f"1. dataset: base sources + {len(pending) + len(used)} harvested entries "
        f"({len(pending)} new since the last retrain)",
        f"2. candidate: train a LoRA with the {backend} backend ({settings.train.base_model})",
        f"3. gate: eval suite, candidate vs current ({report.current}); margin {settings.harvest.promote_margin}",
        "4. promote if not worse (previous version kept for rollback), else keep the current model",
    ]
    if not force and len(pending) < threshold:
        report.reason = f"{len(pending)} pending entries, below the threshold of {threshold} (use --force)"
        if dry_run:
            return report
        raise RetrainError(report.reason)
    if dry_run:
        report.reason = f"would retrain on {len(pending)} new entries (threshold {threshold})"
        return report

    lock = retrain_lock()
    try:
        lock.acquire(timeout=2)
    except Timeout:
        raise RetrainError("a retrain is already running (retrain.lock is held); wait for it to finish") from None
    run_dir = paths.runs_dir() / f"retrain-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    run_dir.mkdir(parents=True, exist_ok=True)
    report.run_dir = str(run_dir)
    snapshot = [e.id for e in pending]
    try:
        write_status(state="running", step="dataset", fraction=0.05, pid=os.getpid(), started=time.time(),
                     message="building the dataset", run_dir=str(run_dir))
        result = build_retrain_dataset(settings, harvest_records(pending + used), run_dir / "dataset")
        report.dataset = {"entries": len(result.entries), "output": str(result.output)}
        write_status(step="train", fraction=0.2, message=f"training a candidate ({backend})")
        candidate = train_candidate(settings, Path(result.output), backend, run_dir / "candidate")
        report.candidate = str(candidate)
        with HarvestStore() as store:
            store.set_status(snapshot, "used", reason=f"trained in {run_dir.name}")
        write_status(step="gate", fraction=0.8, message="evaluating candidate vs current")
        verdict = gate(settings, candidate, settings.harvest.promote_margin)
        report.scores = dict(getattr(verdict, "scores", {}) or {})
        if getattr(verdict, "promote", False):
            where = promote(settings, candidate)
            report.state = "promoted"
            report.reason = getattr(verdict, "reason", "") or f"candidate is not worse; now serving {where}"
        else:
            report.state = "kept"
            report.reason = getattr(verdict, "reason", "") or "candidate is worse than the current model"
    except RetrainError as exc:
        report.state, report.reason = "failed", str(exc)
    except Exception as exc:  # a failed step must still leave a report and a status
        report.state, report.reason = "failed", f"{type(exc).__name__}: {exc}"
    finally:
        report.seconds = time.monotonic() - started
        report.write(run_dir)
        write_status(state=report.state, step="done", fraction=1.0, message=report.reason,
                     report=str(run_dir / "report.md"))
        lock.release()
    if report.state == "failed":
        raise RetrainError(report.reason + f" (report: {run_dir}/report.md)")
    return report
