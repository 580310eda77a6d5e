"""Helpers for tests that use the loopback fakes."""

from __future__ import annotations

from tests.fakes.ollama_fake import OllamaFake


def closed_port_url() -> str:
    """A loopback URL nothing listens on (a fake bound and closed)."""
    fake = OllamaFake()
    url = fake.url
    fake.server_close()
    return url
