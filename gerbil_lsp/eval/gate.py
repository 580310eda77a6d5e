"""The retrain gate: promote a candidate only if it is not worse than the current model."""

from __future__ import annotations

from dataclasses import dataclass

from gerbil_lsp.eval.runner import EvalRun


@dataclass(frozen=True)
class Verdict:
    promote: bool
    reason: str
    candidate: float
    current: float


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
