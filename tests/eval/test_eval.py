"""Eval: the suite, the scorer on hand-written answers, the runner against a loopback endpoint, the gate."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from gerbil_lsp.eval import (
    compare,
    load_fim_tasks,
    load_suite,
    overlaps_heldout,
    run_eval,
    score_answer,
    score_fim,
)
from gerbil_lsp.eval.runner import load_run
from tests.fakes.openai_fake import OpenAIFake
from tests.real_weights import smollm2_gguf

MUST_PASS = {"must-iterate-hash", "must-hash-get-vs-ref", "must-error-class", "must-static-exe", "must-ffi-u8vector"}


def question(qid):
    return next(q for q in load_suite() if q.id == qid)


def test_suite_is_valid_and_holds_the_five_checks_out():
    questions = load_suite()
    assert len({q.id for q in questions}) == len(questions)
    heldout = {q.id for q in load_suite("heldout")}
    assert MUST_PASS <= heldout
    assert all(q.source and q.tags for q in questions)
    assert load_fim_tasks("heldout")


GOOD_ITERATION = """Import the iterators:
```scheme
(import :std/iter)
(def (show-all ht)
  (for ((values k v) (in-hash ht))
    (displayln k " => " v)))
```
Without the import, `hash-for-each` does the same.
"""


def test_good_answer_scores_full():
    score = score_answer(question("must-iterate-hash"), GOOD_ITERATION)
    assert score.score == 1.0 and score.hallucinated == [] and score.missing_imports == []


def test_hallucinated_names_and_forbidden_names_are_caught():
    answer = "```scheme\n(hash-table-walk ht (lambda (k v) (display k)))\n(hash-table-ref ht 'a)\n```"
    score = score_answer(question("must-iterate-hash"), answer)
    assert score.forbidden == ["hash-table-walk", "hash-table-ref"]
    assert set(score.hallucinated) == {"hash-table-walk", "hash-table-ref"}
    assert score.score < 0.5


def test_missing_import_and_unbalanced_code_cost_points():
    missing_import = "Use string->json-object:\n```scheme\n(def (parse s) (string->json-object s))\n```"
    score = score_answer(question("json-read"), missing_import)
    assert score.missing_imports == ["string->json-object"] and score.score < 1.0
    with_import = "```scheme\n(import :std/text/json)\n(def (parse s) (string->json-object s))\n```"
    assert score_answer(question("json-read"), with_import).score == 1.0
    unbalanced = "```scheme\n(import :std/text/json)\n(def (parse s) (string->json-object s)\n```"
    broken = score_answer(question("json-read"), unbalanced)
    assert broken.unreadable_blocks == 1 and broken.score < 1.0


def test_names_count_only_when_shown_as_gerbil_code():
    python = ("To iterate over a hash table in Gerbil Scheme, use a for loop:\n```python\n"
              "for key in table:\n    print(key)\n```\n")
    assert score_answer(question("must-iterate-hash"), python).mentioned == []  # was 1/3 for the word "for"
    inline = "Import `:std/iter`, then loop with `for` over `(in-hash ht)`."
    assert score_answer(question("must-iterate-hash"), inline).mentioned == [":std/iter", "in-hash", "for"]
    prose = ("`hash-get` returns #f for a missing key; `hash-ref` raises an error unless you pass a default.")
    assert "default" in score_answer(question("must-hash-get-vs-ref"), prose).mentioned  # a word, not a name
    assert "#f" in score_answer(question("must-hash-get-vs-ref"), prose).mentioned  # literals read the same in prose
    assert "hash-get" not in score_answer(question("must-hash-get-vs-ref"), "use `hash-get-ish`").mentioned


def test_fim_scoring_uses_the_reader_and_required_names():
    task = next(t for t in load_fim_tasks() if t.id == "fim-hash-get")
    assert score_fim(task, "hash-get").score == 1.0
    assert score_fim(task, "hash-ref").score == 0.5
    assert score_fim(task, "hash-get (").score == 0.5


def test_heldout_overlap_check():
    assert overlaps_heldout("Q: How do I iterate over a hash table in Gerbil Scheme? A: use in-hash")
    assert not overlaps_heldout("(def (add a b) (+ a b)) adds two numbers together quickly")


def teaching_model(body: dict) -> str:
    """A fake model that knows the iteration answer and invents names for the rest."""
    asked = body["messages"][-1]["content"]
    if "iterate over a hash table" in asked:
        return GOOD_ITERATION
    return "```scheme\n(hash-table-ref table key)\n```"


def test_runner_against_a_loopback_openai_endpoint_caches_and_gates(monkeypatch):
    # The fake reproduces OpenAI's documented POST /v1/chat/completions (JSON and SSE streaming),
    # driven by the real `openai` SDK through the backend.
    with OpenAIFake(responder=teaching_model) as good, OpenAIFake(responder=lambda body: "I do not know.") as bad:
        specs = [f"openai-chat:{good.url}/v1#gerbil-coder", f"openai-chat:{bad.url}/v1#Qwen/Qwen2.5-Coder-7B-Instruct"]
        run = run_eval(specs, "heldout", concurrency=3, show_progress=False)
        first_requests = len(good.ledger.requests)
        assert first_requests == len(load_suite("heldout"))
        again = run_eval(specs[:1], "heldout", show_progress=False)
        assert len(good.ledger.requests) == first_requests  # answered from the cache
    assert not run.errors
    assert run.scores[specs[0]]["must-iterate-hash"]["score"] == 1.0
    assert run.total(specs[0]) > run.total(specs[1])
    assert again.total(specs[0]) == run.total(specs[0])
    saved = load_run(run.save())
    assert saved.by_tag(specs[0]) == run.by_tag(specs[0])
    verdict = compare(load_run(run.save()), again, margin=0.0)
    assert verdict.promote
    worse = run_eval(specs[1:], "heldout", show_progress=False)
    assert not compare(worse, again, margin=0.01).promote


def test_unreachable_endpoint_is_recorded_not_fatal():
    with OpenAIFake() as fake:
        url = fake.url
    run = run_eval([f"openai-chat:{url}/v1#gerbil-coder"], "heldout", retries=0, show_progress=False)
    assert len(run.errors[run.models[0]]) == len(load_suite("heldout"))
    assert run.total(run.models[0]) == 0.0


def test_the_retrain_gate_judges_candidate_against_the_served_model():
    from gerbil_lsp.core.settings import EvalSettings
    from gerbil_lsp.eval.gate import judge

    quick = EvalSettings(retries=0, concurrency=2)
    with OpenAIFake(responder=teaching_model) as good, OpenAIFake(responder=lambda body: "I do not know.") as bad:
        candidate = f"openai-chat:{good.url}/v1#gerbil-coder"
        current = f"openai-chat:{bad.url}/v1#Qwen/Qwen2.5-Coder-7B-Instruct"
        assert judge(candidate, current, settings=quick).promote
        assert not judge(current, candidate, settings=quick).promote  # worse than what is served: kept
        assert judge(candidate, None, settings=quick).promote  # nothing served yet
        gone = f"openai-chat:{bad.url}/v1#no-such-model"  # every request fails (404)
        verdict = judge(candidate, gone, settings=quick)
    assert not verdict.promote and "could not compare" in verdict.reason  # no comparison, no promotion


def test_cli_run_and_show_write_reports(tmp_path):
    with OpenAIFake(responder=teaching_model) as fake:
        env = {**os.environ, "COLUMNS": "160"}
        result = subprocess.run([sys.executable, "-m", "gerbil_lsp", "eval", "run", "--model",
                                 f"openai-chat:{fake.url}/v1#gerbil-coder", "-o", str(tmp_path), "--fail-below", "0.99"],
                                capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 1, result.stderr  # below the gate: exit 1
    assert "total" in result.stdout and "iteration" in result.stdout
    md, js, png = (sorted(tmp_path.glob(f"*.{ext}")) for ext in ("md", "json", "png"))
    assert md and js and png and png[0].stat().st_size > 1000
    run_id = json.loads(js[0].read_text())["run_id"]
    shown = subprocess.run([sys.executable, "-m", "gerbil_lsp", "eval", "show", run_id],
                           capture_output=True, text=True, env=env, timeout=300)
    assert shown.returncode == 0 and run_id in shown.stdout


@pytest.mark.slow
def test_runner_with_real_smollm2_weights():
    pytest.importorskip("llama_cpp", reason="llama-cpp-python (the [local] extra) is not installed")
    run = run_eval([f"gguf:{smollm2_gguf()}"], "heldout", concurrency=1, max_tokens=96, show_progress=False)
    answers = run.answers[run.models[0]]
    assert len(answers) == len(load_suite("heldout")) and all(isinstance(a, str) for a in answers.values())
    assert not run.errors
