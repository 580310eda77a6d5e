"""Scrub API keys, tokens, private keys and passwords in URLs out of dataset text.

The provider-specific patterns come from detect-secrets (Yelp's kept
detector: AWS, GitHub, GitLab, Slack, Stripe, OpenAI, JWT, npm, PyPI, ...),
run over the whole text at once. Its entropy and keyword plugins are left out:
on code they flag hashes and ordinary identifiers. We add the cases it does not
cover or only flags by a header line: whole PEM private-key blocks, passwords
in URLs, Together / Hugging Face / Anthropic / ``sk-`` keys, and long
key-like values assigned to a name that says it is a secret.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

REDACTED = "<REDACTED>"

_PEM_BLOCK = re.compile(
    r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----.*?(?:-----END \1-----|\Z)", re.S
)
_URL_PASSWORD = re.compile(r"\b([a-z][a-z0-9+.-]*://[^\s:/@\"'<>]+:)([^\s@/\"'<>]+)(@)", re.I)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
# A cheap first pass: text with none of these cannot hold anything the patterns below find.
_GATE = re.compile(r"PRIVATE KEY|://[^\s/@]*:[^\s/@]*@|[A-Za-z0-9_+/=.-]{16,}")
_HAS_DIGIT = re.compile(r"\d")
_HAS_ALPHA = re.compile(r"[A-Za-z]")
_KEY_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("json-web-token", _JWT),
    ("together-key", re.compile(r"\btgp_v1_[A-Za-z0-9_-]{20,}")),
    ("huggingface-token", re.compile(r"\bhf_[A-Za-z0-9]{30,}")),
    ("anthropic-key", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}")),
    ("sk-key", re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_-]{32,}")),
)
# name that says "secret", then a quoted value of 16+ key-like characters with letters and digits
_ASSIGNED_SECRET = re.compile(
    r"""(?ix)
    (\b[\w-]*(?:api[_-]?key|secret|token|passw(?:or)?d|auth)[\w-]*\b["']?\s*(?:[:=]|=>)?\s*)
    (["'])((?=[^"'\s]*\d)(?=[^"'\s]*[a-z])[A-Za-z0-9_\-+/=.]{16,})\2
    """
)


@lru_cache(maxsize=1)
def _detect_secrets_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """detect-secrets' provider patterns (regex plugins; entropy/keyword/IP left out: noisy on code).

    We run each plugin's own ``denylist`` regexes over the whole text and take the
    whole match: the plugins report only a captured prefix for some kinds (GitHub).
    """
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.plugins.base import RegexBasedDetector

    patterns = []
    for secret_type, cls in sorted(get_mapping_from_secret_type_to_class().items()):
        if issubclass(cls, RegexBasedDetector) and cls.__name__ not in ("PrivateKeyDetector", "IPPublicDetector"):
            patterns.extend((_kind(secret_type), regex) for regex in cls.denylist)
    return tuple(patterns)


def _kind(secret_type: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", secret_type.lower()).strip("-")


def _may_hold_secret(text: str) -> bool:
    for match in _GATE.finditer(text):
        token = match.group(0)
        if len(token) < 16 or (_HAS_DIGIT.search(token) and _HAS_ALPHA.search(token)):
            return True
    return False


def scrub_secrets(text: str) -> tuple[str, Counter]:
    """The text with every secret replaced by ``<REDACTED>``, and how many of each kind."""
    counts: Counter = Counter()
    if not text or not _may_hold_secret(text):
        return text, counts

    def pem(match: re.Match[str]) -> str:
        counts["private-key"] += 1
        return REDACTED

    text = _PEM_BLOCK.sub(pem, text)

    def url(match: re.Match[str]) -> str:
        if match.group(2) == REDACTED:
            return match.group(0)
        counts["password-in-url"] += 1
        return match.group(1) + REDACTED + match.group(3)

    text = _URL_PASSWORD.sub(url, text)
    for kind, pattern in _KEY_PATTERNS:
        text, n = pattern.subn(REDACTED, text)
        if n:
            counts[kind] += n

    found: dict[str, str] = {}
    for kind, regex in _detect_secrets_patterns():
        for match in regex.finditer(text):
            value = match.group(0).strip()
            if len(value) >= 12 and REDACTED not in value:
                found.setdefault(value, kind)
    for value in sorted(found, key=len, reverse=True):
        n = text.count(value)
        if n:
            text = text.replace(value, REDACTED)
            counts[found[value]] += n

    def assigned(match: re.Match[str]) -> str:
        counts["assigned-secret"] += 1
        return f"{match.group(1)}{match.group(2)}{REDACTED}{match.group(2)}"

    text = _ASSIGNED_SECRET.sub(assigned, text)
    return text, counts
