"""Model versions: every trained adapter is a version; one of them is the one being served.

The registry is one small JSON file in the models dir (``versions.json``), always
replaced atomically under a file lock. A version's files live in
``versions/<id>/``; they are copied in under a temporary name and renamed into
place only when complete, and the registry learns of a version only after that
rename. The ``current`` pointer is the last thing written, so a crash at any
moment leaves the previous current version intact and servable.

A version remembers how it is served (``serving``: the ``model`` settings a
deploy wrote), so ``use`` and ``rollback`` switch the server back to it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from filelock import FileLock

from gerbil_lsp.core import paths
from gerbil_lsp.core.atomic import write_text_atomic

REGISTRY = "versions.json"
SERVING_KEYS = ("backend", "model", "base_url", "api_key_name", "adapter", "chat_only")


class VersionError(LookupError):
    """A version that does not exist or cannot be served, said with what to do."""


@dataclass
class Version:
    id: str
    base: str  # the base model the adapter was trained on
    dataset_sha256: str = ""
    eval_score: float | None = None
    created: float = 0.0  # unix time
    path: str = ""  # the version's folder ("" for a registered endpoint)
    status: str = "ready"  # ready | current | retired
    source: str = "local"  # local | together | endpoint
    serving: dict[str, Any] = field(default_factory=dict)  # the model.* settings that serve it
    meta: dict[str, Any] = field(default_factory=dict)  # job id, run dir, ...

    @classmethod
    def from_dict(cls, data: dict) -> Version:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def created_text(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(self.created)) if self.created else "-"


@dataclass
class Registry:
    versions: dict[str, Version] = field(default_factory=dict)
    current: str | None = None
    history: list[str] = field(default_factory=list)  # earlier current versions, newest last

    def to_json(self) -> str:
        return json.dumps({"current": self.current, "history": self.history,
                           "versions": {k: asdict(v) for k, v in self.versions.items()}}, indent=1)

    def get(self, version_id: str) -> Version:
        if version_id in self.versions:
            return self.versions[version_id]
        matches = [v for k, v in self.versions.items() if k.startswith(version_id)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise VersionError(f"no model version {version_id!r}; `gerbil-lsp models list` shows them")
        raise VersionError(f"{version_id!r} matches {len(matches)} versions; give more of the id")


def root() -> Path:
    return paths.models_dir()


def versions_dir() -> Path:
    path = root() / "versions"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    with FileLock(str(root() / (REGISTRY + ".lock")), timeout=30):
        yield


def load_registry() -> Registry:
    file = root() / REGISTRY
    if not file.is_file():
        return Registry()
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise VersionError(f"{file}: unreadable ({exc}); it is only ever replaced whole, so this file was "
                           "edited by hand: fix or remove it") from None
    return Registry({k: Version.from_dict(v) for k, v in data.get("versions", {}).items()},
                    data.get("current"), list(data.get("history", [])))


def _save(registry: Registry) -> None:
    write_text_atomic(root() / REGISTRY, registry.to_json())


def list_versions() -> list[Version]:
    """Every version, oldest first."""
    return sorted(load_registry().versions.values(), key=lambda v: (v.created, v.id))


def current() -> Version | None:
    registry = load_registry()
    return registry.versions.get(registry.current) if registry.current else None


def latest() -> Version | None:
    """The newest version (what `deploy` uses when no adapter is named)."""
    versions = list_versions()
    return versions[-1] if versions else None


def new_id(dataset_sha256: str = "", when: float | None = None) -> str:
    when = time.time() if when is None else when
    salt = hashlib.sha256(f"{dataset_sha256}{when}{os.getpid()}".encode()).hexdigest()[:6]
    return time.strftime("v%Y%m%d-%H%M%S", time.localtime(when)) + f"-{salt}"


def _copy_file(src, dst, **kwargs):
    return shutil.copy2(src, dst, **kwargs)  # looked up at call time (copytree binds its default early)


def _copy_into_place(source: Path, target: Path) -> None:
    """Copy ``source`` (file or folder) to ``target`` under a temporary name, fsync, then rename."""
    tmp = target.parent / f".{target.name}.partial-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        if source.is_dir():
            shutil.copytree(source, tmp, copy_function=_copy_file)
        else:
            tmp.mkdir(parents=True)
            _copy_file(source, tmp / source.name)
        for file in tmp.rglob("*"):
            if file.is_file():
                with open(file, "rb") as fh:
                    os.fsync(fh.fileno())
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def clean_partials() -> int:
    """Remove what an interrupted copy left behind (never a registered version)."""
    removed = 0
    for leftover in versions_dir().glob(".*.partial-*"):
        shutil.rmtree(leftover, ignore_errors=True)
        removed += 1
    return removed


def add_version(adapter: Path | None, *, base: str, dataset_sha256: str = "", source: str = "local",
                eval_score: float | None = None, serving: dict | None = None, meta: dict | None = None,
                version_id: str | None = None) -> Version:
    """Register a trained adapter (copied into the models dir) as a new version; not made current."""
    version_id = version_id or new_id(dataset_sha256)
    target = versions_dir() / version_id
    if adapter is not None:
        adapter = Path(adapter)
        if not adapter.exists():
            raise VersionError(f"{adapter}: no such adapter file or folder")
        if target.exists():
            raise VersionError(f"version folder {target} already exists")
        _copy_into_place(adapter, target)
    version = Version(version_id, base, dataset_sha256, eval_score, time.time(),
                      str(target) if adapter is not None else "", "ready", source, dict(serving or {}),
                      dict(meta or {}))
    with _locked():
        registry = load_registry()
        registry.versions[version_id] = version
        _save(registry)
    return version


def update_version(version_id: str, **changes: Any) -> Version:
    """Change a version's recorded fields (eval score, serving, meta) atomically."""
    with _locked():
        registry = load_registry()
        version = registry.get(version_id)
        for key, value in changes.items():
            if key in ("serving", "meta"):
                getattr(version, key).update(value)
            elif key in {f.name for f in fields(Version)} - {"id"}:
                setattr(version, key, value)
            else:
                raise VersionError(f"unknown version field {key!r}")
        _save(registry)
        return version


