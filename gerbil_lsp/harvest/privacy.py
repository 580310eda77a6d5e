"""What may be harvested: opt-in workspaces, excluded paths, and secrets scrubbed first.

Nothing is learned from a folder unless the user said so: ``harvest.enabled``
must be true in the settings that apply to that folder (user config, or the
project's ``.gerbil-lsp.toml``), and when ``harvest.workspaces`` lists folders,
only those. ``harvest.exclude`` globs (gitignore syntax, via ``pathspec``) are
never read. Every text is run through the data part's secret scrubber before
it reaches the store, so a key pasted into a buffer never becomes training data.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pathspec

from gerbil_lsp.core.settings import HarvestSettings, SettingsError, load_settings

log = logging.getLogger(__name__)

GERBIL_EXTENSIONS = (".ss", ".scm", ".sld")


def is_gerbil_file(path: str | os.PathLike) -> bool:
    return str(path).endswith(GERBIL_EXTENSIONS)


def _resolve(path: str | os.PathLike) -> Path:
    return Path(path).expanduser().resolve()


@lru_cache(maxsize=64)
def _exclude_spec(patterns: tuple[str, ...]) -> pathspec.PathSpec:
    return pathspec.PathSpec.from_lines("gitignore", patterns)


@dataclass
class WorkspacePolicy:
    """The harvest decision for one workspace root."""

    root: Path
    enabled: bool
    settings: HarvestSettings
    why: str = ""

    def excluded(self, path: str | os.PathLike) -> bool:
        """True when ``path`` (inside the root) matches ``harvest.exclude``."""
        try:
            relative = _resolve(path).relative_to(self.root).as_posix()
        except ValueError:
            return True
        spec = _exclude_spec(tuple(self.settings.exclude))
        # "**/build/**" should also hit "build/x.ss" at the root: match with a leading folder too.
        return spec.match_file(relative) or spec.match_file("./" + relative)

    def allows(self, path: str | os.PathLike) -> bool:
        return self.enabled and not self.excluded(path)


@dataclass
class HarvestPolicy:
    """Which workspaces are opted in; built from settings, looked up per file."""

    workspaces: list[WorkspacePolicy] = field(default_factory=list)

    @classmethod
    def from_settings(cls, extra_roots: list[str | os.PathLike] | None = None,
                      init_options: dict[str, Any] | None = None) -> HarvestPolicy:
        """Every configured workspace (``harvest.workspaces``) plus ``extra_roots`` (the editor's folders)."""
        base = load_settings(None, init_options).settings.harvest
        roots = [*base.workspaces, *(extra_roots or [])]
        policies: list[WorkspacePolicy] = []
        seen: set[Path] = set()
        for raw in roots:
            root = _resolve(raw)
            if root in seen:
                continue
            seen.add(root)
            policies.append(workspace_policy(root, init_options, listed=[_resolve(w) for w in base.workspaces]))
        return cls(policies)

    def policy_for(self, path: str | os.PathLike) -> WorkspacePolicy | None:
        """The innermost workspace holding ``path``, if any."""
        target = _resolve(path)
        best = None
        for policy in self.workspaces:
            if target == policy.root or policy.root in target.parents:
                if best is None or len(policy.root.parts) > len(best.root.parts):
                    best = policy
        return best

    def allows(self, path: str | os.PathLike) -> bool:
        policy = self.policy_for(path)
        return policy is not None and policy.allows(path)

    def enabled_roots(self) -> list[Path]:
        return [p.root for p in self.workspaces if p.enabled]


def workspace_policy(root: str | os.PathLike, init_options: dict[str, Any] | None = None,
                     listed: list[Path] | None = None) -> WorkspacePolicy:
    """Is harvesting on for this folder? Its own settings decide (project file included)."""
    root = _resolve(root)
    try:
        settings = load_settings(root, init_options).settings.harvest
    except SettingsError as exc:
        log.warning("harvest off for %s: %s", root, exc)
        return WorkspacePolicy(root, False, HarvestSettings(), why=str(exc))
    if not settings.enabled:
        return WorkspacePolicy(root, False, settings, why="harvest.enabled is false")
    listed = listed if listed is not None else [_resolve(w) for w in settings.workspaces]
    if listed and not any(root == w or w in root.parents for w in listed):
        return WorkspacePolicy(root, False, settings, why="not in harvest.workspaces")
    return WorkspacePolicy(root, True, settings, why="opted in")


# --------------------------------------------------------------------------- scrubbing


def _scrubber():
    try:
        from gerbil_lsp.data import scrub_secrets  # the data part's public scrubber
    except ImportError:
        # The data part exports it from its checks package until its __init__ re-exports it.
        from gerbil_lsp.data.checks.secrets import scrub_secrets
    return scrub_secrets


def scrub(text: str) -> tuple[str, Counter]:
    """The text with secrets replaced (the data part's scrubber) and what was found."""
    result = _scrubber()(text)
    if isinstance(result, tuple):
        cleaned, counts = result
        return cleaned, Counter(counts)
    return result, Counter()


def scrub_record(record: dict[str, Any]) -> tuple[dict[str, Any], Counter]:
    """Scrub every text field of an entry record (messages, FIM parts) in place of a copy."""
    found: Counter = Counter()

    def clean(value: str) -> str:
        cleaned, counts = scrub(value)
        found.update(counts)
        return cleaned

    out = dict(record)
    if "messages" in out:
        out["messages"] = [{**m, "content": clean(m.get("content", ""))} for m in out["messages"]]
    if out.get("fim"):
        out["fim"] = {**out["fim"], **{k: clean(out["fim"].get(k, "")) for k in ("prefix", "middle", "suffix")}}
    return out, found
