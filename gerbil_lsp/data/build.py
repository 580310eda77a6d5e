"""`gerbil-lsp data build`: sources -> checked entries -> every format, written atomically.

Order: collect from every source; scrub secrets (before anything is kept);
check code reads cleanly; check identifiers against the symbol index (fixing
known doc-drift renames); refuse overlap with the eval suite's held-out
questions; dedupe; split held-out by source group; write. Everything is
sorted by stable keys and seeded, so the same inputs and seed give
byte-identical files. The output folder is built beside the target and renamed
into place: a reader sees the old dataset or the new one, never half of one.

Speed: each text is read by the Gerbil reader once (:mod:`~gerbil_lsp.data.reads`),
secrets are looked for only where a pattern could match (see
:mod:`~gerbil_lsp.data.checks.secrets`), the dedupe works on all sketches at
once with numpy, and where a second CPU is free, work that is a pure function
of its inputs runs there alongside (:mod:`~gerbil_lsp.data.ahead`). None of it
changes a byte of the output.
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

from gerbil_lsp.core import collector
from gerbil_lsp.data import dedupe as dedupe_mod
from gerbil_lsp.data.ahead import Alongside, FileSources, TextWork
from gerbil_lsp.data.checks.identifiers import IdentifierCheck, apply_renames
from gerbil_lsp.data.checks.secrets import Scrubber
from gerbil_lsp.data.entries import CodeBlock, Entry, FimParts, Message, Provenance
from gerbil_lsp.data.formats import FORMATS
from gerbil_lsp.data.reads import Reads
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
    reads: Reads | None = None,
    file_sources: FileSources | None = None,
) -> None:
    """Run every source into the sink, in order.

    ``reads`` shares reader results between the sources and the checks;
    ``file_sources``: the tests and FIM sources over the same roots, already
    started (see :mod:`gerbil_lsp.data.ahead`).
    """
    from gerbil_lsp.data.sources import cookbooks as cookbook_source
    from gerbil_lsp.data.sources import docs as docs_source
    from gerbil_lsp.data.sources import fim as fim_source
    from gerbil_lsp.data.sources import other_schemes, source_tree

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
    if index is not None:  # other Schemes' names, answered with the Gerbil names this index has
        other_schemes.from_other_schemes(index, sink, version=version)
    for cookbook in cookbooks:
        cookbook_source.from_cookbook(Path(cookbook), sink)
    if cookbooks:
        # recipes also teach completion: one hole per recipe, checked like the recipe itself
        for entry in [e for e in sink.entries if e.provenance.source == "cookbook"]:
            for block in entry.code:
                for fim in fim_source.fim_entries(block.code, path=f"{entry.provenance.group}.ss",
                                                  provenance=entry.provenance, seed=seed,
                                                  imports=block.imports, count=1, reads=reads):
                    sink.add(fim)
        step("cookbooks")
    roots = source_roots(gerbil_src, projects)
    if roots:
        if index is not None:
            forms = file_sources.forms() if file_sources is not None else {}
            source_tree.from_index(index, roots, sink, version=version, reads=reads, forms=forms)
        if file_sources is None:
            file_sources = FileSources(roots, seed=seed, version=version, parallel=False)
        file_sources.into(sink, reads)  # from_tests, then from_files
        step("source trees")


def source_roots(gerbil_src: Path | None, projects: Sequence[Path]) -> list[tuple[Path, str]]:
    """(root, source label) of the Gerbil source tree and the projects."""
    roots: list[tuple[Path, str]] = []
    if gerbil_src:
        roots.append((Path(gerbil_src), "gerbil-src"))
    return roots + [(Path(p), "project") for p in projects]


def _outer_texts(entry: Entry) -> tuple[str, ...]:
    """The texts of an entry that others of it are cut from: a FIM file and its context files; chat turns."""
    if entry.kind == "fim" and entry.fim is not None:
        return tuple(b.code for b in entry.code) + tuple(t for _, t in entry.fim.context_files)
    return tuple(m.content for m in entry.messages)


def scrub_entry(entry: Entry, counts: Counter, scrubber: Scrubber | None = None) -> Entry:
    """The entry with secrets scrubbed from every text it holds (id recomputed if anything changed).

    Each text is scrubbed on its own, as :func:`scrub_secrets` does; the
    scrubber only skips looking again at text it has seen (or seen inside a
    clean text).
    """
    scrubber = scrubber if scrubber is not None else Scrubber()

    def s(text: str, within: tuple[str, ...] = ()) -> str:
        clean, found = scrubber.scrub(text, within)
        if found:
            counts.update(found)
        return clean

    if entry.kind == "fim" and entry.fim is not None:
        f = entry.fim
        files = tuple(b.code for b in entry.code)  # the hole's parts are cut from the file
        new = FimParts(s(f.prefix, files), s(f.middle, files), s(f.suffix, files), f.path, f.repo_name,
                       tuple((p, s(t)) for p, t in f.context_files), f.split_kind)
        code = tuple(CodeBlock(s(b.code), b.imports, b.role) for b in entry.code)
        return entry if new == f and code == entry.code else entry.with_content(fim=new, code=code)
    messages = tuple(Message(m.role, s(m.content)) for m in entry.messages)
    turns = tuple(m.content for m in entry.messages)  # code blocks are mostly quoted from the answer
    code = tuple(CodeBlock(s(b.code, turns), b.imports, b.role) for b in entry.code)
    if messages == entry.messages and code == entry.code:
        return entry
    return entry.with_content(messages=messages, code=code)


def scrub_all(entries: Sequence[Entry], counts: Counter) -> list[Entry]:
    """:func:`scrub_entry` of every entry, with one scrubber that first checks all whole texts at once."""
    scrubber = Scrubber()
    scrubber.prepare(t for e in entries for t in _outer_texts(e))
    return [scrub_entry(e, counts, scrubber) for e in entries]


def check_entries(
    entries: Sequence[Entry],
    index,
    dropped: Counter,
    drops: list[dict[str, Any]],
    *,
    progress: Progress | None = None,
    reads: Reads | None = None,
) -> tuple[list[Entry], int]:
    """Readability and identifier checks; returns the kept entries and how many drift renames were fixed.

    Each distinct code text is read once (``reads`` may already know it from the sources), and the
    identifier check looks at that same read.
    """
    reads = reads if reads is not None else Reads()
    checker = IdentifierCheck(index, reads=reads) if index is not None else None
    kept: list[Entry] = []
    renamed = 0
    for n, entry in enumerate(entries):
        if progress and n % 500 == 0:
            progress("check", n, len(entries))
        where = entry.provenance.where()
        problem = None
        for block in entry.code:
            problem = reads.problem(block.code)
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
    with collector.paused():  # many syntax trees and entries alive at once
        return _build_dataset(
            docs=docs, cookbooks=cookbooks, gerbil_src=gerbil_src, projects=projects, output=output,
            formats=formats, seed=seed, heldout_fraction=heldout_fraction, tokenizer=tokenizer, index=index,
            extra_entries=extra_entries, warn=warn, progress=progress,
        )


def _build_dataset(
    *,
    docs: str | Path | None,
    cookbooks: Sequence[str | Path],
    gerbil_src: str | Path | None,
    projects: Sequence[str | Path],
    output: str | Path,
    formats: Sequence[str],
    seed: int,
    heldout_fraction: float,
    tokenizer: str | Path | None,
    index,
    extra_entries: Sequence[Entry],
    warn: Callable[[SourceWarning], None] | None,
    progress: Progress | None,
) -> BuildResult:
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
    reads = Reads()
    # the source tree's tests and FIM holes need no index: they start now, alongside the index build
    file_sources = FileSources(source_roots(src_p, project_ps), seed=seed)
    try:
        t = time.perf_counter()
        try:
            index = _index_for(docs_p, src_p, project_ps, index)
        except (ImportError, AttributeError) as exc:  # the core index not installed: say so, check what can
            sink.warn("symbol index", 0, f"not available ({exc}); identifier checks skipped")
            index = None
        timings["index"] = time.perf_counter() - t

        t = time.perf_counter()
        collect(docs=docs_p, cookbooks=[Path(c) for c in cookbooks], gerbil_src=src_p, projects=project_ps,
                index=index, seed=seed, sink=sink, progress=progress, reads=reads, file_sources=file_sources)
    finally:
        file_sources.close()
    for entry in extra_entries:
        sink.add(entry)
    reads.drop_trees()  # the sources' files: their verdicts stay, their trees are done with
    timings["sources"] = time.perf_counter() - t

    dropped: Counter = Counter(sink.dropped)
    drops: list[dict[str, Any]] = [
        {"reason": r, "id": "", "where": w, "source": "", "detail": ""}
        for r, ws in sorted(sink.drop_examples.items()) for w in ws
    ]
    ordered = sorted(sink.entries, key=_order)
    # the overlap check and the dedupe's sketches need only the chat texts: start them now, alongside
    chat_texts = {e.id: e.text() for e in ordered if e.kind == "chat"}
    ahead = TextWork(list(chat_texts), list(chat_texts.values()))
    try:
        return _checked_and_written(
            ordered, ahead, sink=sink, index=index, reads=reads, dropped=dropped, drops=drops,
            timings=timings, started=started, output=output, formats=formats, seed=seed,
            heldout_fraction=heldout_fraction, tokenizer=tokenizer, progress=progress,
            inputs={"docs": bool(docs_p), "cookbooks": len(cookbooks), "gerbil_src": bool(src_p),
                    "projects": len(project_ps), "heldout_fraction": heldout_fraction, "formats": formats},
        )
    finally:
        ahead.close()


def _checked_and_written(
    ordered: list[Entry],
    ahead: TextWork,
    *,
    sink: Sink,
    index,
    reads: Reads,
    dropped: Counter,
    drops: list[dict[str, Any]],
    timings: dict[str, float],
    started: float,
    output: str | Path,
    formats: list[str],
    seed: int,
    heldout_fraction: float,
    tokenizer: str | Path | None,
    progress: Progress | None,
    inputs: dict[str, Any],
) -> BuildResult:
    secrets: Counter = Counter()
    t = time.perf_counter()
    entries = scrub_all(ordered, secrets)
    timings["secrets"] = time.perf_counter() - t

    t = time.perf_counter()
    entries, renamed = check_entries(entries, index, dropped, drops, progress=progress, reads=reads)
    reads.drop_trees()
    timings["checks"] = time.perf_counter() - t

    t = time.perf_counter()
    chats = [e for e in entries if e.kind == "chat"]
    verdicts = ahead.overlaps([e.text() for e in chats])  # eval_overlap_check(), per chat text
    if verdicts is not None:
        overlapping = {id(e) for e, hit in zip(chats, verdicts, strict=True) if hit}
        kept = []
        for e in entries:
            if id(e) in overlapping:
                _drop(dropped, drops, "overlaps an eval held-out question", e, e.provenance.where())
            else:
                kept.append(e)
        entries = kept
    timings["overlap"] = time.perf_counter() - t

    t = time.perf_counter()
    hashes = ahead.signatures(entries)
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
    length_by_kind: dict[str, list[int]] = {}
    for e, n in zip(entries, lengths, strict=True):
        length_by_kind.setdefault(e.kind, []).append(n)
    png = Alongside(histogram_png, length_by_kind, lengths_counter.method)  # drawn while the files render
    try:
        files = _render_files(entries, formats)
        stats = compute_stats(
            entries, dropped, lengths=lengths, length_method=lengths_counter.method,
            warnings=len(sink.warnings), secrets=secrets,
            files={name: data.count(b"\n") for name, data in files.items()},
            seed=seed,
            inputs=inputs,
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
        files["lengths.png"] = png.result()
    finally:
        png.close()
    out = write_atomically(Path(output), files)
    timings["write"] = time.perf_counter() - t
    if progress:
        progress("write", 1, 1)
    return BuildResult(out, entries, stats, sink.warnings, time.perf_counter() - started, timings, drops_sorted)


def _norm(entry: Entry | None) -> str:
    return dedupe_mod.normalized(entry.text()) if entry is not None else ""


#: ``json.dumps(r, ensure_ascii=False)`` without building an encoder per record (the same output)
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode


def _jsonl(records: list[dict]) -> bytes:
    return "".join([line + "\n" for line in map(_ENCODE, records)]).encode("utf-8")


def _json_array_indent1(records: list[dict]) -> str:
    """``json.dumps(records, ensure_ascii=False, indent=1)`` for a list of objects with string values.

    The indenting encoder is pure Python; here the C encoder writes each key and
    value and the layout is put around them (the tests compare it with json.dumps).
    Anything else goes to json.dumps itself.
    """
    if not records or not all(type(r) is dict and r and all(type(k) is str and type(v) is str for k, v in r.items())
                              for r in records):
        return json.dumps(records, ensure_ascii=False, indent=1)
    items = ",\n".join(
        " {\n" + ",\n".join(f"  {_ENCODE(k)}: {_ENCODE(v)}" for k, v in r.items()) + "\n }" for r in records
    )
    return f"[\n{items}\n]"


def _render_files(entries: Sequence[Entry], formats: Sequence[str]) -> dict[str, bytes]:
    files: dict[str, bytes] = {ENTRIES_FILE: _jsonl([e.to_record() for e in entries])}
    for fmt in formats:
        module = FORMATS["alpaca" if fmt == "alpaca-json" else fmt]
        for split in ("train", "heldout"):
            records = [r for e in entries if e.split == split for r in [module.to_record(e)] if r is not None]
            if fmt == "alpaca-json":
                files[f"{split}.alpaca.json"] = (_json_array_indent1(records) + "\n").encode()
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
