"""`python -m gerbil_lsp` is the `gerbil-lsp` command."""

from gerbil_lsp.cli import app

app()
