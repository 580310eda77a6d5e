"""REPL transcripts (``> (form)`` then printed output) split into inputs and outputs.

The docs show use as transcripts; to check the code we need the inputs alone.
An input runs from a ``> `` line until the core reader sees its form closed;
the lines after it, up to the next prompt, are its output.
"""

from __future__ import annotations

from dataclasses import dataclass

PROMPT = "> "
_INCOMPLETE = frozenset({"unclosed", "unterminated-string", "unterminated-symbol", "unterminated-comment"})


@dataclass
class Exchange:
    code: str
    output: str
    line: int  # 0-based line of the prompt within the transcript


def is_transcript(text: str) -> bool:
    return any(line.startswith(PROMPT) or line.rstrip() == ">" for line in text.splitlines())


def form_complete(code: str) -> bool:
    """True once the reader sees every form of ``code`` closed."""
    from gerbil_lsp.core.reader import read_source

    return not any(e.code in _INCOMPLETE for e in read_source(code).errors)


def split_transcript(text: str) -> list[Exchange]:
    lines = text.splitlines()
    out: list[Exchange] = []
    i = 0
    while i < len(lines):
        if not lines[i].startswith(PROMPT):
            i += 1
            continue
        start = i
        code_lines = [lines[i][len(PROMPT):]]
        i += 1
        while not form_complete("\n".join(code_lines)) and i < len(lines) and not lines[i].startswith(PROMPT):
            code_lines.append(lines[i])
            i += 1
        output: list[str] = []
        while i < len(lines) and not lines[i].startswith(PROMPT):
            output.append(lines[i])
            i += 1
        out.append(Exchange("\n".join(code_lines), "\n".join(output).strip(), start))
    return out


def transcript_code(text: str) -> str:
    """The inputs of a transcript as one program; plain code is returned unchanged."""
    if not is_transcript(text):
        return text
    return "\n".join(x.code for x in split_transcript(text))
