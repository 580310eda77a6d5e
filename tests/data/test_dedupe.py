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
