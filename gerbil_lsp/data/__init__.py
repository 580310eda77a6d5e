"""The data part: Gerbil docs, cookbooks and source -> checked, deduplicated training data.

Other parts use only these names:

- :func:`build_dataset` builds every format into a folder, atomically.
- :func:`validate_file` checks a dataset file line by line.
- :func:`scrub_secrets` blanks keys, tokens, private keys and URL passwords.
- :class:`Entry` is one example with its provenance; :func:`entries_from_harvest`
  turns the harvest part's records into entries that go through the same checks.
- :func:`fim_prompt` is the Qwen2.5-Coder FIM layout (file or repo level) the
  server must prompt with; :func:`check_together_file` is Together's file rules.
"""

from __future__ import annotations

from gerbil_lsp.data.build import BuildResult, build_dataset, load_entries, output_files
from gerbil_lsp.data.checks.secrets import scrub_secrets
from gerbil_lsp.data.entries import CodeBlock, Entry, FimParts, Message, Provenance
from gerbil_lsp.data.formats.fim import fim_prompt
from gerbil_lsp.data.formats.together import check_file as check_together_file
from gerbil_lsp.data.sources.harvest import entries_from_harvest
from gerbil_lsp.data.validate import ValidationReport, validate_file

__all__ = [
    "BuildResult",
    "CodeBlock",
    "Entry",
    "FimParts",
    "Message",
    "Provenance",
    "ValidationReport",
    "build_dataset",
    "check_together_file",
    "entries_from_harvest",
    "fim_prompt",
    "load_entries",
    "output_files",
    "scrub_secrets",
    "validate_file",
]
