"""Problems kept per top-level form from one version to the next: always what a fresh analysis finds.

Every test analyses a sequence of versions twice: each version alone, and each
one given the previous version's analysis (as the server does on every edit).
The problems must be equal, offsets included; the reuse must also happen
(fewer forms walked), or the tests would pass with no reuse at all.
"""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gerbil_lsp.server import analysis as analysis_module
from gerbil_lsp.server.analysis import analyze
from tests.edits import edited_versions
from tests.server.test_analysis_precision import tree_index, write_tree

BASE = textwrap.dedent("""\
    (import :std/collect)

    (def (f h) (hash-table-ref h 'k))

    (def (g h) (hash-get h 'k 'default))

    (def (ok x) (+ x 1))

    (with-collector (put!) (put! (missing-one)))

    (def (h x) (helper x))
""")


class Walks:
    """Counts the forms walked (the reuse must skip the unchanged ones)."""

    def __init__(self, monkeypatch) -> None:
        self.count = 0
        original = analysis_module._Walk.run

        def counted(walk, form):
            self.count += 1
            return original(walk, form)

        monkeypatch.setattr(analysis_module._Walk, "run", counted)


def problems(analysis) -> list[tuple]:
    return [(p.start, p.end, p.code, p.name, p.message, p.severity, p.modules) for p in analysis.problems]


def versions(index, texts: list[str], path: str) -> list:
    """Each version analysed given the previous one; each result checked against a fresh analysis."""
    previous = None
    out = []
    for text in texts:
        incremental = analyze(text, "file://" + path, index, path=path, previous=previous)
        fresh = analyze(text, "file://" + path, index, path=path)
        assert problems(incremental) == problems(fresh), text
        out.append(incremental)
        previous = incremental
    return out


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    """The small Gerbil-like tree of the precision tests, indexed (its library macros are read from disk)."""
    return tree_index(write_tree(tmp_path_factory.mktemp("gerbil-src")))


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "main.ss")


def test_an_edit_inside_one_form_walks_only_that_form(index, path, monkeypatch):
    edited = BASE.replace("(+ x 1)", "(+ x (oops 1))")
    walks = Walks(monkeypatch)
    first, second = versions(index, [BASE, edited], path)
    forms = 5  # the import is not walked
    assert walks.count == 2 * forms + 1 + forms  # two fresh analyses, one incremental that walks one form
    names = [p.name for p in second.problems]
    assert names == ["hash-table-ref", "hash-get", "oops", "missing-one", "helper"]
    shift = len(edited) - len(BASE)
    assert second.problems[-1].start == first.problems[-1].start + shift  # the later form's problem moved


def test_a_new_definition_elsewhere_changes_other_forms_problems(index, path):
    _, second = versions(index, [BASE, BASE + "\n(def (helper y) y)\n"], path)
    assert "helper" not in [p.name for p in second.problems]


def test_a_new_import_changes_other_forms_problems(index, path):
    texts = [BASE.replace("(import :std/collect)", "(import :std/collect)\n(import :std/shapes)"),
             BASE.replace("(import :std/collect)", "")]
    versions(index, [BASE, *texts], path)


def test_a_changed_macro_definition_re_expands_its_uses(index, path):
    text = BASE + "\n(defrule (twice e) (begin e e))\n(twice (nowhere))\n"
    changed = text.replace("(begin e e)", "(begin 1)")
    _, second = versions(index, [text, changed], path)
    assert "nowhere" not in [p.name for p in second.problems]


def test_identical_forms_share_problems(index, path):
    twice = BASE + "\n(def (h2 x) (helper x))\n(def (h2 x) (helper x))\n"
    versions(index, [BASE, twice, twice.replace("(ok x)", "(ok y)")], path)


def test_index_changes_are_noticed(index, path, tmp_path):
    first = analyze(BASE, "file://" + path, index, path=path)
    assert "helper" in [p.name for p in first.problems]
    module = tmp_path / "helpers.ss"
    module.write_text("(export helper)\n(def (helper x) x)\n", encoding="utf-8")
    text = BASE.replace("(import :std/collect)", '(import :std/collect "helpers")')
    versions(index, [text], path)
    generation = index.generation
    index.scan_files([module], root=tmp_path)
    assert index.generation > generation
    again = analyze(text, "file://" + path, index, path=path, previous=first)
    fresh = analyze(text, "file://" + path, index, path=path)
    assert problems(again) == problems(fresh)


EDIT_TEXT = st.sampled_from(["x", "(", ")", " ", "\n", "(def (q) 1)", "(nope)", "\"", ";", "#;", "'", "helper",
                             "(import :std/shapes)", "(defrule (m a) a)", "(m (zzz))", "hash-get h"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 6), EDIT_TEXT), min_size=1, max_size=12))
def test_random_edit_sequences_match_fresh_analyses(index, path, edits):
    texts = edited_versions(BASE, edits)
    versions(index, texts, path)
