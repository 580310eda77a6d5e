"""`python -m gerbil_lsp.harvest watch|list|...|retrain`: the harvest commands without the top-level CLI.

The daemon starts retrains this way, so a retrain runs with the same Python
that runs the daemon whatever is on PATH.
"""

from gerbil_lsp.harvest.cli import harvest_app, retrain

harvest_app.command("retrain")(retrain)

harvest_app()
