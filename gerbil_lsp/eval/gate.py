"""The retrain gate: promote a candidate only if it is not worse than the current model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gerbil_lsp.eval.runner import EvalRun, run_eval


@dataclass(frozen=True)
class Verdict:
    promote: bool
    reason: str
    candidate: float
    current: float

    @property
    def scores(self) -> dict[str, float]:
        return {"candidate": round(self.candidate, 4), "current": round(self.current, 4)}


def compare(candidate: EvalRun, current: EvalRun, margin: float = 0.0) -> Verdict:
    """Promote when candidate >= current - margin, on the questions both answered."""
    cand_model, cur_model = candidate.models[0], current.models[0]
    shared = set(candidate.scores[cand_model]) & set(current.scores[cur_model])
    if not shared:
        return Verdict(False, "no question was answered by both models", 0.0, 0.0)
    cand = sum(candidate.scores[cand_model][q]["score"] for q in shared) / len(shared)
    cur = sum(current.scores[cur_model][q]["score"] for q in shared) / len(shared)
    if cand + 1e-9 >= cur - margin:
        return Verdict(True, f"candidate {cand:.3f} >= current {cur:.3f} - margin {margin}", cand, cur)
    return Verdict(False, f"candidate {cand:.3f} < current {cur:.3f} - margin {margin}", cand, cur)


def judge(candidate_spec: str, current_spec: str | None, margin: float = 0.0, *, split: str = "heldout",
          settings: Any = None) -> Verdict:
    """Ask both models the held-out questions and compare; with no current model the candidate wins.

    ``settings`` is the ``[eval]`` section (concurrency, retries, temperature, max_tokens).
    """
    options = {} if settings is None else {"concurrency": settings.concurrency, "retries": settings.retries,
                                           "temperature": settings.temperature, "max_tokens": settings.max_tokens}
    candidate = run_eval([candidate_spec], split, show_progress=False, **options)
    candidate.save()
    if not candidate.scores.get(candidate_spec):
        errors = candidate.errors.get(candidate_spec) or {}
        first = next(iter(errors.values()), "no answers")
        return Verdict(False, f"the candidate answered no question ({first})", 0.0, 0.0)
    if current_spec is None:
        score = candidate.total(candidate_spec)
        return Verdict(True, f"no model is served yet; candidate scores {score:.3f}", score, 0.0)
    current = run_eval([current_spec], split, show_progress=False, **options)
    current.save()
    if not current.scores.get(current_spec):
        score = candidate.total(candidate_spec)
        return Verdict(True, f"the current model {current_spec} answered nothing; candidate scores {score:.3f}",
                       score, 0.0)
    return compare(candidate, current, margin)
