"""Scores any model endpoint on Gerbil questions with known answers; the gate for retraining."""

from gerbil_lsp.eval.gate import Verdict, compare
from gerbil_lsp.eval.overlap import overlaps_heldout
from gerbil_lsp.eval.runner import EvalRun, load_run, run_eval
from gerbil_lsp.eval.scorer import AnswerScore, score_answer, score_fim
from gerbil_lsp.eval.suite import FimTask, Question, load_fim_tasks, load_suite

__all__ = [
    "AnswerScore", "EvalRun", "FimTask", "Question", "Verdict", "compare", "load_fim_tasks", "load_run",
    "load_suite", "overlaps_heldout", "run_eval", "score_answer", "score_fim",
]
