"""API keys: kept in the OS keyring, never in a file, a log line or a dataset.

``gerbil-lsp login PROVIDER`` stores a key under the service ``gerbil-lsp``.
Where no keyring backend exists we say so and read the provider's documented
environment variable instead; we never fall back to a plaintext file.
Every key we hand out is remembered so :class:`RedactingFilter` can blank it
out of any log record.
"""

from __future__ import annotations

import logging
import os
import re
import threading

import keyring
import keyring.errors
from keyring.backends import fail as keyring_fail

SERVICE = "gerbil-lsp"

# Provider -> the environment variable its own SDK documents.
ENV_VARS: dict[str, str] = {
    "together": "TOGETHER_API_KEY",
    "openai": "OPENAI_API_KEY",
    "ollama": "OLLAMA_API_KEY",
}

_seen_secrets: set[str] = set()
_lock = threading.Lock()


class NoKeyringError(RuntimeError):
    """No usable keyring backend on this machine."""


class MissingSecretError(LookupError):
    """No key stored for a provider and none in its environment variable."""


def env_var_for(name: str) -> str:
    """The environment variable that may hold ``name``'s key (documented per provider)."""
    return ENV_VARS.get(name, "GERBIL_LSP_KEY_" + re.sub(r"[^A-Z0-9]", "_", name.upper()))


def keyring_available() -> bool:
    backend = keyring.get_keyring()
    return not isinstance(backend, keyring_fail.Keyring) and backend.priority > 0


def keyring_name() -> str:
    backend = keyring.get_keyring()
    return f"{type(backend).__module__}.{type(backend).__name__}"


def _remember(secret: str) -> str:
    if secret:
        with _lock:
            _seen_secrets.add(secret)
    return secret


def store_secret(name: str, secret: str) -> None:
    """Put a key in the keyring; raise :class:`NoKeyringError` (with the way out) if there is none."""
    if not secret.strip():
        raise ValueError("empty key: nothing stored")
    if not keyring_available():
        raise NoKeyringError(
            f"no OS keyring is available here ({keyring_name()}); gerbil-lsp never stores keys in files. "
            f"Set the environment variable {env_var_for(name)} instead."
        )
    try:
        keyring.set_password(SERVICE, name, secret.strip())
    except keyring.errors.KeyringError as exc:
        raise NoKeyringError(
            f"the keyring refused to store the key ({exc}); set {env_var_for(name)} instead"
        ) from None
    _remember(secret.strip())


def get_secret(name: str) -> str | None:
    """The key for ``name``: keyring first, then its environment variable; None when neither."""
    secret = None
    if keyring_available():
        try:
            secret = keyring.get_password(SERVICE, name)
        except keyring.errors.KeyringError:
            secret = None
    if not secret:
        secret = os.environ.get(env_var_for(name)) or None
    return _remember(secret) if secret else None


def require_secret(name: str) -> str:
    secret = get_secret(name)
    if secret is None:
        raise MissingSecretError(
            f"no key for '{name}': run `gerbil-lsp login {name}` or set {env_var_for(name)}"
        )
    return secret


def delete_secret(name: str) -> bool:
    if not keyring_available():
        return False
    try:
        keyring.delete_password(SERVICE, name)
    except keyring.errors.PasswordDeleteError:
        return False
    return True


def secret_source(name: str) -> str | None:
    """Where a key would come from ('keyring' / the env var name), without revealing it."""
    if keyring_available():
        try:
            if keyring.get_password(SERVICE, name):
                return "keyring"
        except keyring.errors.KeyringError:
            pass
    var = env_var_for(name)
    return var if os.environ.get(var) else None


# --------------------------------------------------------------------------- redaction

# Shapes of keys that may reach a log line before we ever handed them out.
_KEY_PATTERNS = re.compile(
    r"(?:sk-[A-Za-z0-9_\-]{16,}|tgp_v1_[A-Za-z0-9_\-]{16,}|hf_[A-Za-z0-9]{20,}"
    r"|(?i:bearer)\s+[A-Za-z0-9._\-]{16,}|(?<=://)[^/\s:@]+:[^/\s@]+(?=@))"
)


def redact(text: str) -> str:
    """Blank out every key we handed out and anything shaped like one."""
    with _lock:
        known = sorted(_seen_secrets, key=len, reverse=True)
    for secret in known:
        text = text.replace(secret, "[REDACTED]")
    return _KEY_PATTERNS.sub("[REDACTED]", text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts keys from the formatted message of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Attach the filter to every handler of ``logger`` (root by default), once."""
    logger = logger or logging.getLogger()
    for handler in logger.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
