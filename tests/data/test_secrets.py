"""Secret scrubbing: each kind found and counted; ordinary code and hashes left alone."""

from __future__ import annotations

import pytest

from gerbil_lsp.data import scrub_secrets

# Built at run time so no scanner flags this file; none of these is a live credential.
AWS = "AKIA" + "IOSFODNN7" + "EXAMPLQ"
GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0" + "k1L2m3N4o5P6q7R8"
PEM = "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEowIBAAKCAQEAx\nZm9vYmFy\n-----END RSA " + "PRIVATE KEY-----"
TOGETHER = "tgp_v1_" + "Zx9" * 10
JWT = "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0" + ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


@pytest.mark.parametrize(
    ("text", "kind", "secret"),
    [
        (f"(def aws-key \"{AWS}\")", "aws-access-key", AWS),
        (f"token: {GITHUB}", "github-token", GITHUB),
        (f"key file:\n{PEM}\nthe end", "private-key", "MIIEowIBAAKCAQEAx"),
        ("(http-get \"https://alice:s3cretPass@db.example.com/x\")", "password-in-url", "s3cretPass"),
        (f"export TOGETHER_API_KEY={TOGETHER}", "together-key", TOGETHER),
        (f"Authorization: Bearer {JWT}", "json-web-token", JWT[:30]),
        ('(def api-token "f3a9c1e07b5d4a2e9c8b")', "assigned-secret", "f3a9c1e07b5d4a2e9c8b"),
    ],
)
def test_secret_is_scrubbed_and_counted(text, kind, secret):
    clean, counts = scrub_secrets(text)
    assert secret not in clean
    assert "<REDACTED>" in clean
    assert counts[kind] >= 1, counts


@pytest.mark.parametrize(
    "text",
    [
        "(def (add a b) (+ a b))",
        ';; => "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"',
        "(call-with-output-string (lambda (port) (display 'hello port)))",
        "(hash-ref token-table \"key\")",
        "see https://cons.io/reference/std/sugar.html#try",
    ],
)
def test_ordinary_text_is_untouched(text):
    assert scrub_secrets(text) == (text, {})


def test_url_keeps_user_and_host():
    clean, _ = scrub_secrets("postgres://bob:hunter2hunter2@127.0.0.1:5432/db")
    assert clean == "postgres://bob:<REDACTED>@127.0.0.1:5432/db"
