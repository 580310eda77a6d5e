"""Exact and near-duplicate removal, and the held-out split by source group.

Near duplicates are found with MinHash LSH over token 3-shingles. Two
thresholds: at ``drop_threshold`` the later entry is a duplicate and is
dropped; at the lower ``leak_threshold`` two entries are close enough that one
in train would leak the other in held-out, so their groups are joined and the
whole joined group lands on one side. Everything is ordered by entry id and
seed, so the result does not depend on input order.

The sketches are datasketch's ``MinHash`` (its ``affine32`` scheme: crc32 of
each shingle, MurmurHash3 ``fmix32``, then ``a*h + b`` mod 2^32 per
permutation, seed 1), computed for all entries at once with numpy; the LSH
bands and the Jaccard estimates (equal positions / ``NUM_PERM``) are the ones
``MinHashLSH`` and ``MinHash.jaccard`` give, done as array operations. The
test suite checks both against datasketch itself.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import chain

import numpy as np

from gerbil_lsp.data.entries import Entry

NUM_PERM = 128
DROP_THRESHOLD = 0.85
LEAK_THRESHOLD = 0.5
#: LSH bands x rows for the leak search: finds pairs at Jaccard 0.7 with p > 0.999
LEAK_BANDS = (32, 4)
SEED = 1
_TOKEN = re.compile(r"[^\s()\[\]{}\"'`,;]+")
#: shingles hashed per numpy block when sketching (bounds memory: block x NUM_PERM x 4 bytes)
_BLOCK = 1 << 16
#: candidate pairs compared per numpy block in the leak search
_PAIR_BLOCK = 1 << 17


def shingles(text: str, size: int = 3) -> set[bytes]:
    tokens = _TOKEN.findall(text.lower())
    if len(tokens) < size:
        return {" ".join(tokens).encode()} if tokens else {b""}
    return {" ".join(tokens[i : i + size]).encode() for i in range(len(tokens) - size + 1)}


def _shingle_hashes(text: str) -> list[int]:
    """crc32 of every distinct 3-shingle (the same set as :func:`shingles`)."""
    tokens = _TOKEN.findall(text.lower())
    if len(tokens) < 3:
        return [zlib.crc32(" ".join(tokens).encode())]  # "" when there are no tokens, as shingles() gives
    grams = set(map(" ".join, zip(tokens, tokens[1:], tokens[2:], strict=False)))
    return [zlib.crc32(g.encode()) for g in grams]


def normalized(text: str) -> str:
    return " ".join(text.split())


def minhash(text: str):
    """A datasketch ``MinHash`` of one text (the reference the array code matches)."""
    from datasketch import MinHash

    m = MinHash(num_perm=NUM_PERM, seed=SEED, hashfunc=zlib.crc32)
    m.update_batch(sorted(shingles(text)))
    return m


@lru_cache(maxsize=4)
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutation parameters (odd ``a``, any ``b``) for a seed."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer (wrapping uint32 arithmetic)."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def sketch_matrix(texts: Sequence[str], num_perm: int = NUM_PERM) -> np.ndarray:
    """MinHash values of every text, one row each (``len(texts) x num_perm``, uint32)."""
    a, b = _permutations(num_perm, SEED)
    out = np.empty((len(texts), num_perm), dtype=np.uint32)
    if not texts:
        return out
    per_text = [_shingle_hashes(t) for t in texts]
    sizes = np.fromiter(map(len, per_text), dtype=np.int64, count=len(per_text))
    flat = np.fromiter(chain.from_iterable(per_text), dtype=np.uint32, count=int(sizes.sum()))
    mixed = _fmix32(flat)
    ends = np.cumsum(sizes)
    starts = ends - sizes
    first = 0
    while first < len(texts):  # texts in blocks of about _BLOCK shingles
        last = max(int(np.searchsorted(ends, starts[first] + _BLOCK, side="right")), first + 1)
        lo, hi = int(starts[first]), int(ends[last - 1])
        # permutation-major, so the per-text minimum runs along contiguous memory
        values = a[:, None] * mixed[None, lo:hi] + b[:, None]
        # every text has at least one shingle: no empty segment for reduceat
        out[first:last] = np.minimum.reduceat(values, starts[first:last] - lo, axis=1).T
        first = last
    return out


class Signatures(Mapping[str, np.ndarray]):
    """MinHash rows of chat entries by entry id (a read-only mapping id -> row)."""

    def __init__(self, ids: Sequence[str], matrix: np.ndarray) -> None:
        self.ids = list(ids)
        self.matrix = matrix
        self.row = {k: i for i, k in enumerate(self.ids)}

    def __getitem__(self, key: str) -> np.ndarray:
        return self.matrix[self.row[key]]

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids)

    def __len__(self) -> int:
        return len(self.ids)

    def jaccard(self, a: str, b: str) -> float:
        """The estimate ``MinHash.jaccard`` gives: equal positions / number of permutations."""
        return float(np.count_nonzero(self[a] == self[b])) / float(self.matrix.shape[1])


def signatures(entries: Sequence[Entry]) -> Signatures:
    """MinHash of every chat entry, computed once (crc32 shingle hashes: fast and stable across runs)."""
    chats = sorted({e.id: e for e in entries if e.kind == "chat"}.values(), key=lambda e: e.id)
    return Signatures([e.id for e in chats], sketch_matrix([e.text() for e in chats]))


def _with_signatures(entries: Sequence[Entry], hashes: Mapping | None) -> Signatures:
    if hashes is None:
        return signatures(entries)
    if not isinstance(hashes, Signatures):  # {id: datasketch MinHash (or its hash values)}
        ids = sorted(hashes)
        rows = [np.asarray(getattr(hashes[i], "hashvalues", hashes[i]), dtype=np.uint32) for i in ids]
        hashes = Signatures(ids, np.stack(rows) if rows else np.empty((0, NUM_PERM), dtype=np.uint32))
    missing = [e for e in entries if e.kind == "chat" and e.id not in hashes.row]
    if not missing:
        return hashes
    extra = signatures(missing)
    return Signatures(hashes.ids + extra.ids, np.concatenate([hashes.matrix, extra.matrix]))


#: what ``MinHashLSH`` picks for the default drop threshold (a test checks it still does); other
#: thresholds ask datasketch, whose import (scipy) and search cost about a second
_KNOWN_LSH_PARAMS = {(DROP_THRESHOLD, NUM_PERM): (8, 16)}


@lru_cache(maxsize=8)
def lsh_params(threshold: float, num_perm: int = NUM_PERM) -> tuple[int, int]:
    """(bands, rows) that ``MinHashLSH(threshold, num_perm)`` picks (least weighted FP + FN)."""
    known = _KNOWN_LSH_PARAMS.get((threshold, num_perm))
    if known is not None:
        return known
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    return lsh.b, lsh.r


def band_keys(matrix: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """``bands x n`` bucket numbers: two rows share a bucket in a band iff those ``rows`` values are equal."""
    keys = np.empty((bands, matrix.shape[0]), dtype=np.int64)
    for band in range(bands):
        part = np.ascontiguousarray(matrix[:, band * rows : (band + 1) * rows])
        _, inverse = np.unique(part.view(np.dtype((np.void, part.itemsize * rows))).ravel(), return_inverse=True)
        keys[band] = inverse.ravel()
    return keys


@dataclass
class DedupeResult:
    kept: list[Entry]
    dropped: Counter = field(default_factory=Counter)  # reason -> count
    duplicate_of: dict[str, str] = field(default_factory=dict)  # dropped id -> kept id


def dedupe(
    entries: Sequence[Entry],
    *,
    drop_threshold: float = DROP_THRESHOLD,
    hashes: Mapping | None = None,
) -> DedupeResult:
    """Drop exact duplicates (same normalized text) and near duplicates of chat entries.

    FIM entries are only deduplicated exactly: many holes of one file share most
    of their text by design. A chat entry is a near duplicate when an LSH band
    (``MinHashLSH(drop_threshold)``'s banding) puts an already kept entry in
    its bucket and their estimated Jaccard is at least ``drop_threshold``; it
    is then reported as a duplicate of the smallest such id.
    """
    result = DedupeResult(kept=[])
    seen: dict[str, str] = {}
    hashes = _with_signatures(entries, hashes)
    matrix = hashes.matrix
    bands, rows = lsh_params(drop_threshold, matrix.shape[1])
    keys = band_keys(matrix, bands, rows) if len(hashes) else np.empty((bands, 0), dtype=np.int64)
    key_rows = keys.T.tolist()
    tables: list[dict[int, list[int]]] = [{} for _ in range(bands)]
    num_perm = float(matrix.shape[1])
    for entry in sorted(entries, key=_order):
        key = hashlib.sha256(f"{entry.kind}\0{normalized(entry.text())}".encode()).hexdigest()
        if key in seen:
            result.dropped["exact duplicate"] += 1
            result.duplicate_of[entry.id] = seen[key]
            continue
        if entry.kind == "chat":
            row = hashes.row[entry.id]
            buckets = key_rows[row]
            candidates: set[int] = set()
            for table, bucket in zip(tables, buckets, strict=True):
                members = table.get(bucket)
                if members:
                    candidates.update(members)
            if candidates:
                # LSH gives candidates; the MinHash estimate decides (fewer false drops)
                cand = np.fromiter(candidates, dtype=np.int64, count=len(candidates))
                equal = np.count_nonzero(matrix[cand] == matrix[row], axis=1)
                near = cand[equal / num_perm >= drop_threshold]
                if len(near):
                    result.dropped["near duplicate"] += 1
                    result.duplicate_of[entry.id] = min(hashes.ids[i] for i in near.tolist())
                    continue
            for table, bucket in zip(tables, buckets, strict=True):
                table.setdefault(bucket, []).append(row)
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


def _bucket_pairs(bucket: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (i, j), i before j, of positions that share a bucket number."""
    n = len(bucket)
    order = np.argsort(bucket, kind="stable")
    ranked = bucket[order]
    new = np.empty(n, dtype=bool)
    new[:1] = True
    new[1:] = ranked[1:] != ranked[:-1]
    starts = np.flatnonzero(new)
    sizes = np.diff(np.append(starts, n))
    end_of = np.repeat(starts + sizes, sizes)  # for each sorted position, the end of its bucket
    position = np.arange(n)
    after = end_of - position - 1  # partners after each position in its bucket
    total = int(after.sum())
    if not total:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    left = np.repeat(position, after)
    offset = np.arange(total) - np.repeat(np.cumsum(after) - after, after)
    right = left + 1 + offset
    return order[left], order[right]


class _Closeness:
    """Which row pairs have an estimated Jaccard (equal positions / permutations) of at least a threshold.

    Exact, but most pairs are ruled out cheaply first: equal 32-bit values have
    equal low 4 bits, so the number of positions with equal low nibbles bounds
    the number of equal values from above. The nibbles are packed 16 to a
    64-bit word and counted with a zero-nibble bit trick; only pairs with
    enough equal nibbles have their values compared.
    """

    _LOW3 = np.uint64(0x7777777777777777)

    def __init__(self, matrix: np.ndarray, threshold: float) -> None:
        self.matrix = matrix
        self.num_perm = matrix.shape[1]
        self.threshold = threshold
        # the fewest equal positions with equal / num_perm >= threshold (as MinHash.jaccard divides)
        self.need = next((k for k in range(self.num_perm + 1) if k / float(self.num_perm) >= threshold),
                         self.num_perm + 1)
        self.packed = None
        if self.num_perm % 16 == 0 and hasattr(np, "bitwise_count"):
            nibbles = (matrix & np.uint32(0xF)).astype(np.uint64)
            packed = np.zeros((matrix.shape[0], self.num_perm // 16), dtype=np.uint64)
            for k in range(16):
                packed |= nibbles[:, k::16] << np.uint64(4 * k)
            self.packed = packed

    def equal_nibbles(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Per pair, how many positions have equal low nibbles."""
        x = self.packed[a]
        x ^= self.packed[b]  # a nibble is 0 where they are equal
        y = x & self._LOW3
        y += self._LOW3  # bit 3 of a nibble set if its low 3 bits are not all 0 (no carry out: 7 + 7 < 16)
        y |= x  # ... or its bit 3 is
        y |= self._LOW3
        np.invert(y, out=y)  # now exactly bit 3 of each zero nibble is set
        return np.bitwise_count(y).sum(axis=1, dtype=np.int32)

    def pairs(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The (a[i], b[i]) whose estimate reaches the threshold."""
        if self.packed is not None:
            maybe = self.equal_nibbles(a, b) >= self.need
            a, b = a[maybe], b[maybe]
        equal = np.count_nonzero(self.matrix[a] == self.matrix[b], axis=1)
        hit = equal / float(self.num_perm) >= self.threshold
        return a[hit], b[hit]


def split_heldout(
    entries: Sequence[Entry],
    *,
    fraction: float,
    seed: int,
    leak_threshold: float = LEAK_THRESHOLD,
    hashes: Mapping | None = None,
) -> SplitResult:
    """Mark whole source groups held-out so that no near duplicate crosses the split.

    Two chat entries of different groups are joined when they share one of the
    ``LEAK_BANDS`` LSH buckets and their estimated Jaccard is at least
    ``leak_threshold``; joined groups form components (union-find), and each
    component, named by its smallest group, is held out or not by a seeded
    hash. Which pairs join does not depend on the order they are looked at.
    """
    groups = sorted({_group(e) for e in entries})
    group_index = {g: i for i, g in enumerate(groups)}
    parent = list(range(len(groups)))

    def find(g: int) -> int:
        while parent[g] != g:
            parent[g] = parent[parent[g]]
            g = parent[g]
        return g

    hashes = _with_signatures(entries, hashes)
    rows: list[int] = []
    row_groups: list[int] = []
    taken: set[str] = set()
    for entry in sorted(entries, key=lambda e: e.id):
        if entry.kind != "chat" or entry.id in taken:
            continue  # one entry per id: the first in id order speaks for its group
        taken.add(entry.id)
        rows.append(hashes.row[entry.id])
        row_groups.append(group_index[_group(entry)])

    joined = 0
    if len(rows) > 1:
        matrix = hashes.matrix[np.asarray(rows, dtype=np.int64)]
        group_of = np.asarray(row_groups, dtype=np.int64)
        bands, per_band = LEAK_BANDS
        close = _Closeness(matrix, leak_threshold)
        keys = band_keys(matrix, bands, per_band)
        for band in range(bands):
            left, right = _bucket_pairs(keys[band])
            if not len(left):
                continue
            # pairs already in one component cannot join anything: skip them before comparing
            root = np.fromiter((find(g) for g in range(len(groups))), dtype=np.int64, count=len(groups))
            keep = root[group_of[left]] != root[group_of[right]]
            left, right = left[keep], right[keep]
            for lo in range(0, len(left), _PAIR_BLOCK):
                a, b = close.pairs(left[lo : lo + _PAIR_BLOCK], right[lo : lo + _PAIR_BLOCK])
                for x, y in zip(group_of[a].tolist(), group_of[b].tolist(), strict=True):
                    ra, rb = find(x), find(y)
                    if ra != rb:
                        parent[max(ra, rb)] = min(ra, rb)
                        joined += 1

    components: dict[str, list[str]] = {}
    for i, g in enumerate(groups):
        components.setdefault(groups[find(i)], []).append(g)
    heldout: set[str] = set()
    for root_name in sorted(components):
        if _unit(f"{seed}:{root_name}") < fraction:
            heldout.update(components[root_name])
    out = [replace(e, split="heldout" if _group(e) in heldout else "train") for e in entries]
    return SplitResult(out, joined, sorted(heldout))


def _group(entry: Entry) -> str:
    return entry.provenance.group or f"{entry.provenance.source}:{entry.provenance.file}"


def _unit(key: str) -> float:
    """A deterministic number in [0, 1) for a key."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64
