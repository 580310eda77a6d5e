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


def _answered(run: EvalRun, model: str) -> set[str]:
    """Questions the model answered (a failed request scores 0 in the run, but it is no answer)."""
    return set(run.scores.get(model, {})) - set(run.errors.get(model, {}))


def compare(candidate: EvalRun, current: EvalRun, margin: float = 0.0) -> Verdict:
    """Promote when candidate >= current - margin, on the questions both answered."""
    cand_model, cur_model = candidate.models[0], current.models[0]
    shared = _answered(candidate, cand_model) & _answered(current, cur_model)
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
    if not _answered(candidate, candidate_spec):
        errors = candidate.errors.get(candidate_spec) or {}
        first = next(iter(errors.values()), "no answers")
        return Verdict(False, f"the candidate answered no question ({first})", 0.0, 0.0)
    if current_spec is None:
        score = candidate.total(candidate_spec)
        return Verdict(True, f"no model is served yet; candidate scores {score:.3f}", score, 0.0)
    current = run_eval([current_spec], split, show_progress=False, **options)
    current.save()
    if not _answered(current, current_spec):  # no comparison, no promotion: the served model stays
        errors = current.errors.get(current_spec) or {}
        first = next(iter(errors.values()), "no answers")
        return Verdict(False, f"could not compare: the current model {current_spec} answered no question "
                              f"({first})", candidate.total(candidate_spec), 0.0)
    return compare(candidate, current, margin)
