"""Model completions for the language server: prompt -> backend -> post-processing -> editor.

The server uses :class:`ModelCompleter` (``server.model``); ``gerbil-lsp status``
uses :func:`latency_summary`; the harvest part subscribes to
``ModelCompleter.on_accepted`` / ``on_shown`` and reads :class:`ShownModelCompletion`.
"""

from gerbil_lsp.server.completion.completer import ModelCompleter
from gerbil_lsp.server.completion.latency import latency_summary
from gerbil_lsp.server.completion.shown import ACCEPTED_COMMAND, ShownModelCompletion

__all__ = ["ACCEPTED_COMMAND", "ModelCompleter", "ShownModelCompletion", "latency_summary"]
