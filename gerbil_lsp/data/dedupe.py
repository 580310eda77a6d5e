"""Exact and near-duplicate removal, and the held-out split by source group.

Near duplicates are found with MinHash LSH (datasketch) over token 3-shingles.
Two thresholds: at ``drop_threshold`` the later entry is a duplicate and is
dropped; at the lower ``leak_threshold`` two entries are close enough that one
in train would leak the other in held-out, so their groups are joined and the
whole joined group lands on one side. Everything is ordered by entry id and
seed, so the result does not depend on input order.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from datasketch import MinHash, MinHashLSH

from gerbil_lsp.data.entries import Entry

NUM_PERM = 128
DROP_THRESHOLD = 0.85
LEAK_THRESHOLD = 0.5
#: LSH bands x rows for the leak search: finds pairs at Jaccard 0.7 with p > 0.999
LEAK_BANDS = (32, 4)
_TOKEN = re.compile(r"[^\s()\[\]{}\"'`,;]+")


def shingles(text: str, size: int = 3) -> set[bytes]:
    tokens = _TOKEN.findall(text.lower())
    if len(tokens) < size:
        return {" ".join(tokens).encode()} if tokens else {b""}
    return {" ".join(tokens[i : i + size]).encode() for i in range(len(tokens) - size + 1)}


def normalized(text: str) -> str:
    return " ".join(text.split())


def minhash(text: str) -> MinHash:
    m = MinHash(num_perm=NUM_PERM, seed=1, hashfunc=zlib.crc32)
    m.update_batch(sorted(shingles(text)))
    return m


def signatures(entries: Sequence[Entry]) -> dict[str, MinHash]:
    """MinHash of every chat entry, computed once (crc32 shingle hashes: fast and stable across runs)."""
    chats = sorted({e.id: e for e in entries if e.kind == "chat"}.values(), key=lambda e: e.id)
    hashes = MinHash.bulk([sorted(shingles(e.text())) for e in chats], num_perm=NUM_PERM, seed=1,
                          hashfunc=zlib.crc32)
    return {e.id: m for e, m in zip(chats, hashes, strict=True)}


@dataclass
class DedupeResult:
    kept: list[Entry]
    dropped: Counter = field(default_factory=Counter)  # reason -> count
    duplicate_of: dict[str, str] = field(default_factory=dict)  # dropped id -> kept id


def dedupe(
    entries: Sequence[Entry],
    *,
    drop_threshold: float = DROP_THRESHOLD,
    hashes: dict[str, MinHash] | None = None,
) -> DedupeResult:
    """Drop exact duplicates (same normalized text) and near duplicates of chat entries.

    FIM entries are only deduplicated exactly: many holes of one file share most
    of their text by design.
    """
    result = DedupeResult(kept=[])
    seen: dict[str, str] = {}
    lsh = MinHashLSH(threshold=drop_threshold, num_perm=NUM_PERM)
    hashes = hashes if hashes is not None else signatures(entries)
    kept_hashes: dict[str, MinHash] = {}
    for entry in sorted(entries, key=_order):
        key = hashlib.sha256(f"{entry.kind}\0{normalized(entry.text())}".encode()).hexdigest()
        if key in seen:
            result.dropped["exact duplicate"] += 1
            result.duplicate_of[entry.id] = seen[key]
            continue
        if entry.kind == "chat":
            m = hashes[entry.id]
            # LSH gives candidates; the MinHash estimate decides (fewer false drops)
            near = [k for k in lsh.query(m) if m.jaccard(kept_hashes[k]) >= drop_threshold]
            if near:
                result.dropped["near duplicate"] += 1
                result.duplicate_of[entry.id] = min(near)
                continue
            lsh.insert(entry.id, m)
            kept_hashes[entry.id] = m
        seen[key] = entry.id
        result.kept.append(entry)
    return result


def _order(entry: Entry) -> tuple:
    # earlier, better-attested sources win ties: docs and recipes before harvested text
    return (entry.provenance.source, entry.provenance.file, entry.provenance.line, entry.id)


@dataclass
class SplitResult:
    entries: list[Entry]
    joined_groups: int = 0  # groups joined because a near duplicate crossed them
    heldout_groups: list[str] = field(default_factory=list)


def split_heldout(
    entries: Sequence[Entry],
    *,
    fraction: float,
    seed: int,
    leak_threshold: float = LEAK_THRESHOLD,
    hashes: dict[str, MinHash] | None = None,
) -> SplitResult:
    """Mark whole source groups held-out so that no near duplicate crosses the split."""
    groups = sorted({_group(e) for e in entries})
    parent = {g: g for g in groups}

    def find(g: str) -> str:
        while parent[g] != g:
            parent[g] = parent[parent[g]]
            g = parent[g]
        return g

    joined = 0
    lsh = MinHashLSH(num_perm=NUM_PERM, params=LEAK_BANDS)
    group_of: dict[str, str] = {}
    hashes = hashes if hashes is not None else signatures(entries)
    for entry in sorted(entries, key=lambda e: e.id):
        if entry.kind != "chat" or entry.id in group_of:
            continue
        m = hashes[entry.id]
        g = _group(entry)
        for other in lsh.query(m):
            if group_of[other] == g or m.jaccard(hashes[other]) < leak_threshold:
                continue
            a, b = find(g), find(group_of[other])
            if a != b:
                parent[max(a, b)] = min(a, b)
                joined += 1
        lsh.insert(entry.id, m)
        group_of[entry.id] = g

    components: dict[str, list[str]] = {}
    for g in groups:
        components.setdefault(find(g), []).append(g)
    heldout: set[str] = set()
    for root in sorted(components):
        if _unit(f"{seed}:{root}") < fraction:
            heldout.update(components[root])
    out = [replace(e, split="heldout" if _group(e) in heldout else "train") for e in entries]
    return SplitResult(out, joined, sorted(heldout))


def _group(entry: Entry) -> str:
    return entry.provenance.group or f"{entry.provenance.source}:{entry.provenance.file}"


def _unit(key: str) -> float:
    """A deterministic number in [0, 1) for a key."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64
