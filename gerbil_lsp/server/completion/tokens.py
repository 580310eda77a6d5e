"""Counting tokens for the prompt budget: the model's real tokenizer when we have one.

A budget in tokens is what the model's context window is measured in. With a
``tokenizer.json`` (``data.tokenizer``, a model directory's own, or the
backend's vocabulary) we count exactly with the ``tokenizers`` library;
without one we estimate from characters. The estimate is stated, not hidden:
Qwen2.5's BPE averages about 3.2 characters per token on Lisp source (short
symbols, parens, indentation), so we use 3.0 to err on the side of fitting.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

CHARS_PER_TOKEN = 3.0


class TokenCounter(Protocol):
    name: str

    def count(self, text: str) -> int: ...

    def tail_chars(self, text: str, tokens: int) -> int:
        """How many characters at the end of ``text`` fit in ``tokens``."""
        ...

    def head_chars(self, text: str, tokens: int) -> int:
        """How many characters at the start of ``text`` fit in ``tokens``."""
        ...


class CharEstimate:
    """``CHARS_PER_TOKEN`` characters a token: fast and good enough to budget with."""

    name = f"estimate ({CHARS_PER_TOKEN} chars/token)"

    def __init__(self, chars_per_token: float = CHARS_PER_TOKEN) -> None:
        self.chars_per_token = chars_per_token

    def count(self, text: str) -> int:
        return int(len(text) / self.chars_per_token + 0.999)

    def tail_chars(self, text: str, tokens: int) -> int:
        return min(len(text), int(tokens * self.chars_per_token))

    def head_chars(self, text: str, tokens: int) -> int:
        return min(len(text), int(tokens * self.chars_per_token))


class TokenizerCounter:
    """Exact counts with a Hugging Face ``tokenizer.json`` (no transformers needed).

    A tokenizer that fails on some text falls back to the estimate for that
    text: a prompt budget is never worth a failed completion.
    """

    MAX_CHARS_PER_TOKEN = 8  # windows we tokenize are at most this many chars a token

    def __init__(self, path: str | Path) -> None:
        from tokenizers import Tokenizer

        self.path = Path(path)
        self._tokenizer = Tokenizer.from_file(str(self.path))
        self.name = f"tokenizer {self.path}"
        self._estimate = CharEstimate()

    def _offsets(self, text: str) -> list[tuple[int, int]] | None:
        try:
            return self._tokenizer.encode(text, add_special_tokens=False).offsets
        except Exception as exc:
            log.debug("tokenizer failed (%s); estimating", exc)
            return None

    def count(self, text: str) -> int:
        offsets = self._offsets(text)
        return self._estimate.count(text) if offsets is None else len(offsets)

    def tail_chars(self, text: str, tokens: int) -> int:
        window = text[-tokens * self.MAX_CHARS_PER_TOKEN:] if tokens else ""
        offsets = self._offsets(window)
        if offsets is None:
            return self._estimate.tail_chars(text, tokens)
        if len(offsets) <= tokens:
            return len(window)
        return len(window) - offsets[len(offsets) - tokens][0]

    def head_chars(self, text: str, tokens: int) -> int:
        window = text[: tokens * self.MAX_CHARS_PER_TOKEN] if tokens else ""
        offsets = self._offsets(window)
        if offsets is None:
            return self._estimate.head_chars(text, tokens)
        if len(offsets) <= tokens:
            return len(window)
        return offsets[tokens][0]


def token_counter(tokenizer_json: str | Path | None = None) -> TokenCounter:
    """The real tokenizer when ``tokenizer_json`` is a readable file, else the stated estimate."""
    if tokenizer_json:
        path = Path(tokenizer_json).expanduser()
        if path.is_dir():
            path = path / "tokenizer.json"
        if path.is_file():
            try:
                return TokenizerCounter(path)
            except Exception as exc:  # a broken file must not stop completions
                log.warning("cannot load tokenizer %s (%s); estimating tokens from characters", path, exc)
        else:
            log.info("no tokenizer at %s; estimating tokens from characters", path)
    return CharEstimate()
