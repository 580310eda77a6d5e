"""The symbol index's data: arities, symbols, import specs, local definitions, drift entries.

Plain dataclasses with compact dict (de)serialisation; the index file stores these
as rows, the server/data/eval parts read them.

Conventions
-----------
* A module is named by its Gerbil id with the leading colon: ``":std/misc/string"``.
  The prelude (names usable with no import: ``:gerbil/core`` plus the root syntax)
  is ``module=None``.
* ``source_line`` / ``source_character`` are 0-based (LSP and reader convention).
* ``Arity(min, max)`` counts the items a call form passes after the head, so a
  keyword argument ``key: v`` counts as two; ``max=None`` means no upper bound.
  An unknown arity is ``None`` on the symbol, never a guess.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Arity:
    """How many arguments a call may pass: ``min`` .. ``max`` (``None`` = variadic)."""

    min: int
    max: int | None = None

    def accepts(self, n: int) -> bool:
        return n >= self.min and (self.max is None or n <= self.max)

    @property
    def variadic(self) -> bool:
        return self.max is None

    def merge(self, other: Arity) -> Arity:
        """The loosest arity admitting both (for several signatures / case-lambda)."""
        hi = None if self.max is None or other.max is None else max(self.max, other.max)
        return Arity(min(self.min, other.min), hi)

    def __str__(self) -> str:
        if self.max is None:
            return f"{self.min}+"
        if self.max == self.min:
            return str(self.min)
        return f"{self.min}..{self.max}"

    def to_json(self) -> list:
        return [self.min, self.max]

    @classmethod
    def from_json(cls, data: Any) -> Arity | None:
        if data is None:
            return None
        return cls(int(data[0]), None if data[1] is None else int(data[1]))

    @classmethod
    def merge_all(cls, arities: Iterable[Arity | None]) -> Arity | None:
        """Merge several; any unknown member makes the whole unknown."""
        out: Arity | None = None
        for a in arities:
            if a is None:
                return None
            out = a if out is None else out.merge(a)
        return out


@dataclass(slots=True)
class Symbol:
    """One name as some module (or the prelude) provides it."""

    name: str
    module: str | None = None
    kind: str = "procedure"
    signatures: list[str] = field(default_factory=list)
    arity: Arity | None = None
    returns: str | None = None
    doc_url: str | None = None
    doc_page: str | None = None
    source_path: str | None = None
    source_line: int | None = None
    documented: bool = False
    exported: bool = True
    description: str | None = None
    summary: str | None = None
    examples: list[str] = field(default_factory=list)
    params: list[str] = field(default_factory=list)
    source_character: int | None = None
    origin: str | None = None  # module that defines it when ``module`` re-exports it
    phase: int = 0

    @property
    def qualified(self) -> str:
        return f"{self.module or '(prelude)'} {self.name}"

    @property
    def is_prelude(self) -> bool:
        return self.module is None

    def to_json(self) -> dict:
        """Compact dict: only fields that differ from the defaults."""
        out: dict[str, Any] = {"n": self.name}
        if self.module is not None:
            out["m"] = self.module
        if self.kind != "procedure":
            out["k"] = self.kind
        if self.signatures:
            out["s"] = list(self.signatures)
        if self.arity is not None:
            out["a"] = self.arity.to_json()
        for key, attr in _OPTIONAL_FIELDS:
            val = getattr(self, attr)
            if val is not None and val != [] and val != 0:
                out[key] = val
        if self.documented:
            out["d"] = 1
        if not self.exported:
            out["x"] = 0
        return out

    @classmethod
    def from_json(cls, data: dict, name: str | None = None, module: str | None = None) -> Symbol:
        """Inverse of :meth:`to_json`; ``name``/``module`` override the row's own."""
        kw: dict[str, Any] = {
            "name": data["n"] if name is None else name,
            "module": data.get("m") if name is None else module,
        }
        for key, val in data.items():
            attr = _FROM_KEYS.get(key)
            if attr is None:
                continue
            if attr == "arity":
                val = Arity.from_json(val)
            elif attr in ("documented", "exported"):
                val = bool(val)
            elif isinstance(val, list):
                val = list(val)
            kw[attr] = val
        return cls(**kw)

    def hover_markdown(self) -> str:
        """A short markdown block: signatures, module, summary, doc link."""
        parts = []
        if self.signatures:
            parts.append("```scheme\n" + "\n".join(self.signatures) + "\n```")
        else:
            parts.append(f"`{self.name}`")
        where = f"`{self.module}`" if self.module else "prelude (no import needed)"
        line = f"*{self.kind}* — {where}"
        if self.arity is not None:
            line += f" — arity {self.arity}"
        parts.append(line)
        text = self.description or self.summary
        if text:
            parts.append(text)
        if self.doc_url:
            parts.append(f"[Documentation]({self.doc_url})")
        return "\n\n".join(parts)


