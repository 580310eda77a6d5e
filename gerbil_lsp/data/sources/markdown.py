"""Markdown split into headed sections with their prose and fenced code blocks.

Shared by the guide/tutorial pages and the cookbook resources, which are both
"a heading, some prose, some code". Line numbers are 1-based.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```+|~~~+)\s*([\w+-]*)")


@dataclass
class CodeFence:
    lang: str
    code: str
    line: int  # line of the opening fence


@dataclass
class Section:
    heading: str
    level: int
    line: int
    prose: list[str] = field(default_factory=list)
    code: list[CodeFence] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    unclosed_fence: int = 0  # line of a fence never closed, 0 if none

    @property
    def text(self) -> str:
        return "\n".join(self.prose).strip()


def split_sections(text: str) -> list[Section]:
    sections: list[Section] = [Section("", 0, 1)]
    stack: list[tuple[int, str]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence:
            marker, lang, start = fence.group(1), fence.group(2).lower(), i + 1
            body: list[str] = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(marker):
                body.append(lines[i])
                i += 1
            if i >= len(lines):
                sections[-1].unclosed_fence = start
            sections[-1].code.append(CodeFence(lang, "\n".join(body), start))
            sections[-1].prose.append(f"\0code{len(sections[-1].code) - 1}\0")
            i += 1
            continue
        heading = _HEADING.match(line)
        if heading:
            level = len(heading.group(1))
            while stack and stack[-1][0] >= level:
                stack.pop()
            title = heading.group(2).strip()
            sections.append(Section(title, level, i + 1, parents=[t for _, t in stack]))
            stack.append((level, title))
        else:
            sections[-1].prose.append(line)
        i += 1
    return [s for s in sections if s.heading or s.code or s.text]


def render(section: Section, *, keep_code: bool = True) -> str:
    """The section's prose with its code blocks put back as ```scheme fences."""
    out = []
    for line in section.prose:
        if line.startswith("\0code"):
            if keep_code:
                fence = section.code[int(line[5:-1])]
                out.append(f"```{fence.lang or 'scheme'}\n{fence.code.rstrip()}\n```")
        elif not line.startswith(":::"):
            out.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()
