"""Scores one answer with no model: facts, forbidden names, and the code in it.

An answer's code blocks are read with the Gerbil reader and their identifiers
resolved in the symbol index under the block's own imports: a name found
nowhere is a hallucination; a name that exists in a module the block does not
import is a missing import. The score is the share of required facts stated, halved when another Scheme's
names appear, and scaled by the quality of the code.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from gerbil_lsp.core.index import SymbolIndex, default_index
from gerbil_lsp.core.reader import read_source
from gerbil_lsp.eval.suite import FimTask, Question
from gerbil_lsp.server.analysis import analyze, free_references

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
_CODE_LANGS = {"", "scheme", "gerbil", "lisp", "racket", "scm", "ss"}


@dataclass
class AnswerScore:
    id: str
    score: float
    mentioned: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    forbidden: list[str] = field(default_factory=list)
    code_blocks: int = 0
    unreadable_blocks: int = 0
    names_checked: int = 0
    hallucinated: list[str] = field(default_factory=list)
    missing_imports: list[str] = field(default_factory=list)

    @property
    def hallucination_rate(self) -> float:
        return len(self.hallucinated) / self.names_checked if self.names_checked else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "hallucination_rate": self.hallucination_rate}


def code_blocks(answer: str) -> list[str]:
    """Scheme code fenced in a markdown answer."""
    return [body for lang, body in _FENCE.findall(answer) if lang.lower() in _CODE_LANGS]


def check_code(code: str, index: SymbolIndex) -> tuple[bool, int, list[str], list[str]]:
    """(reads cleanly, names checked, hallucinated names, names whose import is missing)."""
    analysis = analyze(code, "file:///answer.ss", index)
    if not analysis.result.ok:
        return False, 0, [], []
    checked, hallucinated, missing_imports = 0, [], []
    for sym in free_references(analysis):
        name = sym.value
        checked += 1
        if name in analysis.visible:
            continue
        if index.modules_exporting(name):
            missing_imports.append(name)
        elif not index.lookup(name):
            hallucinated.append(name)
    return True, checked, sorted(set(hallucinated)), sorted(set(missing_imports))


_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_CODE_PUNCTUATION = re.compile(r"[-:/!?<>*]")  # not "#": a literal such as #f reads the same in prose
_CONSTITUENT = r"[\w!?*<>=/+:.-]"


def _is_name(item: str, index: SymbolIndex) -> bool:
    """A fact that is a name (``for``, ``:std/iter``, ``exe:``) rather than a word of prose (``default``)."""
    return " " not in item and bool(_CODE_PUNCTUATION.search(item) or index.lookup(item))


def _shown_as_code(item: str, code: str) -> bool:
    """``item`` as a whole token of the answer's Scheme code; ``make-``/``-x`` stay fragments of names."""
    if item.startswith("-") or item.endswith("-"):
        return item in code
    return re.search(rf"(?<!{_CONSTITUENT}){re.escape(item)}(?!{_CONSTITUENT})", code) is not None


def mentions(question: Question, answer: str, index: SymbolIndex) -> list[str]:
    """The required facts the answer states. A name counts only when shown as code (a Scheme block or
    an inline `span`), so a Python answer's ``for`` loop or the word "for" in prose earns nothing."""
    lowered = answer.lower()
    code = "\n".join(code_blocks(answer) + _INLINE_CODE.findall(answer)).lower()
    return [m for m in question.must_mention
            if (_shown_as_code(m.lower(), code) if _is_name(m, index) else m.lower() in lowered)]


def score_answer(question: Question, answer: str, index: SymbolIndex | None = None) -> AnswerScore:
    index = index or default_index()
    lowered = answer.lower()
    mentioned = mentions(question, answer, index)
    forbidden = [m for m in question.must_not_mention if m.lower() in lowered]
    result = AnswerScore(question.id, 0.0, mentioned,
                         [m for m in question.must_mention if m not in mentioned], forbidden)
    recall = len(mentioned) / len(question.must_mention) if question.must_mention else 1.0
    blocks = code_blocks(answer)
    result.code_blocks = len(blocks)
    for block in blocks:
        readable, checked, hallucinated, missing_imports = check_code(block, index)
        result.unreadable_blocks += not readable
        result.names_checked += checked
        result.hallucinated.extend(n for n in hallucinated if n not in result.hallucinated)
        result.missing_imports.extend(n for n in missing_imports if n not in result.missing_imports)
    code = 1.0
    if blocks:
        code = (1.0 - result.unreadable_blocks / len(blocks) + 1.0 - result.hallucination_rate
                + (0.0 if result.missing_imports else 1.0)) / 3
    # Facts earn the points; another Scheme's names halve them and flawed code scales them down,
    # so a fluent answer that states none of the facts scores 0.
    result.score = round(recall * (0.5 if forbidden else 1.0) * code, 4)
    return result


def score_fim(task: FimTask, middle: str, index: SymbolIndex | None = None) -> AnswerScore:
    """A completion: it must read and balance with prefix and suffix, and use the required names."""
    index = index or default_index()
    whole = read_source(task.prefix + middle + task.suffix)
    used = [name for name in task.must_use if re.search(rf"(?<![\w!?*<>=/+-]){re.escape(name)}(?![\w!?*<>=/+-])", middle)]
    result = AnswerScore(task.id, 0.0, used, [n for n in task.must_use if n not in used])
    result.code_blocks, result.unreadable_blocks = 1, 0 if whole.ok else 1
    parts = [len(used) / len(task.must_use), 1.0 if whole.ok else 0.0]
    result.score = round(sum(parts) / len(parts), 4)
    return result