def set_score(version_id: str, score: float) -> Version:
    return update_version(version_id, eval_score=float(score))


def _apply_serving(version: Version) -> None:
    if not version.serving:
        raise VersionError(f"version {version.id} was never deployed, so nothing serves it; run "
                           f"`gerbil-lsp deploy ollama --version {version.id}` (or deploy together) first")
    from gerbil_lsp.core.settings import set_value

    config = paths.user_config_file()
    for key in SERVING_KEYS:
        if key in version.serving:
            value = version.serving[key]
            set_value(config, f"model.{key}", json.dumps(value) if isinstance(value, str | bool) else str(value))


def _make_current(registry: Registry, version: Version, *, remember: bool) -> None:
    previous = registry.current
    if previous == version.id:
        return
    if previous and previous in registry.versions:
        registry.versions[previous].status = "ready"
        if remember:
            registry.history.append(previous)
    version.status = "current"
    registry.current = version.id


def use(version_id: str, *, apply_settings: bool = True) -> Version:
    """Serve ``version_id``: point the server's settings at it, then move the current pointer."""
    with _locked():
        registry = load_registry()
        version = registry.get(version_id)
        if version.path and not Path(version.path).exists():
            raise VersionError(f"version {version.id}: its files are gone ({version.path}); not switching")
        if apply_settings:
            _apply_serving(version)
        _make_current(registry, version, remember=True)
        _save(registry)  # the pointer moves last
        return version


def rollback(*, apply_settings: bool = True) -> Version:
    """Go back to the version that was current before this one."""
    with _locked():
        registry = load_registry()
        while registry.history and registry.history[-1] not in registry.versions:
            registry.history.pop()
        if not registry.history:
            raise VersionError("nothing to roll back to: no earlier current version is recorded")
        version = registry.versions[registry.history[-1]]
        if apply_settings:
            _apply_serving(version)
        registry.history.pop()
        _make_current(registry, version, remember=False)
        _save(registry)
        return version


def promote(candidate: Any, *, settings: Any = None) -> str:
    """Make a candidate the served version (for `gerbil-lsp retrain`); returns its id.

    ``candidate`` is a version id, a :class:`Version`, or an object with a
    ``version_id`` attribute (what the trainer's candidate runs carry).
    """
    version_id = getattr(candidate, "id", None) if isinstance(candidate, Version) else None
    version_id = version_id or getattr(candidate, "version_id", None) or str(candidate)
    return use(version_id).id


def describe(version: Version) -> str:
    serving = version.serving
    if not serving:
        return "not deployed"
    where = serving.get("model", "")
    if serving.get("base_url"):
        where += f" @ {serving['base_url']}"
    return f"{serving.get('backend', '?')}: {where}"
