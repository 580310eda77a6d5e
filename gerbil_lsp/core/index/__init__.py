"""The Gerbil symbol index: every name, its module, signature, arity and docs.

The single source of Gerbil knowledge for completion, hover, diagnostics, data
validation and eval.  Built from reference docs (:mod:`.docs`) and Gerbil
source trees (:mod:`.source`), stored as one versioned file (:mod:`.store`).

    from gerbil_lsp.core.index import load_index
    idx = load_index()                  # the user's built index, else the bundled one
    idx.lookup("hash-get")[0].arity     # Arity(min=2, max=2)
"""

from .build import (
    build_bundle,
    build_index,
    bundled_index_path,
    default_index,
    describe_index_source,
    load_index,
)
from .docs import parse_docs, parse_page
from .model import Arity, DriftEntry, ImportSpec, LocalDefinition, Symbol
from .modules import module_id_for_path, resolve_relative_library
from .source import SourceTree, local_definitions
from .store import FORMAT_VERSION, IndexLoadError, IndexVersionError
from .symindex import PRELUDE_MODULE, ScannedModule, SymbolIndex

__all__ = [
    "FORMAT_VERSION",
    "PRELUDE_MODULE",
    "Arity",
    "DriftEntry",
    "ImportSpec",
    "IndexLoadError",
    "IndexVersionError",
    "LocalDefinition",
    "SourceTree",
    "Symbol",
    "ScannedModule",
    "SymbolIndex",
    "build_bundle",
    "build_index",
    "bundled_index_path",
    "default_index",
    "describe_index_source",
    "load_index",
    "local_definitions",
    "module_id_for_path",
    "parse_docs",
    "parse_page",
    "resolve_relative_library",
]
