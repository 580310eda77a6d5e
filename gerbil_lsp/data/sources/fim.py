"""Fill-in-the-middle entries cut from real code on s-expression boundaries.

The core reader gives the tree; a hole is a whole form, one argument of a call,
or the body of a definition/lambda/let (first body form to the last). Holes
are picked per file with a seeded RNG, so the same files and seed give the same
holes. A share of holes get the repo-level layout, with other files of the same
folder shown first (Qwen2.5-Coder's ``<|repo_name|>``/``<|file_sep|>`` format).
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

from gerbil_lsp.core.reader import NodeKind
from gerbil_lsp.data.entries import CodeBlock, Entry, FimParts, Provenance
from gerbil_lsp.data.reads import Reads, read_with

MAX_PREFIX_CHARS = 4000
MAX_SUFFIX_CHARS = 1500
MAX_MIDDLE_CHARS = 1200
MIN_MIDDLE_CHARS = 3
CONTEXT_FILE_CHARS = 1200
REPO_LEVEL_SHARE = 0.3
_BODY_HEADS = {"def": 2, "define": 2, "lambda": 2, "defmethod": 2, "let": 2, "let*": 2, "letrec": 2,
               "when": 2, "unless": 2, "defrule": 2, "def*": 2, "with-catch": 2}


def holes(form) -> list[tuple[int, int, str]]:
    """Candidate (start, end, kind) character spans inside one top-level form."""
    out = [(form.start, form.end, "form")]
    for node in form.walk():
        name = node.head
        if name is None or not node.closed:
            continue
        children = node.children
        if name in _BODY_HEADS and len(children) > _BODY_HEADS[name]:
            body = children[_BODY_HEADS[name]:]
            out.append((body[0].start, body[-1].end, "body"))
        for arg in children[1:]:
            out.append((arg.start, arg.end, "form" if arg.kind is NodeKind.LIST else "argument"))
    return out


def holes_per_file(text: str) -> int:
    return max(1, min(8, text.count("\n") // 40 + 1))


def _trim_prefix(prefix: str) -> str:
    if len(prefix) <= MAX_PREFIX_CHARS:
        return prefix
    cut = prefix[-MAX_PREFIX_CHARS:]
    nl = cut.find("\n")
    return cut[nl + 1:] if nl >= 0 else cut


def _trim_suffix(suffix: str) -> str:
    if len(suffix) <= MAX_SUFFIX_CHARS:
        return suffix
    cut = suffix[:MAX_SUFFIX_CHARS]
    nl = cut.rfind("\n")
    return cut[: nl + 1] if nl >= 0 else cut


def fim_entries(
    text: str,
    *,
    path: str,
    provenance: Provenance,
    seed: int,
    imports: tuple[str, ...] = (),
    repo_name: str = "",
    siblings: list[tuple[str, str]] | None = None,
    count: int | None = None,
    reads: Reads | None = None,
) -> list[Entry]:
    """FIM entries for one file (or code block); empty if it does not read cleanly."""
    result = read_with(reads, text)
    if result.errors or not result.forms:
        return []
    rng = random.Random(int(hashlib.sha256(f"{seed}:{path}:{provenance.line}".encode()).hexdigest()[:16], 16))
    candidates = []
    for form in result.forms:
        if form.head in ("import", "export", "declare") or form.kind is not NodeKind.LIST:
            continue
        candidates.extend(
            (s, e, k) for s, e, k in holes(form) if MIN_MIDDLE_CHARS <= e - s <= MAX_MIDDLE_CHARS
        )
    if not candidates:
        return []
    candidates = sorted(set(candidates))
    picked = rng.sample(candidates, min(count or holes_per_file(text), len(candidates)))
    out = []
    for start, end, kind in sorted(picked):
        context: tuple[tuple[str, str], ...] = ()
        name = ""
        if siblings and rng.random() < REPO_LEVEL_SHARE:
            chosen = rng.sample(siblings, min(2, len(siblings)))
            context = tuple((p, t[:CONTEXT_FILE_CHARS]) for p, t in sorted(chosen))
            name = repo_name
        parts = FimParts(
            prefix=_trim_prefix(text[:start]),
            middle=text[start:end],
            suffix=_trim_suffix(text[end:]),
            path=path,
            repo_name=name,
            context_files=context,
            split_kind=kind,
        )
        out.append(Entry(
            kind="fim",
            provenance=provenance,
            fim=parts,
            code=(CodeBlock(text, imports, "fim"),),
            tags=("fim", kind) + (("repo-level",) if context else ()),
        ))
    return out


def from_files(roots: list[tuple[Path, str]], sink, *, seed: int, version: str | None = None,
               reads: Reads | None = None) -> None:
    """FIM entries from every ``.ss`` file under the roots; siblings give repo-level context."""
    from gerbil_lsp.data.sources import read_text

    for root, label in roots:
        root = Path(root)
        files = sorted(p for p in root.rglob("*.ss") if p.is_file())
        by_dir: dict[Path, list[Path]] = {}
        for f in files:
            by_dir.setdefault(f.parent, []).append(f)
        texts: dict[Path, str | None] = {}
        for f in files:
            rel = f.relative_to(root).as_posix()
            text = texts.setdefault(f, read_text(f, sink, rel))
            if text is None or not text.strip():
                continue
            siblings = []
            for other in by_dir[f.parent]:
                if other != f and len(siblings) < 4:
                    t = texts.setdefault(other, read_text(other, sink, other.relative_to(root).as_posix()))
                    if t:
                        siblings.append((other.relative_to(root).as_posix(), t))
            made = fim_entries(
                text,
                path=rel,
                provenance=Provenance(label, rel, 0, version, f"{label}:{rel}"),
                seed=seed,
                repo_name=root.name if label != "gerbil-src" else "gerbil",
                siblings=siblings,
                reads=reads,
            )
            if not made:
                sink.drop("FIM source does not read cleanly", rel)
            for entry in made:
                sink.add(entry)
