"""`gerbil-lsp data build`: sources -> checked entries -> every format, written atomically.

Order: collect from every source; scrub secrets (before anything is kept);
check code reads cleanly; check identifiers against the symbol index (fixing
known doc-drift renames); refuse overlap with the eval suite's held-out
questions; dedupe; split held-out by source group; write. Everything is
sorted by stable keys and seeded, so the same inputs and seed give
byte-identical files. The output folder is built beside the target and renamed
into place: a reader sees the old dataset or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gerbil_lsp.data import dedupe as dedupe_mod
from gerbil_lsp.data.checks.identifiers import IdentifierCheck, apply_renames
from gerbil_lsp.data.checks.readable import read_problem
from gerbil_lsp.data.checks.secrets import scrub_secrets
from gerbil_lsp.data.entries import CodeBlock, Entry, FimParts, Message, Provenance
from gerbil_lsp.data.formats import FORMATS
from gerbil_lsp.data.heldout import eval_overlap_check
from gerbil_lsp.data.sources import Sink, SourceWarning
from gerbil_lsp.data.stats import (
    LengthCounter,
    compute_stats,
    entry_text,
    histogram_png,
    report_markdown,
)

ALL_FORMATS = ("sharegpt", "messages", "alpaca", "alpaca-json", "fim")
ENTRIES_FILE = "entries.jsonl"
DROPPED_FILE = "dropped.jsonl"
#: sources whose code is real, compiled code: its names define the truth, so only readability is checked
REAL_CODE_SOURCES = frozenset({"gerbil-src", "project"})

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class BuildResult:
    output: Path
    entries: list[Entry]
    stats: dict[str, Any]
    warnings: list[SourceWarning]
    seconds: float
    stage_seconds: dict[str, float] = field(default_factory=dict)
    drops: list[dict[str, Any]] = field(default_factory=list)


def output_files(fmt: str) -> list[str]:
    """File names a format produces (train and held-out)."""
    if fmt == "alpaca-json":
        return ["train.alpaca.json", "heldout.alpaca.json"]
    return [f"train.{fmt}.jsonl", f"heldout.{fmt}.jsonl"]


def _index_for(docs, gerbil_src, projects, index):
    if index is not None:
        return index
    from gerbil_lsp.core import index as core_index

    if docs or gerbil_src or projects:
        return core_index.build_index(docs=docs, gerbil_src=gerbil_src, projects=list(projects))
    return core_index.load_index()


def collect(
    *,
    docs: Path | None,
    cookbooks: Sequence[Path],
    gerbil_src: Path | None,
    projects: Sequence[Path],
    index,
    seed: int,
    sink: Sink,
    version: str | None = None,
    progress: Progress | None = None,
) -> None:
    """Run every source into the sink."""
    from gerbil_lsp.data.sources import cookbooks as cookbook_source
    from gerbil_lsp.data.sources import docs as docs_source
    from gerbil_lsp.data.sources import fim as fim_source
    from gerbil_lsp.data.sources import source_tree

    stages = [("docs", docs is not None)] + [("cookbook", bool(cookbooks))] + [
        ("source", bool(gerbil_src or projects))
    ]
    total = sum(1 for _, on in stages if on) + 1
    done = 0

    def step(name: str) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(f"read {name}", done, total)

    if docs is not None:
        docs_source.from_docs(Path(docs), sink, version=version)
        step("docs")
    for cookbook in cookbooks:
        cookbook_source.from_cookbook(Path(cookbook), sink)
    if cookbooks:
        # recipes also teach completion: one hole per recipe, checked like the recipe itself
        for entry in [e for e in sink.entries if e.provenance.source == "cookbook"]:
            for block in entry.code:
                for fim in fim_source.fim_entries(block.code, path=f"{entry.provenance.group}.ss",
                                                  provenance=entry.provenance, seed=seed,
                                                  imports=block.imports, count=1):
                    sink.add(fim)
        step("cookbooks")
    roots: list[tuple[Path, str]] = []
    if gerbil_src:
        roots.append((Path(gerbil_src), "gerbil-src"))
    roots += [(Path(p), "project") for p in projects]
    if roots:
        if index is not None:
            source_tree.from_index(index, roots, sink, version=version)
        source_tree.from_tests(roots, sink, version=version)
        fim_source.from_files(roots, sink, seed=seed, version=version)
        step("source trees")


def scrub_entry(entry: Entry, counts: Counter) -> Entry:
    """The entry with secrets scrubbed from every text it holds (id recomputed if anything changed)."""

    def s(text: str) -> str:
        clean, found = scrub_secrets(text)
        counts.update(found)
        return clean

    if entry.kind == "fim" and entry.fim is not None:
        f = entry.fim
        new = FimParts(s(f.prefix), s(f.middle), s(f.suffix), f.path, f.repo_name,
                       tuple((p, s(t)) for p, t in f.context_files), f.split_kind)
        code = tuple(CodeBlock(s(b.code), b.imports, b.role) for b in entry.code)
        return entry if new == f and code == entry.code else entry.with_content(fim=new, code=code)
    messages = tuple(Message(m.role, s(m.content)) for m in entry.messages)
    code = tuple(CodeBlock(s(b.code), b.imports, b.role) for b in entry.code)
    if messages == entry.messages and code == entry.code:
        return entry
    return entry.with_content(messages=messages, code=code)


def check_entries(
    entries: Sequence[Entry],
    index,
    dropped: Counter,
    drops: list[dict[str, Any]],
    *,
    progress: Progress | None = None,
) -> tuple[list[Entry], int]:
    """Readability and identifier checks; returns the kept entries and how many drift renames were fixed."""
    checker = IdentifierCheck(index) if index is not None else None
    kept: list[Entry] = []
    renamed = 0
    read_cache: dict[str, str | None] = {}
    for n, entry in enumerate(entries):
        if progress and n % 500 == 0:
            progress("check", n, len(entries))
        where = entry.provenance.where()
        problem = None
        for block in entry.code:
            if block.code not in read_cache:
                read_cache[block.code] = read_problem(block.code)
            problem = read_cache[block.code]
            if problem:
                break
        if problem:
            _drop(dropped, drops, "code does not read cleanly", entry, where, problem)
            continue
        if checker is not None:
            verdict = checker.check(entry, code=entry.provenance.source not in REAL_CODE_SOURCES)
            if verdict.drift_drops:
                _drop(dropped, drops, "doc-drift name the source does not export", entry, where,
                      ", ".join(sorted(set(verdict.drift_drops))))
                continue
            if verdict.unresolved:
                _drop(dropped, drops, "unresolved identifier", entry, where,
                      ", ".join(verdict.unresolved[:5]))
                continue
            if verdict.renames:
                entry = apply_renames(entry, verdict.renames)
                renamed += 1
        kept.append(entry)
    if progress:
        progress("check", len(entries), len(entries))
    return kept, renamed


def _drop(dropped: Counter, drops: list, reason: str, entry: Entry, where: str, detail: str = "") -> None:
    dropped[reason] += 1
    drops.append({"reason": reason, "id": entry.id, "where": where, "source": entry.provenance.source,
                  "detail": detail})


def _order(entry: Entry) -> tuple:
    p = entry.provenance
    return (p.source, p.file, p.line, entry.kind, entry.id)


def build_dataset(
    *,
    docs: str | Path | None = None,
    cookbooks: Sequence[str | Path] = (),
    gerbil_src: str | Path | None = None,
    projects: Sequence[str | Path] = (),
    output: str | Path = "out/dataset",
    formats: Sequence[str] = ALL_FORMATS,
    seed: int = 42,
    heldout_fraction: float = 0.05,
    tokenizer: str | Path | None = None,
    index=None,
    extra_entries: Sequence[Entry] = (),
    warn: Callable[[SourceWarning], None] | None = None,
    progress: Progress | None = None,
) -> BuildResult:
    """Build the dataset into ``output`` (replaced atomically). See the module docstring for the order."""
    started = time.perf_counter()
    timings: dict[str, float] = {}
    formats = list(ALL_FORMATS) if "all" in formats else list(dict.fromkeys(formats))
    unknown = [f for f in formats if f not in ALL_FORMATS]
    if unknown:
        raise ValueError(f"unknown format(s) {unknown}; choose from all, {', '.join(ALL_FORMATS)}")
    docs_p = Path(docs) if docs else None
    src_p = Path(gerbil_src) if gerbil_src else None
    project_ps = [Path(p) for p in projects]
    for label, path in [("docs", docs_p), ("gerbil source", src_p), *[("project", p) for p in project_ps],
                        *[("cookbook", Path(c)) for c in cookbooks]]:
        if path is not None and not path.exists():
            raise FileNotFoundError(f"{label} path {path} does not exist")

    sink = Sink(warn)
    t = time.perf_counter()
    try:
        index = _index_for(docs_p, src_p, project_ps, index)
    except (ImportError, AttributeError) as exc:  # the core index not installed: say so, check what can be checked
        sink.warn("symbol index", 0, f"not available ({exc}); identifier checks skipped")
        index = None
    timings["index"] = time.perf_counter() - t

    t = time.perf_counter()
    collect(docs=docs_p, cookbooks=[Path(c) for c in cookbooks], gerbil_src=src_p, projects=project_ps,
            index=index, seed=seed, sink=sink, progress=progress)
    for entry in extra_entries:
        sink.add(entry)
    timings["sources"] = time.perf_counter() - t

    dropped: Counter = Counter(sink.dropped)
    drops: list[dict[str, Any]] = [
        {"reason": r, "id": "", "where": w, "source": "", "detail": ""}
        for r, ws in sorted(sink.drop_examples.items()) for w in ws
    ]
    secrets: Counter = Counter()
    t = time.perf_counter()
    entries = [scrub_entry(e, secrets) for e in sorted(sink.entries, key=_order)]
    timings["secrets"] = time.perf_counter() - t

    t = time.perf_counter()
    entries, renamed = check_entries(entries, index, dropped, drops, progress=progress)
    timings["checks"] = time.perf_counter() - t

    overlaps = eval_overlap_check()
    if overlaps is not None:
        kept = []
        for e in entries:
            if e.kind == "chat" and overlaps(e.text()):
                _drop(dropped, drops, "overlaps an eval held-out question", e, e.provenance.where())
            else:
                kept.append(e)
        entries = kept

    t = time.perf_counter()
    hashes = dedupe_mod.signatures(entries)
    deduped = dedupe_mod.dedupe(entries, hashes=hashes)
    dropped.update(deduped.dropped)
    by_id = {e.id: e for e in entries}
    for dup, original in sorted(deduped.duplicate_of.items()):
        e = by_id.get(dup)
        if e is not None:
            reason = "exact duplicate" if _norm(e) == _norm(by_id.get(original)) else "near duplicate"
            drops.append({"reason": reason, "id": dup, "where": e.provenance.where(),
                          "source": e.provenance.source, "detail": f"of {original}"})
    split = dedupe_mod.split_heldout(deduped.kept, fraction=heldout_fraction, seed=seed, hashes=hashes)
    entries = sorted(split.entries, key=lambda e: (e.split != "train", *_order(e)))
    timings["dedupe"] = time.perf_counter() - t

    if progress:
        progress("write", 0, 1)
    t = time.perf_counter()
    lengths_counter = LengthCounter(tokenizer)
    lengths = lengths_counter.lengths([entry_text(e) for e in entries])
    files = _render_files(entries, formats)
    length_by_kind: dict[str, list[int]] = {}
    for e, n in zip(entries, lengths, strict=True):
        length_by_kind.setdefault(e.kind, []).append(n)
    stats = compute_stats(
        entries, dropped, lengths=lengths, length_method=lengths_counter.method,
        warnings=len(sink.warnings), secrets=secrets,
        files={name: data.count(b"\n") for name, data in files.items()},
        seed=seed,
        inputs={"docs": bool(docs_p), "cookbooks": len(cookbooks), "gerbil_src": bool(src_p),
                "projects": len(project_ps), "heldout_fraction": heldout_fraction,
                "formats": formats},
        extra={"identifier_check": index is not None, "drift_corrected": renamed, "groups_joined_for_split": split.joined_groups,
               "heldout_groups": len(split.heldout_groups)},
    )
    drops_sorted = sorted(drops, key=lambda d: (d["reason"], d["where"], d["id"]))
    files[DROPPED_FILE] = "".join(json.dumps(d, ensure_ascii=False, sort_keys=True) + "\n"
                                  for d in drops_sorted).encode()
    files["stats.json"] = (json.dumps(stats, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode()
    examples: dict[str, list[str]] = {}
    for d in drops_sorted:
        bucket = examples.setdefault(d["reason"], [])
        if len(bucket) < 2:
            bucket.append(f"{d['where']}" + (f" ({d['detail']})" if d["detail"] else ""))
    files["report.md"] = report_markdown(stats, examples).encode()
    files["lengths.png"] = histogram_png(length_by_kind, lengths_counter.method)
    out = write_atomically(Path(output), files)
    timings["write"] = time.perf_counter() - t
    if progress:
        progress("write", 1, 1)
    return BuildResult(out, entries, stats, sink.warnings, time.perf_counter() - started, timings, drops_sorted)


def _norm(entry: Entry | None) -> str:
    return dedupe_mod.normalized(entry.text()) if entry is not None else ""


def _jsonl(records: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=False) + "\n" for r in records).encode("utf-8")


def _render_files(entries: Sequence[Entry], formats: Sequence[str]) -> dict[str, bytes]:
    files: dict[str, bytes] = {ENTRIES_FILE: _jsonl([e.to_record() for e in entries])}
    for fmt in formats:
        module = FORMATS["alpaca" if fmt == "alpaca-json" else fmt]
        for split in ("train", "heldout"):
            records = [r for e in entries if e.split == split for r in [module.to_record(e)] if r is not None]
            if fmt == "alpaca-json":
                files[f"{split}.alpaca.json"] = (json.dumps(records, ensure_ascii=False, indent=1) + "\n").encode()
            else:
                files[f"{split}.{fmt}.jsonl"] = _jsonl(records)
    return files


def write_atomically(target: Path, files: dict[str, bytes]) -> Path:
    """Write every file into a fresh folder beside ``target``, then swap it in with renames."""
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
    try:
        for name, data in sorted(files.items()):
            with open(staging / name, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        old = None
        if target.exists():
            old = target.parent / f".{target.name}.old-{os.getpid()}"
            os.replace(target, old)
        os.replace(staging, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def load_entries(directory: str | Path) -> list[Entry]:
    path = Path(directory) / ENTRIES_FILE
    with path.open(encoding="utf-8") as fh:
        return [Entry.from_record(json.loads(line)) for line in fh if line.strip()]


# the provenance type is part of this module's vocabulary for callers building extra entries
__all__ = ["build_dataset", "BuildResult", "Provenance", "load_entries", "output_files", "write_atomically"]
