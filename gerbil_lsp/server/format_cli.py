"""`gerbil-lsp format`: the server's indentation for files on disk (a pre-commit hook, a CI check).

The same as the editor gets: the file is analysed with the index the settings
name, so its own macros and the documented ones indent their bodies as in the
editor. A file is rewritten atomically, byte for byte the same apart from the
leading whitespace of its lines (a BOM and line endings are kept). A file that
does not read cleanly, or is not UTF-8, is named with the place of the problem
and left as it is.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import track

from gerbil_lsp.core.atomic import atomic_writer
from gerbil_lsp.core.indent import apply, reindent
from gerbil_lsp.core.index import SymbolIndex, load_index
from gerbil_lsp.core.index.source import source_files
from gerbil_lsp.core.settings import SettingsError, load_settings
from gerbil_lsp.server.analysis import analyze
from gerbil_lsp.server.features.formatting import known_bodies

BOM = "\ufeff"
PROGRESS_FROM = 50  # files: fewer finish before a bar would be worth drawing

console = Console()
err = Console(stderr=True)


class NotFormatted(Exception):
    """A file left as it is, and why (names the file and the line)."""


def formatted(path: Path, index: SymbolIndex) -> tuple[str, str]:
    """``(old text, new text)`` of one file; raises NotFormatted when it cannot be formatted."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise NotFormatted(f"{path}:{line}: not UTF-8 (byte 0x{data[exc.start]:02x}): left as it is") from None
    bom = BOM if text.startswith(BOM) else ""
    analysis = analyze(text[len(bom):], path.resolve().as_uri(), index, path=str(path.resolve()))
    result = analysis.result
    if not result.plain_syntax:
        raise NotFormatted(f"{path}: read by `#lang {result.lang}`, which may have its own syntax: left as it is")
    if result.errors:
        error = result.errors[0]
        raise NotFormatted(f"{path}:{error.span.start.line + 1}: {error.message}: fix this first, then format")
    return text, bom + apply(result, reindent(result, known=known_bodies(analysis)))


def gerbil_files(paths: list[Path]) -> list[Path]:
    """The files named, and the ``.ss`` files under the folders named (build output and hidden folders left out)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(Path(found) for found, _ in source_files(str(path)))
        elif path.exists():
            out.append(path)
        else:
            raise typer.BadParameter(f"{path}: no such file or folder")
    return out


def settings_index() -> SymbolIndex:
    """The index the settings name (as the server loads it), or the bundled one when that cannot be read."""
    try:
        return load_index(load_settings().settings.index.path)
    except SettingsError as exc:
        err.print(f"[yellow]{exc}: formatting with the bundled index[/]", highlight=False)
    except Exception as exc:  # a broken index file: the bundled one still knows the documented macros
        err.print(f"[yellow]cannot load the symbol index ({exc}): formatting with the bundled one[/]", highlight=False)
    return load_index(None)


def format_command(
    paths: list[Path] = typer.Argument(..., help="Gerbil files, or folders to format every .ss file in"),
    check: bool = typer.Option(False, "--check", help="change nothing; exit 1 if a file would change"),
    diff: bool = typer.Option(False, "--diff", help="change nothing; print what would change as a unified diff"),
) -> None:
    """Indent Gerbil files as the language server does (only the whitespace starting each line changes)."""
    files = gerbil_files(paths)
    index = settings_index()
    changed: list[Path] = []
    refused = 0
    for path in track(files, description="formatting", console=err, transient=True) \
            if len(files) >= PROGRESS_FROM else files:
        try:
            old, new = formatted(path, index)
        except NotFormatted as exc:
            err.print(f"[yellow]{exc}[/]", highlight=False)
            refused += 1
            continue
        except OSError as exc:
            err.print(f"[yellow]{path}: cannot read it ({exc.strerror}): left as it is[/]", highlight=False)
            refused += 1
            continue
        if new == old:
            continue
        changed.append(path)
        if diff:
            console.out("".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                                     f"{path}", f"{path} (formatted)")), end="")
        elif not check:
            with atomic_writer(path) as out:  # newline="": line endings written as they were read
                out.write(new)
    verb = "would change" if check or diff else "formatted"
    console.print(f"{len(changed)} of {len(files)} files {verb}" + (f", {refused} left as they are" if refused else ""))
    if check:
        for path in changed:
            console.print(f"  {os.fspath(path)}", highlight=False)
    if refused or (check and changed):
        raise typer.Exit(1)