_OPTIONAL_FIELDS = (
    ("r", "returns"),
    ("u", "doc_url"),
    ("p", "doc_page"),
    ("f", "source_path"),
    ("l", "source_line"),
    ("c", "source_character"),
    ("D", "description"),
    ("S", "summary"),
    ("e", "examples"),
    ("P", "params"),
    ("o", "origin"),
    ("h", "phase"),
)


_FROM_KEYS = {k: a for k, a in _OPTIONAL_FIELDS} | {
    "k": "kind", "s": "signatures", "a": "arity", "d": "documented", "x": "exported",
}


@dataclass(slots=True)
class ImportSpec:
    """One imported module as a file's ``(import ...)`` form names it.

    ``ops`` are applied innermost first: ``("only", names)``, ``("except", names)``,
    ``("rename", [(old, new), ...])``, ``("prefix", prefix)``.
    ``module`` is the resolved module id, or ``None`` when it could not be
    resolved (e.g. a string path outside any known package); ``path`` is the
    file a relative import points at, when known.
    """

    module: str | None
    raw: str
    ops: list[tuple[str, Any]] = field(default_factory=list)
    phase: int = 0
    path: str | None = None
    line: int | None = None
    character: int | None = None
    end_line: int | None = None
    end_character: int | None = None

    def original_of(self, visible: str) -> str | None:
        """The exported name that this spec makes visible as ``visible`` (None: not visible)."""
        name: str | None = visible
        for op, arg in reversed(self.ops):
            if name is None:
                return None
            if op == "prefix":
                name = name[len(arg):] if name.startswith(arg) else None
            elif op == "rename":
                pairs = list(arg)
                back = {new: old for old, new in pairs}
                if name in back:
                    name = back[name]
                elif name in {old for old, _ in pairs}:
                    name = None  # renamed away
            elif op == "only":
                if name not in set(arg):
                    name = None
            elif op == "except" and name in set(arg):
                name = None
        return name

    def apply(self, names: Iterable[str]) -> dict[str, str]:
        """Visible name -> exported name, after only/except/rename/prefix."""
        mapping = {n: n for n in names}
        for op, arg in self.ops:
            if op == "only":
                keep = set(arg)
                mapping = {v: o for v, o in mapping.items() if v in keep}
            elif op == "except":
                drop = set(arg)
                mapping = {v: o for v, o in mapping.items() if v not in drop}
            elif op == "rename":
                ren = dict(arg)
                mapping = {ren.get(v, v): o for v, o in mapping.items()}
            elif op == "prefix":
                mapping = {f"{arg}{v}": o for v, o in mapping.items()}
        return mapping

    def to_json(self) -> dict:
        return {"module": self.module, "raw": self.raw, "ops": [[o, a] for o, a in self.ops],
                "phase": self.phase, "path": self.path}


@dataclass(slots=True)
class LocalDefinition:
    """A name a file defines at top level."""

    name: str
    kind: str
    line: int
    character: int
    arity: Arity | None = None
    signature: str | None = None
    end_line: int | None = None
    end_character: int | None = None
    generated_by: str | None = None  # e.g. the struct name for ``make-point``


@dataclass(slots=True)
class DriftEntry:
    """A documented name the source tree does not export where the docs say."""

    name: str
    module: str | None
    doc_page: str | None = None
    doc_url: str | None = None
    suggestions: list[str] = field(default_factory=list)  # likely renames, same module first
    exported_by: list[str] = field(default_factory=list)  # modules that do export the name
    reason: str = "not-exported"  # or "module-missing"
    in_prelude: bool = False  # the name exists, in the prelude (moved there)

    def to_json(self) -> dict:
        return {
            "name": self.name, "module": self.module, "doc_page": self.doc_page,
            "doc_url": self.doc_url, "suggestions": self.suggestions,
            "exported_by": self.exported_by, "reason": self.reason,
            "in_prelude": self.in_prelude,
        }

    @classmethod
    def from_json(cls, data: dict) -> DriftEntry:
        return cls(**data)
