"""The harvest part: learning from the user's own work (opt-in), and retraining when enough is learned.

Other parts use only these names:

- :class:`HarvestHooks` (+ :class:`ShownCompletion`): the language server calls
  ``on_did_open / on_shown / on_did_change / on_did_save / on_did_close`` and
  subscribes ``on_accepted`` to its completion-accepted callbacks.
- :class:`RetrainProgress`: a task the server runs to show a background
  retrain as ``$/progress`` and ``window/showMessage``.
- :func:`retrain_status`: the last retrain's status (None when none ran).
- :class:`HarvestStore`: the entry store (``harvest list`` etc. read it).
"""

from __future__ import annotations

from gerbil_lsp.harvest.acceptance import HarvestHooks, Settled, ShownCompletion
from gerbil_lsp.harvest.progress import RetrainProgress
from gerbil_lsp.harvest.retrain_trigger import read_status as retrain_status
from gerbil_lsp.harvest.store import HarvestStore

__all__ = ["HarvestHooks", "HarvestStore", "RetrainProgress", "Settled", "ShownCompletion", "retrain_status"]
