"""Our dataset files -> training texts, checked line by line before any compute is spent.

Chat rows (`messages`, or ShareGPT `conversations` whose `human`/`gpt` roles become
`user`/`assistant` -- the Qwen template silently drops turns with unknown roles) are
rendered with the tokenizer's chat template; FIM rows (`prompt` + `completion`) are
trained as the raw Qwen2.5-Coder FIM text.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "system": "system"}


class DatasetError(ValueError):
    """A dataset that must not be trained on, with every bad line named."""


def dataset_files(dataset: Path) -> list[Path]:
    if dataset.is_file():
        return [dataset]
    files = sorted(dataset.glob("train.messages.jsonl")) + sorted(dataset.glob("train.fim.jsonl"))
    if not files:
        files = sorted(dataset.glob("train.sharegpt.jsonl")) + sorted(dataset.glob("train.fim.jsonl"))
    if not files:
        raise DatasetError(f"{dataset}: no train.messages.jsonl / train.fim.jsonl here; run `gerbil-lsp data build`")
    filled = [f for f in files if f.stat().st_size]  # a build with no entries of one kind leaves that file empty
    if not filled:
        raise DatasetError(f"{dataset}: its training files are empty ({', '.join(f.name for f in files)}): "
                           "nothing to train on")
    return filled


def check_files(files: list[Path]) -> None:
    from gerbil_lsp.data import validate_file

    problems = []
    for path in files:
        report = validate_file(path)
        problems += [f"{path}:{line}: {message}" for line, message in report.problems]
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise DatasetError(f"the dataset has {len(problems)} bad line(s); nothing was trained:\n  {shown}{more}")


def to_messages(row: dict) -> list[dict] | None:
    if "messages" in row:
        return row["messages"]
    if "conversations" in row:
        return [{"role": SHAREGPT_ROLES[turn["from"]], "content": turn["value"]} for turn in row["conversations"]]
    return None


def load_training_texts(dataset: Path, tokenizer) -> tuple[list[str], str]:
    """(texts, sha256 of the input files) -- the chat + FIM mix as plain training texts."""
    files = dataset_files(Path(dataset))
    check_files(files)
    digest = hashlib.sha256()
    texts: list[str] = []
    for path in files:
        data = path.read_bytes()
        digest.update(path.name.encode() + b"\0" + data)
        for raw in data.decode("utf-8").splitlines():
            if not raw.strip():
                continue
            row = json.loads(raw)
            messages = to_messages(row)
            if messages is not None:
                texts.append(tokenizer.apply_chat_template(messages, tokenize=False))
            elif "prompt" in row and "completion" in row:
                texts.append(row["prompt"] + row["completion"])
    return texts, digest.hexdigest()
