"""Exact and near duplicates; the held-out split never separates near duplicates."""

from __future__ import annotations

from gerbil_lsp.data.dedupe import dedupe, split_heldout
from tests.data.conftest import make_chat

BASE = ("To read a whole file as a string in Gerbil use read-file-string from std/misc/ports; "
        "it opens the file, reads every character and closes the port for you. "
        "Example: (read-file-string \"notes.txt\") returns the text. It raises an error if the file is missing, "
        "so wrap it in with-catch when the path comes from the user.")


def test_exact_duplicates_dropped_whitespace_insensitive():
    a = make_chat("How do I read a file?", BASE, group="a")
    b = make_chat("How do I  read a file?", BASE.replace(" ", "  "), group="b")
    result = dedupe([a, b])
    assert len(result.kept) == 1
    assert result.dropped["exact duplicate"] == 1


def test_near_duplicate_dropped():
    a = make_chat("How do I read a file?", BASE, group="a")
    b = make_chat("How do I read a file?", BASE.replace("notes.txt", "todo.txt"), group="b")
    result = dedupe([a, b])
    assert len(result.kept) == 1 and result.dropped["near duplicate"] == 1


def test_near_duplicate_across_groups_lands_on_one_side():
    # similar enough to leak (shared answer core), not similar enough to drop as duplicates
    pairs = []
    for i in range(40):
        shared = " ".join(f"w{i}x{k}" for k in range(40))
        a = make_chat(f"question {i}", shared + " " + " ".join(f"a{i}y{k}" for k in range(7)), group=f"ga{i}")
        b = make_chat(f"query {i}", shared + " " + " ".join(f"b{i}z{k}" for k in range(7)), group=f"gb{i}")
        pairs.append((a, b))
    entries = [e for p in pairs for e in p]
    assert len(dedupe(entries).kept) == len(entries)  # none dropped: they are only similar
    result = split_heldout(entries, fraction=0.5, seed=7)
    by_id = {e.id: e.split for e in result.entries}
    assert result.joined_groups > 0
    assert {by_id[a.id] for a, _ in pairs} == {"train", "heldout"}  # the split is real
    for a, b in pairs:
        assert by_id[a.id] == by_id[b.id]


def test_split_is_deterministic_and_order_free():
    entries = [make_chat(f"q{i} unique words {i * 7919}", f"answer {i} " + "x" * i, group=f"g{i}") for i in range(50)]
    one = split_heldout(entries, fraction=0.2, seed=3).entries
    two = split_heldout(list(reversed(entries)), fraction=0.2, seed=3).entries
    assert {e.id: e.split for e in one} == {e.id: e.split for e in two}
    assert 0 < sum(e.split == "heldout" for e in one) < 50


# ----------------------------------------------------------------------------- same as datasketch
#
# The dedupe computes MinHash, LSH bands and Jaccard estimates with numpy, all
# entries at once. These tests hold it to datasketch's MinHash / MinHashLSH (the
# way the dedupe worked before): same sketches, same bucket parameters, and the
# same entries dropped, the same duplicate named, the same groups joined.

import hashlib  # noqa: E402
import random  # noqa: E402
import zlib  # noqa: E402
from collections import Counter  # noqa: E402
from dataclasses import replace  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from gerbil_lsp.data import dedupe as D  # noqa: E402

datasketch = pytest.importorskip("datasketch")


def _reference_minhash(text: str):
    m = datasketch.MinHash(num_perm=D.NUM_PERM, seed=1, hashfunc=zlib.crc32, scheme="affine32")
    m.update_batch(sorted(D.shingles(text)))
    return m


def _reference_dedupe(entries, hashes, drop_threshold=D.DROP_THRESHOLD):
    """The dedupe as it was, on datasketch's MinHashLSH."""
    kept, dropped, duplicate_of, seen = [], Counter(), {}, {}
    lsh = datasketch.MinHashLSH(threshold=drop_threshold, num_perm=D.NUM_PERM)
    kept_hashes = {}
    for entry in sorted(entries, key=D._order):
        key = hashlib.sha256(f"{entry.kind}\0{D.normalized(entry.text())}".encode()).hexdigest()
        if key in seen:
            dropped["exact duplicate"] += 1
            duplicate_of[entry.id] = seen[key]
            continue
        if entry.kind == "chat":
            m = hashes[entry.id]
            near = [k for k in lsh.query(m) if m.jaccard(kept_hashes[k]) >= drop_threshold]
            if near:
                dropped["near duplicate"] += 1
                duplicate_of[entry.id] = min(near)
                continue
            lsh.insert(entry.id, m)
            kept_hashes[entry.id] = m
        seen[key] = entry.id
        kept.append(entry)
    return kept, dropped, duplicate_of


def _reference_split(entries, fraction, seed, hashes, leak_threshold=D.LEAK_THRESHOLD):
    """The held-out split as it was, on datasketch's MinHashLSH."""
    groups = sorted({D._group(e) for e in entries})
    parent = {g: g for g in groups}

    def find(g):
        while parent[g] != g:
            parent[g] = parent[parent[g]]
            g = parent[g]
        return g

    joined, group_of = 0, {}
    lsh = datasketch.MinHashLSH(num_perm=D.NUM_PERM, params=D.LEAK_BANDS)
    for entry in sorted(entries, key=lambda e: e.id):
        if entry.kind != "chat" or entry.id in group_of:
            continue
        m, g = hashes[entry.id], D._group(entry)
        for other in lsh.query(m):
            if group_of[other] == g or m.jaccard(hashes[other]) < leak_threshold:
                continue
            a, b = find(g), find(group_of[other])
            if a != b:
                parent[max(a, b)] = min(a, b)
                joined += 1
        lsh.insert(entry.id, m)
        group_of[entry.id] = g
    components = {}
    for g in groups:
        components.setdefault(find(g), []).append(g)
    heldout = set()
    for root in sorted(components):
        if D._unit(f"{seed}:{root}") < fraction:
            heldout.update(components[root])
    return [replace(e, split="heldout" if D._group(e) in heldout else "train") for e in entries], joined


