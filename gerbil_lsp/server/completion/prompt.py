"""The Qwen2.5-Coder fill-in-the-middle prompt, file-level or repo-level, budgeted in tokens.

File level::

    <|fim_prefix|>PREFIX<|fim_suffix|>SUFFIX<|fim_middle|>

Repo level (Qwen2.5-Coder's documented format), when there is context::

    <|repo_name|>NAME
    <|file_sep|>PATH
    CONTENT
    ...
    <|file_sep|>CURRENT_PATH
    <|fim_prefix|>PREFIX<|fim_suffix|>SUFFIX<|fim_middle|>

Context comes in a fixed order, most stable first, so that a backend that
keeps the KV cache of the previous prompt (llama.cpp, Ollama, vLLM prefix
caching) re-evaluates only the tail: the signatures of what the file imports
(they change when the imports change), then recent workspace files sorted by
path (each changes only when that file is edited). For the same reason the
prefix is cut at a line start that moves in steps of a quarter of its budget,
not on every keystroke.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gerbil_lsp.server.completion.tokens import CharEstimate, TokenCounter

FIM_PREFIX = "<|fim_prefix|>"
FIM_SUFFIX = "<|fim_suffix|>"
FIM_MIDDLE = "<|fim_middle|>"
FIM_PAD = "<|fim_pad|>"
REPO_NAME = "<|repo_name|>"
FILE_SEP = "<|file_sep|>"
END_OF_TEXT = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"

STOP_TOKENS: tuple[str, ...] = (
    END_OF_TEXT, FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE, FIM_PAD, REPO_NAME, FILE_SEP, IM_START, IM_END,
)
"""Qwen's FIM and control tokens: none of them may appear in a completion."""

IMPORTS_PATH = "imports.signatures.ss"
"""The pseudo-file that carries the imported signatures in repo-level context."""


@dataclass(frozen=True)
class ContextFile:
    """A file shown to the model before the current one."""

    path: str
    text: str


@dataclass(frozen=True)
class PromptBudget:
    prefix_tokens: int = 1536
    suffix_tokens: int = 512
    repo_context_tokens: int = 1024


@dataclass
class FimPrompt:
    """A prompt and what went into it (the prefix and suffix as cut, the context files kept)."""

    text: str
    prefix: str
    suffix: str
    context_paths: list[str] = field(default_factory=list)
    repo_level: bool = False


def cut_prefix(prefix: str, tokens: int, counter: TokenCounter) -> str:
    """The end of ``prefix`` that fits ``tokens``, starting at a line start that moves in steps."""
    fit = counter.tail_chars(prefix, tokens)
    if fit >= len(prefix):
        return prefix
    lowest = len(prefix) - fit  # cut here or later
    step = max(1, fit // 4)
    start = -(-lowest // step) * step  # round up to a step boundary: stable while typing
    if start > 0 and prefix[start - 1] != "\n":
        newline = prefix.find("\n", start)
        start = newline + 1 if 0 <= newline < len(prefix) - 1 else start
    return prefix[start:]


def cut_suffix(suffix: str, tokens: int, counter: TokenCounter) -> str:
    """The start of ``suffix`` that fits ``tokens``, ending at a line end when one is in reach."""
    if tokens <= 0:
        return ""
    fit = counter.head_chars(suffix, tokens)
    if fit >= len(suffix):
        return suffix
    newline = suffix.rfind("\n", 0, fit)
    return suffix[: newline + 1] if newline > 0 else suffix[:fit]


def fit_context(files: list[ContextFile], tokens: int, counter: TokenCounter) -> list[ContextFile]:
    """As many context files as fit (in the order given), the last one cut at a line end."""
    kept: list[ContextFile] = []
    left = tokens
    for item in files:
        header = len(FILE_SEP) // 3 + counter.count(item.path) + 1
        if left - header <= 16:
            break
        cost = counter.count(item.text)
        if header + cost <= left:
            kept.append(item)
            left -= header + cost
            continue
        head = cut_suffix(item.text, left - header, counter)
        if head.strip():
            kept.append(ContextFile(item.path, head))
        break
    return kept


def build_prompt(
    prefix: str,
    suffix: str,
    *,
    path: str = "",
    repo_name: str = "",
    signatures: str = "",
    recent: list[ContextFile] | None = None,
    budget: PromptBudget | None = None,
    counter: TokenCounter | None = None,
) -> FimPrompt:
    """The FIM prompt for a cursor between ``prefix`` and ``suffix``.

    ``signatures`` (the imported names' signatures, as Gerbil text) and
    ``recent`` files go into repo-level context within
    ``budget.repo_context_tokens``; with no context it is a file-level prompt.
    """
    budget = budget or PromptBudget()
    counter = counter or CharEstimate()
    prefix = cut_prefix(prefix, budget.prefix_tokens, counter)
    suffix = cut_suffix(suffix, budget.suffix_tokens, counter)
    if not suffix:
        suffix = "\n"  # an empty suffix turns FIM off in Ollama's runner: give it a line end
    candidates: list[ContextFile] = []
    if signatures.strip():
        candidates.append(ContextFile(IMPORTS_PATH, signatures))
    candidates.extend(sorted(recent or (), key=lambda f: f.path))
    context = fit_context(candidates, budget.repo_context_tokens, counter) if budget.repo_context_tokens else []
    fim = f"{FIM_PREFIX}{prefix}{FIM_SUFFIX}{suffix}{FIM_MIDDLE}"
    if not context:
        return FimPrompt(fim, prefix, suffix)
    parts = [f"{REPO_NAME}{repo_name or 'workspace'}\n"]
    for item in context:
        text = item.text if item.text.endswith("\n") else item.text + "\n"
        parts.append(f"{FILE_SEP}{item.path}\n{text}")
    parts.append(f"{FILE_SEP}{path or 'current.ss'}\n{fim}")
    return FimPrompt("".join(parts), prefix, suffix, [c.path for c in context], repo_level=True)


def chat_messages(prompt: FimPrompt, *, path: str = "") -> list[dict]:
    """For chat-only endpoints: ask for the missing middle in words, get code back."""
    where = f" of {path}" if path else ""
    return [
        {"role": "system", "content": (
            "You complete Gerbil Scheme code. Reply with only the code that goes at <CURSOR>, "
            "no explanation, no code fences, nothing that is already before or after it."
        )},
        {"role": "user", "content": f"Complete the code at <CURSOR>{where}:\n\n{prompt.prefix}<CURSOR>{prompt.suffix}"},
    ]


def strip_fences(text: str) -> str:
    """Chat models wrap code in ``` fences despite being asked not to."""
    stripped = text.strip("\n")
    if stripped.startswith("```"):
        first_newline = stripped.find("\n")
        body = stripped[first_newline + 1:] if first_newline >= 0 else ""
        end = body.rfind("```")
        return body[:end].rstrip("\n") if end >= 0 else body
    return text
