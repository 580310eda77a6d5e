"""The eval suite's content: size, coverage, and every name in it checked against the symbol index.

Required facts (must_mention) and FIM names (must_use) must be real Gerbil names; forbidden names
(must_not_mention) must not be, or the suite would punish correct answers.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from gerbil_lsp.core.index import default_index
from gerbil_lsp.core.index.build import DEFAULT_DOCS
from gerbil_lsp.eval import score_fim
from gerbil_lsp.eval.suite import SPLITS, load_fim_tasks, load_suite

MIN_QUESTIONS = 65
MIN_FIM_TASKS = 15
TAG_GROUPS = (
    "iteration", "hash-tables", "strings", "json", "http", "actors", "structs", "match", "errors",
    "modules", "build", "ffi", "sugar", "io", "sorting", "format", "testing",
)

# Real Gerbil names (or tokens) a correct answer states that the bundled index, built from the
# reference docs alone, does not hold as symbols.
NOT_IN_BUNDLED_INDEX = {
    # Clauses of `try` (doc/reference/std/sugar.md#try), not bindings of their own.
    "catch": "clause of try",
    "finally": "clause of try",
    # begin-ffi's usage sits in a tip block of doc/reference/std/foreign.md; define-c-lambda is one
    # of its prelude macros and c-declare a Gambit C-interface form (doc/guide/ffi.md).
    "begin-ffi": "usage in a tip block of std/foreign.md",
    "define-c-lambda": "begin-ffi prelude macro",
    "c-declare": "Gambit C-interface form",
    # Gambit C-interface type and C macro (src/std/foreign.ss: U8_DATA uses ___BODY_AS).
    "scheme-object": "Gambit C-interface type",
    "___BODY": "Gambit C macro",
    # Exported by src/std/test.ss, but doc/reference/std/test.md does not document it.
    "run-tests!": "undocumented :std/test export",
    # Not library names: the compiler command and a prose word.
    "gxc": "the compiler command",
    "default": "hash-ref's default argument, a prose word",
}


@pytest.fixture(scope="module")
def index():
    return default_index()


def identifier_like(text: str) -> bool:
    """A must_mention entry that names a binding: not a module path, keyword, file, flag or phrase."""
    return (not re.search(r"\s", text) and re.search(r"[A-Za-z0-9]", text) is not None
            and not text.startswith((":", "#", "~", "-", "."))
            and not text.endswith((":", "-", ".ss", ".pkg")))


def test_suite_is_big_enough_and_ids_are_unique():
    questions, tasks = load_suite(), load_fim_tasks()
    assert len(questions) >= MIN_QUESTIONS
    assert len(tasks) >= MIN_FIM_TASKS
    for ids in ([q.id for q in questions], [t.id for t in tasks]):
        duplicates = [i for i, n in Counter(ids).items() if n > 1]
        assert not duplicates
        assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", i) for i in ids), ids


def test_every_item_is_tagged_grounded_and_split():
    for q in load_suite():
        assert q.tags and q.source and q.split in SPLITS, q.id
        assert 1 <= len(q.must_mention) <= 5, q.id
    for t in load_fim_tasks():
        assert t.source and t.split in SPLITS and 1 <= len(t.must_use) <= 2, t.id
    assert load_suite("heldout") and load_suite("train")
    assert load_fim_tasks("heldout") and load_fim_tasks("train")


def test_every_tag_group_has_at_least_two_questions():
    counts = Counter(tag for q in load_suite() for tag in q.tags)
    thin = {tag: counts[tag] for tag in TAG_GROUPS if counts[tag] < 2}
    assert not thin


def test_forbidden_names_never_collide_with_required_facts():
    required = {m.lower() for q in load_suite() for m in q.must_mention}
    for q in load_suite():
        for bad in q.must_not_mention:
            assert bad.lower() not in required, (q.id, bad)
            # a substring match would fail a correct answer that states a required fact
            clash = [m for m in required if bad.lower() in m]
            assert not clash, (q.id, bad, clash)


def test_required_names_resolve_in_the_bundled_index(index):
    missing = []
    for q in load_suite():
        for fact in q.must_mention:
            if identifier_like(fact) and fact not in NOT_IN_BUNDLED_INDEX and not index.lookup(fact):
                missing.append((q.id, fact))
    for t in load_fim_tasks():
        for name in t.must_use:
            if name not in NOT_IN_BUNDLED_INDEX and not index.lookup(name):
                missing.append((t.id, name))
    assert not missing


def test_forbidden_names_are_not_gerbil_names(index):
    names = {name.lower() for name in index.names()}
    wrong = []
    for q in load_suite():
        for bad in q.must_not_mention:
            if index.lookup(bad):
                wrong.append((q.id, bad, "resolves"))
            # matched as a substring, so it must not be part of a real name either
            elif any(bad.lower() in name for name in names):
                wrong.append((q.id, bad, "inside a real name"))
    assert not wrong


def test_allow_list_is_not_stale(index):
    used = {m for q in load_suite() for m in q.must_mention} | {n for t in load_fim_tasks() for n in t.must_use}
    assert set(NOT_IN_BUNDLED_INDEX) <= used
    assert not [name for name in NOT_IN_BUNDLED_INDEX if index.lookup(name)]


def test_fim_reference_completion_scores_full(index):
    for t in load_fim_tasks():
        assert score_fim(t, " ".join(t.must_use), index).score == 1.0, t.id


def test_fim_prefix_imports_the_module_of_its_names(index):
    for t in load_fim_tasks():
        for name in t.must_use:
            rows = index.lookup(name)
            if not rows or any(row.module is None for row in rows):
                continue  # prelude (or allow-listed): no import needed
            modules = index.modules_exporting(name)
            assert any(re.search(rf"\(import[^)]*{re.escape(m)}(?![\w/-])", t.prefix) for m in modules), (t.id, name, modules)


def _slug(heading: str) -> str:
    text = re.sub(r"\s*#+\s*$", "", heading.lstrip("#").strip()).lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


@pytest.mark.skipif(not DEFAULT_DOCS.is_dir(), reason="the Gerbil reference docs are not on this machine")
def test_doc_sources_exist_with_their_anchor():
    root = DEFAULT_DOCS.parent  # sources are relative to the Gerbil repository root
    sources = {q.source for q in load_suite()} | {t.source for t in load_fim_tasks()}
    broken = []
    for source in sorted(s for s in sources if s.startswith("doc/")):
        path, _, anchor = source.partition("#")
        page = Path(root, path)
        if not page.is_file():
            broken.append(source)
            continue
        headings = {_slug(line) for line in page.read_text(encoding="utf-8").splitlines()
                    if re.match(r"#{1,6} ", line)}
        if anchor and anchor not in headings:
            broken.append(source)
    assert not broken
