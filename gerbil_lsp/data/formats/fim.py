"""Fill-in-the-middle prompts in Qwen2.5-Coder's format.

File level: ``<|fim_prefix|>P<|fim_suffix|>S<|fim_middle|>M``. Repo level (the
Qwen2.5-Coder report's layout) puts other files of the project first::

    <|repo_name|>NAME
    <|file_sep|>path/a.ss
    ...text of a...
    <|file_sep|>path/this.ss
    <|fim_prefix|>P<|fim_suffix|>S<|fim_middle|>M

The server builds its completion prompts with the same function, so the model
is trained on exactly the layout it is asked in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gerbil_lsp.data.entries import Entry

FIM_PREFIX = "<|fim_prefix|>"
FIM_SUFFIX = "<|fim_suffix|>"
FIM_MIDDLE = "<|fim_middle|>"
REPO_NAME = "<|repo_name|>"
FILE_SEP = "<|file_sep|>"
END_OF_TEXT = "<|endoftext|>"
SPECIAL_TOKENS = (FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE, REPO_NAME, FILE_SEP, END_OF_TEXT)

NAME = "fim"
KEYS = ("prompt", "completion")


def fim_prompt(
    prefix: str,
    suffix: str,
    *,
    repo_name: str = "",
    path: str = "",
    context_files: Sequence[tuple[str, str]] = (),
) -> str:
    """The prompt whose continuation is the middle (Qwen2.5-Coder FIM, file or repo level)."""
    head = ""
    if repo_name or context_files:
        parts = [f"{REPO_NAME}{repo_name}\n"]
        for ctx_path, text in context_files:
            parts.append(f"{FILE_SEP}{ctx_path}\n{text.rstrip()}\n")
        parts.append(f"{FILE_SEP}{path}\n")
        head = "".join(parts)
    return f"{head}{FIM_PREFIX}{prefix}{FIM_SUFFIX}{suffix}{FIM_MIDDLE}"


def to_record(entry: Entry) -> dict[str, Any] | None:
    """``{"prompt", "completion"}``: TRL trains on the completion only; Together reads it as instruction data."""
    fim = entry.fim
    if entry.kind != "fim" or fim is None:
        return None
    prompt = fim_prompt(
        fim.prefix, fim.suffix, repo_name=fim.repo_name, path=fim.path, context_files=fim.context_files
    )
    return {"prompt": prompt, "completion": fim.middle + END_OF_TEXT}


def check_record(obj: Any) -> list[str]:
    problems: list[str] = []
    if not isinstance(obj, dict):
        return ["not a JSON object"]
    extra = sorted(set(obj) - set(KEYS))
    if extra:
        problems.append(f"unexpected keys {extra} (a FIM line has only prompt and completion)")
    prompt, completion = obj.get("prompt"), obj.get("completion")
    if not isinstance(prompt, str) or not isinstance(completion, str):
        return problems + ["prompt and completion must both be strings"]
    for token in (FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE):
        if prompt.count(token) != 1:
            problems.append(f"prompt must contain {token} exactly once (found {prompt.count(token)})")
    if not problems and not (prompt.index(FIM_PREFIX) < prompt.index(FIM_SUFFIX) < prompt.index(FIM_MIDDLE)):
        problems.append("FIM tokens out of order: expected prefix, suffix, middle")
    if not prompt.endswith(FIM_MIDDLE):
        problems.append(f"prompt must end with {FIM_MIDDLE}")
    if any(tok in completion.removesuffix(END_OF_TEXT) for tok in SPECIAL_TOKENS):
        problems.append("completion contains a FIM special token")
    if not completion.removesuffix(END_OF_TEXT).strip():
        problems.append("empty middle")
    return problems
