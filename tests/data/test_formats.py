"""Each output format: the records we write, and the rules each consumer states."""

from __future__ import annotations

import json

import pytest

from gerbil_lsp.data import fim_prompt
from gerbil_lsp.data.formats import alpaca, fim, messages, sharegpt, together


def test_sharegpt_record_shape(sample_entries):
    record = sharegpt.to_record(sample_entries[0])
    assert [t["from"] for t in record["conversations"]] == ["system", "human", "gpt"]
    assert sharegpt.check_record(record) == []
    assert sharegpt.to_record(sample_entries[2]) is None  # FIM entries are not chats


def test_sharegpt_check_catches_bad_turns():
    bad = {"conversations": [{"from": "gpt", "value": "hi"}, {"from": "gpt", "value": "again"}]}
    problems = sharegpt.check_record(bad)
    assert any("expected 'human'" in p for p in problems)


def test_messages_record_passes_together_rules(sample_entries):
    record = messages.to_record(sample_entries[1])
    assert list(record) == ["messages"]
    assert together.conversation_problems(record) == []


@pytest.mark.parametrize(
    ("record", "fragment"),
    [
        ({"messages": [{"role": "assistant", "content": "x"}]}, "first message must be from system or user"),
        ({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"},
                       {"role": "assistant", "content": "c"}]}, "two 'user' turns in a row"),
        ({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], "id": "x"},
         "extra column 'id'"),
        ({"messages": [{"role": "user", "content": "a"}, {"role": "bot", "content": "b"}]}, "invalid role 'bot'"),
        ({"messages": [{"role": "user", "content": 3}, {"role": "assistant", "content": "b"}]}, "`content`"),
        ({"messages": [{"role": "user", "content": "a", "weight": 2}, {"role": "assistant", "content": "b"}]},
         "weight"),
        ({"messages": []}, "non-empty"),
        ({"messages": [{"role": "user", "content": "only a question"}]}, "no assistant message"),
        ({"text": "x", "messages": []}, "several formats"),
    ],
)
def test_together_rules(record, fragment):
    problems = together.conversation_problems(record)
    assert any(fragment in p for p in problems), problems


def test_together_file_check_reports_every_line(tmp_path):
    path = tmp_path / "t.jsonl"
    good = json.dumps({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]})
    path.write_text("\n".join([good, "{not json", good, json.dumps({"messages": [{"role": "assistant",
                                                                                  "content": "b"}]})]) + "\n")
    problems = together.check_file(path)
    assert [n for n, _ in problems] == [2, 4]


def test_alpaca_splits_trailing_code_into_input():
    from tests.data.conftest import make_chat

    entry = make_chat("What does this print?\n\n```scheme\n(displayln 1)\n```", "It prints 1.")
    record = alpaca.to_record(entry)
    assert record == {"instruction": "What does this print?", "input": "```scheme\n(displayln 1)\n```",
                      "output": "It prints 1."}
    assert alpaca.check_record(record) == []
    assert alpaca.check_record({"instruction": "", "output": 3}) != []


def test_fim_file_level_layout(sample_entries):
    record = fim.to_record(sample_entries[2])
    assert record["prompt"] == "<|fim_prefix|>(def (f x)\n  <|fim_suffix|>)\n<|fim_middle|>"
    assert record["completion"] == "(* x x)<|endoftext|>"
    assert fim.check_record(record) == []


def test_fim_repo_level_layout(sample_entries):
    record = fim.to_record(sample_entries[3])
    assert record["prompt"] == (
        "<|repo_name|>demo\n<|file_sep|>lib/h.ss\n(def (h) 1)\n<|file_sep|>lib/g.ss\n"
        "<|fim_prefix|>(def (g y) <|fim_suffix|>)\n<|fim_middle|>"
    )
    assert fim_prompt("a", "b") == "<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>"


def test_fim_check_catches_bad_prompts():
    assert fim.check_record({"prompt": "<|fim_suffix|>x<|fim_prefix|>y<|fim_middle|>", "completion": "z"})
    assert fim.check_record({"prompt": "<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>", "completion": ""})
