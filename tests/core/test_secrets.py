"""Secrets: keyring only, env var fallback, redaction everywhere a key could leak."""

from __future__ import annotations

import logging

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail

from gerbil_lsp.core import secrets


class MemoryKeyring(KeyringBackend):
    """An in-process keyring backend: the real `keyring` API over a dict (no OS keyring in CI)."""

    priority = 1

    def __init__(self):
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.store.get((service, username))

    def set_password(self, service, username, password):
        self.store[(service, username)] = password

    def delete_password(self, service, username):
        if (service, username) not in self.store:
            raise keyring.errors.PasswordDeleteError(username)
        del self.store[(service, username)]


@pytest.fixture
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def no_keyring():
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


def test_store_and_get_through_keyring(memory_keyring, monkeypatch):
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    secrets.store_secret("together", "tgp_v1_abcdefghijklmnopqrstuvwxyz\n")
    assert memory_keyring.store[("gerbil-lsp", "together")] == "tgp_v1_abcdefghijklmnopqrstuvwxyz"
    assert secrets.get_secret("together") == "tgp_v1_abcdefghijklmnopqrstuvwxyz"
    assert secrets.secret_source("together") == "keyring"
    assert secrets.delete_secret("together") is True
    assert secrets.get_secret("together") is None


def test_no_keyring_refuses_to_store_and_names_the_env_var(no_keyring, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(secrets.NoKeyringError, match="TOGETHER_API_KEY"):
        secrets.store_secret("together", "secret-value-123")
    assert list(tmp_path.iterdir()) == []  # nothing written as a fallback


def test_env_var_fallback(no_keyring, monkeypatch):
    monkeypatch.setenv("GERBIL_LSP_KEY_MY_VLLM", "k-123456")
    assert secrets.get_secret("my-vllm") == "k-123456"
    assert secrets.secret_source("my-vllm") == "GERBIL_LSP_KEY_MY_VLLM"
    with pytest.raises(secrets.MissingSecretError, match="gerbil-lsp login nothing"):
        secrets.require_secret("nothing")


def test_redaction_of_handed_out_and_key_shaped_strings(no_keyring, monkeypatch):
    monkeypatch.setenv("TOGETHER_API_KEY", "plainsecretvalue99")
    key = secrets.get_secret("together")
    text = f"calling with {key} and sk-ABCDEFGHIJKLMNOPQRSTUV and https://bob:hunter2@example.com/x Bearer abcdefghijklmnopqrstu"
    cleaned = secrets.redact(text)
    for leak in ("plainsecretvalue99", "sk-ABCDEFGHIJKLMNOPQRSTUV", "hunter2", "abcdefghijklmnopqrstu"):
        assert leak not in cleaned
    assert "https://[REDACTED]@example.com/x" in cleaned


def test_logging_filter_redacts_every_record(no_keyring, monkeypatch, caplog):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-livekey-zzzzzzzzzzzzzzzzzzzz")
    key = secrets.get_secret("openai")
    logger = logging.getLogger("gerbil_lsp.test")
    caplog.handler.addFilter(secrets.RedactingFilter())
    with caplog.at_level(logging.INFO, logger="gerbil_lsp.test"):
        logger.info("request headers: Authorization=%s", key)
    assert key not in caplog.text
    assert "[REDACTED]" in caplog.text
