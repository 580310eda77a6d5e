"""`gerbil-lsp serve`: what an editor starts."""

from __future__ import annotations

import logging

import typer

from gerbil_lsp.core import paths, secrets


def serve(
    tcp: str = typer.Option(None, "--tcp", help="listen on HOST:PORT instead of stdio"),
    stdio: bool = typer.Option(True, "--stdio/--no-stdio", help="speak LSP on stdin/stdout (the default)"),
    extensions=(),
) -> None:
    """Run the Gerbil language server (stdio by default)."""
    handler = logging.FileHandler(paths.log_dir() / "server.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for existing in root.handlers:  # stderr stays quiet: editors show it as noise
        existing.setLevel(logging.WARNING)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("pygls").setLevel(logging.WARNING)  # it logs every message body at INFO
    secrets.install_log_redaction(root)
    from gerbil_lsp.server import serve as run

    run(tcp, extensions)