def _corpus(n=400, seed=11, vocabulary=60):
    """Chat entries built from shared boilerplate and a small vocabulary: many near pairs, some exact."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(vocabulary)] + ["(def", "(let", "x)", "y)", "import", ":std/format", "the"]
    boiler = "Import it with `(import :std/misc/ports)`. Call it as: (read-file-string path) " * 2
    base = [" ".join(rng.choice(words) for _ in range(rng.randint(5, 60))) for _ in range(n // 4)]
    entries = []
    for i in range(n):
        text = rng.choice(base)
        tokens = text.split()
        for _ in range(rng.randint(0, 4)):  # a few edits: near duplicates of the base text
            if tokens:
                tokens[rng.randrange(len(tokens))] = rng.choice(words)
        answer = (boiler if i % 3 == 0 else "") + " ".join(tokens)
        entries.append(make_chat(f"q{i % 37}", answer, group=f"g{rng.randint(0, n // 8)}", line=i))
    entries += entries[:: 17]  # exact duplicates (same entries again)
    return entries


def test_sketches_are_datasketchs():
    texts = [e.text() for e in _corpus(120)] + ["", "a", "a b", "λ μ ν ξ", "x " * 500]
    matrix = D.sketch_matrix(texts)
    for text, row in zip(texts, matrix, strict=True):
        assert np.array_equal(row, _reference_minhash(text).hashvalues), text


def test_lsh_params_are_datasketchs():
    lsh = datasketch.MinHashLSH(threshold=D.DROP_THRESHOLD, num_perm=D.NUM_PERM)
    assert D.lsh_params(D.DROP_THRESHOLD) == (lsh.b, lsh.r)
    other = datasketch.MinHashLSH(threshold=0.7, num_perm=D.NUM_PERM)
    assert D.lsh_params(0.7) == (other.b, other.r)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_dedupe_and_split_decide_as_datasketch_did(seed):
    entries = _corpus(seed=seed)
    ours = D.signatures(entries)
    theirs = {i: _reference_minhash(e.text()) for e in entries if e.kind == "chat" for i in [e.id]}
    result = D.dedupe(entries, hashes=ours)
    kept, dropped, duplicate_of = _reference_dedupe(entries, theirs)
    assert [e.id for e in result.kept] == [e.id for e in kept]
    assert result.dropped == dropped and result.duplicate_of == duplicate_of
    assert dropped["near duplicate"] > 0 and dropped["exact duplicate"] > 0  # the corpus has both
    given = D.dedupe(entries, hashes=theirs)  # datasketch MinHash objects are still taken
    assert [e.id for e in given.kept] == [e.id for e in kept] and given.duplicate_of == duplicate_of

    split = D.split_heldout(result.kept, fraction=0.3, seed=seed, hashes=ours)
    expected, joined = _reference_split(kept, 0.3, seed, theirs)
    assert [(e.id, e.split) for e in split.entries] == [(e.id, e.split) for e in expected]
    assert split.joined_groups == joined > 0


def test_closeness_prefilter_is_exact():
    rng = np.random.default_rng(5)
    matrix = rng.integers(0, 2**32, (300, D.NUM_PERM), dtype=np.uint64).astype(np.uint32)
    for i in range(1, 300, 2):  # pairs sharing a random share of positions, around the threshold
        share = rng.random() < rng.uniform(0.3, 0.8, D.NUM_PERM)
        matrix[i, share] = matrix[i - 1, share]
    matrix[7, :] = (matrix[6, :] & 0xFFFFFFF0) | ((matrix[6, :] + 1) & 0xF)  # equal nibbles, other values
    close = D._Closeness(matrix, D.LEAK_THRESHOLD)
    a, b = np.triu_indices(300, 1)
    hit_a, hit_b = close.pairs(a, b)
    expected = {(x, y) for x, y in zip(a.tolist(), b.tolist(), strict=True)
                if np.count_nonzero(matrix[x] == matrix[y]) / float(D.NUM_PERM) >= D.LEAK_THRESHOLD}
    assert set(zip(hit_a.tolist(), hit_b.tolist(), strict=True)) == expected
    assert expected


def test_near_duplicates_never_cross_the_split_on_a_template_heavy_corpus():
    entries = list({e.id: e for e in _corpus(seed=9, vocabulary=5000)}.values())
    hashes = D.signatures(entries)
    split = {e.id: e.split for e in D.split_heldout(entries, fraction=0.5, seed=4).entries}
    assert set(split.values()) == {"train", "heldout"}
    ids = sorted(hashes)
    close = 0
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            # at 116 of 128 equal positions at most 12 of the 32 leak bands differ: always a candidate
            if hashes.jaccard(a, b) >= 116 / 128:
                close += 1
                assert split[a] == split[b]
    assert close > 0
