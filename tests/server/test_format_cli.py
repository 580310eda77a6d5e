"""`gerbil-lsp format` as a user runs it: the real console entry point in a subprocess, on files written here."""

from __future__ import annotations

from tests.test_cli import run_cli

MESSY = "(def (f x)\n(g x\ny))\n"
TIDY = "(def (f x)\n  (g x\n     y))\n"


def test_check_and_diff_change_nothing_and_say_what_would_change(_isolated_home, tmp_path):
    (tmp_path / "messy.ss").write_text(MESSY)
    (tmp_path / "tidy.ss").write_text(TIDY)
    result = run_cli("format", "--check", str(tmp_path), home=_isolated_home)
    assert result.returncode == 1
    assert "1 of 2 files would change" in result.stdout and "messy.ss" in result.stdout
    assert "tidy.ss" not in result.stdout

    result = run_cli("format", "--diff", str(tmp_path / "messy.ss"), home=_isolated_home)
    assert result.returncode == 0
    assert "-(g x\n-y))\n+  (g x\n+     y))" in result.stdout
    assert (tmp_path / "messy.ss").read_text() == MESSY


def test_formatting_rewrites_only_indentation_keeping_bom_and_line_endings(_isolated_home, tmp_path):
    crlf = tmp_path / "windows.ss"
    crlf.write_bytes(b"\xef\xbb\xbf" + MESSY.replace("\n", "\r\n").encode())
    (tmp_path / "messy.ss").write_text(MESSY)
    result = run_cli("format", str(tmp_path), home=_isolated_home)
    assert result.returncode == 0, result.stderr
    assert "2 of 2 files formatted" in result.stdout
    assert (tmp_path / "messy.ss").read_text() == TIDY
    assert crlf.read_bytes() == b"\xef\xbb\xbf" + TIDY.replace("\n", "\r\n").encode()
    assert run_cli("format", "--check", str(tmp_path), home=_isolated_home).returncode == 0


def test_a_files_own_macro_indents_its_body_as_in_the_editor(_isolated_home, tmp_path):
    text = "(defrules over-table ()\n((_ t body ...) (let ((x t)) body ...)))\n(over-table h\n(display h))\n"
    (tmp_path / "macro.ss").write_text(text)
    result = run_cli("format", str(tmp_path / "macro.ss"), home=_isolated_home)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "macro.ss").read_text() == (
        "(defrules over-table ()\n  ((_ t body ...) (let ((x t)) body ...)))\n(over-table h\n  (display h))\n")


def test_files_that_cannot_be_formatted_are_named_with_the_place_and_kept(_isolated_home, tmp_path):
    unread = tmp_path / "unread.ss"
    unread.write_text("(def (f x) x)\n(g x))\n")
    latin1 = tmp_path / "latin1.ss"
    latin1.write_bytes(b"(def (f)\n\"caf\xe9\")\n")
    grammar = tmp_path / "grammar.ss"
    grammar.write_text("#lang :std/parser/grammar\n%%parser p\n   A <- B\n")
    (tmp_path / "messy.ss").write_text(MESSY)
    before = {path: path.read_bytes() for path in (unread, latin1, grammar)}
    result = run_cli("format", str(tmp_path), home=_isolated_home)
    assert result.returncode == 1
    assert f"{unread}:2: unexpected ')'" in result.stderr
    assert f"{latin1}:2: not UTF-8 (byte 0xe9)" in result.stderr
    assert f"{grammar}: read by `#lang :std/parser/grammar`" in result.stderr
    assert "1 of 4 files formatted, 3 left as they are" in result.stdout
    assert {path: path.read_bytes() for path in before} == before
    assert (tmp_path / "messy.ss").read_text() == TIDY  # the others are still done


def test_a_missing_path_is_a_usage_error(_isolated_home, tmp_path):
    result = run_cli("format", str(tmp_path / "nope.ss"), home=_isolated_home)
    assert result.returncode == 2 and "no such file or folder" in result.stderr
