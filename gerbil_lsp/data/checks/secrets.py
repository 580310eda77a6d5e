"""Scrub API keys, tokens, private keys and passwords in URLs out of dataset text.

The provider-specific patterns come from detect-secrets (Yelp's kept
detector: AWS, GitHub, GitLab, Slack, Stripe, OpenAI, JWT, npm, PyPI, ...),
run over the whole text at once. Its entropy and keyword plugins are left out:
on code they flag hashes and ordinary identifiers. We add the cases it does not
cover or only flags by a header line: whole PEM private-key blocks, passwords
in URLs, Together / Hugging Face / Anthropic / ``sk-`` keys, and long
key-like values assigned to a name that says it is a secret.

Running some forty regexes over every text is slow, and almost no text holds a
secret. So each pattern has a *trigger*: a few cheap tests that every text the
pattern can match passes (literal pieces the match must contain, a long enough
run of the characters its value is made of, or a piece of the pattern itself).
Only a text that passes some pattern's trigger is scanned, with every pattern
exactly as before. The triggers are necessary conditions by construction (see
:data:`_TRIGGERS`) and the tests check them against generated matches of every
pattern. They are also *context-free*: a text that passes none of them has no
substring that passes one, which lets a caller skip the substrings of a text
it has already found clean (:func:`may_hold_secret`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache

REDACTED = "<REDACTED>"

_PEM_BLOCK = re.compile(
    r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----.*?(?:-----END \1-----|\Z)", re.S
)
_URL_PASSWORD = re.compile(r"\b([a-z][a-z0-9+.-]*://[^\s:/@\"'<>]+:)([^\s@/\"'<>]+)(@)", re.I)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
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


# ------------------------------------------------------------------ triggers
#
# A trigger is a tuple of conditions that all hold on any text the pattern
# matches somewhere in, tested in order (the first ones are shared by several
# patterns and tested once per text):
#
#   ("lit", words)   the text contains one of ``words`` (case-sensitive)
#   ("ilit", words)  the case-folded text (see _fold) contains one of ``words``:
#                    for patterns compiled with IGNORECASE
#   ("run", cls, n)  the text has a run of n characters of class ``cls``; a
#                    non-ASCII character counts as one of every class (under
#                    IGNORECASE and with Unicode classes some of them are)
#   ("re", regex)    a contiguous piece of the pattern (or an alternation of
#                    such pieces of several patterns), with the pattern's flags
#
# Every condition depends only on the characters inside a match, never on what
# is around it (no anchors, no look-around that can see past the match). So a
# text that fails a trigger has no substring that passes it.

_Condition = tuple
#: (?:key|pwd|pw|password|pass|token) always contains one of these
_KEYWORDS = ("key", "pw", "pass", "token")
#: the keyword-style detectors (Cloudant, IBM, SoftLayer) all end in a value of 24+ characters
#: of [A-Za-z0-9_-]: a cheap first test shared by all of them
_LONG_WORD = ("run", "word", 24)
#: AWS key ids, Artifactory, Azure, Twilio AC...: each match contains one of these pieces
_A_PIECES = ("re", re.compile(r"A(?:3T|BIA|CCA|KIA|SIA|KC|ccountKey=|C[a-z0-9]{32}|P[\dABCDEF][a-zA-Z0-9]{8})"))
_S_PIECES = ("re", re.compile(r"S(?:K[a-z0-9]{32}|G\.)"))  # Twilio SK..., SendGrid SG.
_GITLAB = ("re", re.compile(r"gl(?:pat|dt|ft|soat|rt|cbt|imt|ptt|agent|oas)-"))
_URL = ("lit", ("://",))
_AT = ("lit", ("@",))

# pieces of the keyword-style detectors: an optional quote, the opening
# look-behind, the assignment between name and value
_Q = "(?:\"|\\'|)"
_PRE = r"(?:(?<=\W)|(?<=^))(?:\[|)" + _Q
_ASSIGN = _Q + r"(?:\]|)(?: *)(?:=|:|:=|=>| +|::)(?: *)" + _Q

# detect-secrets' denylist regexes (1.5) by their source text
_DETECT_SECRETS_TRIGGERS: dict[str, tuple[_Condition, ...]] = {
    # AWS
    r"(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[0-9A-Z]{16}": (
        _A_PIECES,
        ("lit", ("A3T", "ABIA", "ACCA", "AKIA", "ASIA")),
    ),
    r"aws.{0,20}?(?:key|pwd|pw|password|pass|token).{0,20}?[\'\"]([0-9a-zA-Z/+]{40})[\'\"]": (  # IGNORECASE
        ("ilit", ("aws",)),
        ("re", re.compile(r"""['"][0-9a-zA-Z/+]{40}['"]""", re.I)),
    ),
    # Artifactory (the leading and trailing context is left out of the pieces)
    r'(?:\s|=|:|"|^)AKC[a-zA-Z0-9]{10,}(?:\s|"|$)': (_A_PIECES, ("lit", ("AKC",))),
    r'(?:\s|=|:|"|^)AP[\dABCDEF][a-zA-Z0-9]{8,}(?:\s|"|$)': (
        _A_PIECES,
        ("re", re.compile(r"AP[\dABCDEF][a-zA-Z0-9]{8}")),
    ),
    # Azure storage
    r"AccountKey=[a-zA-Z0-9+\/=]{88}": (_A_PIECES, ("lit", ("AccountKey=",))),
    # basic auth in a URL
    r"://[^:/\?\#\[\]@!\$\&'\(\)\*\+,;=\s]+:([^:/\?\#\[\]@!\$\&'\(\)\*\+,;=\s]+)@": (_URL, _AT),
    # Cloudant (IGNORECASE): (cloudant|cl|clou), keyword, 64 hex digits or 24 letters; or in a URL
    _PRE + r"(?:cloudant|cl|clou)(?:_|-|)(?:api|)(?:key|pwd|pw|password|pass|token)" + _ASSIGN
    + r"([0-9a-f]{64})" + _Q: (_LONG_WORD, ("ilit", _KEYWORDS), ("ilit", ("cl",)), ("run", "hex", 64)),
    _PRE + r"(?:cloudant|cl|clou)(?:_|-|)(?:api|)(?:key|pwd|pw|password|pass|token)" + _ASSIGN
    + r"([a-z]{24})" + _Q: (_LONG_WORD, ("ilit", _KEYWORDS), ("ilit", ("cl",)), ("run", "alpha", 24)),
    r"(?:https?\:\/\/)[\w\-]+\:([0-9a-f]{64})\@[\w\-]+\.cloudant\.com": (_URL, _AT, ("ilit", (".cloudant.com",))),
    r"(?:https?\:\/\/)[\w\-]+\:([a-z]{24})\@[\w\-]+\.cloudant\.com": (_URL, _AT, ("ilit", (".cloudant.com",))),
    # Discord bot token
    r"[MNO][a-zA-Z\d_-]{23,25}\.[a-zA-Z\d_-]{6}\.[a-zA-Z\d_-]{27}": (
        ("re", re.compile(r"\.[a-zA-Z\d_-]{6}\.[a-zA-Z\d_-]{27}")),
    ),
    # GitHub
    r"(ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9_]{36}": (("re", re.compile(r"gh[pousr]_")),),
    # GitLab
    r"(glpat|gldt|glft|glsoat|glrt)-[A-Za-z0-9_\-]{20,50}(?!\w)": (
        _GITLAB,
        ("lit", ("glpat-", "gldt-", "glft-", "glsoat-", "glrt-")),
    ),
    r"GR1348941[A-Za-z0-9_\-]{20,50}(?!\w)": (("lit", ("GR1348941",)),),
    r"glcbt-([0-9a-fA-F]{2}_)?[A-Za-z0-9_\-]{20,50}(?!\w)": (_GITLAB, ("lit", ("glcbt-",))),
    r"glimt-[A-Za-z0-9_\-]{25}(?!\w)": (_GITLAB, ("lit", ("glimt-",))),
    r"glptt-[A-Za-z0-9_\-]{40}(?!\w)": (_GITLAB, ("lit", ("glptt-",))),
    r"glagent-[A-Za-z0-9_\-]{50,1024}(?!\w)": (_GITLAB, ("lit", ("glagent-",))),
    r"gloas-[A-Za-z0-9_\-]{64}(?!\w)": (_GITLAB, ("lit", ("gloas-",))),
    # IBM COS HMAC (IGNORECASE): secret[-_]?(access)?[-_]?key, then 48 hex digits
    _PRE + r"(?:(?:ibm)?[-_]?cos[-_]?(?:hmac)?|)(?:_|-|)(?:secret[-_]?(?:access)?[-_]?key)" + _ASSIGN
    + r"([a-f0-9]{48}(?![a-f0-9]))" + _Q: (_LONG_WORD, ("ilit", _KEYWORDS), ("ilit", ("secret",)), ("run", "hex", 48)),
    # IBM Cloud IAM (IGNORECASE): an optional prefix, a keyword, 44 of [a-zA-Z0-9_-]
    _PRE + r"(?:ibm(?:_|-|)cloud(?:_|-|)iam|cloud(?:_|-|)iam|ibm(?:_|-|)cloud|ibm(?:_|-|)iam|ibm|iam|cloud|)"
    r"(?:_|-|)(?:api|)(?:_|-|)(?:key|pwd|password|pass|token)" + _ASSIGN
    + r"([a-zA-Z0-9_\-]{44}(?![a-zA-Z0-9_\-]))" + _Q: (_LONG_WORD, ("ilit", _KEYWORDS), ("run", "word", 44)),
    # JWT
    r"eyJ[A-Za-z0-9-_=]+\.[A-Za-z0-9-_=]+\.?[A-Za-z0-9-_.+/=]*?": (("lit", ("eyJ",)),),
    # Mailchimp
    r"[0-9a-z]{32}-us[0-9]{1,2}": (("re", re.compile(r"-us[0-9]")),),
    # npm
    r"\/\/.+\/:_authToken=\s*((npm_.+)|([A-Fa-f0-9-]{36})).*": (("lit", ("/:_authToken=",)),),
    # OpenAI
    r"sk-[A-Za-z0-9-_]*[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}": (("lit", ("T3BlbkFJ",)),),
    # PyPI
    r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9-_]{70,}": (("lit", ("pypi-AgE",)), ("lit", ("pypi-AgEIcHlwaS5vcmc",))),
    r"pypi-AgENdGVzdC5weXBpLm9yZw[A-Za-z0-9-_]{70,}": (
        ("lit", ("pypi-AgE",)),
        ("lit", ("pypi-AgENdGVzdC5weXBpLm9yZw",)),
    ),
    # SendGrid
    r"SG\.[a-zA-Z0-9_-]{22}\.[a-zA-Z0-9_-]{43}": (_S_PIECES, ("lit", ("SG.",))),
    # Slack (IGNORECASE; the webhook one also VERBOSE, with no space or # to ignore)
    r"xox(?:a|b|p|o|s|r)-(?:\d+-)+[a-z0-9]+": (("ilit", ("xox",)),),
    r"https://hooks\.slack\.com/services/T[a-zA-Z0-9_]+/B[a-zA-Z0-9_]+/[a-zA-Z0-9_]+": (
        ("ilit", ("hooks.slack.com/services/",)),
    ),
    # SoftLayer (IGNORECASE): (softlayer|sl) ("softlayer" holds no "sl"), keyword, 64 of [a-z0-9]; or the
    # SOAP URL ('.' is any character)
    _PRE + r"(?:softlayer|sl)(?:_|-|)(?:api|)(?:_|-|)(?:key|pwd|password|pass|token)" + _ASSIGN
    + r"([a-z0-9]{64})" + _Q: (_LONG_WORD, ("ilit", _KEYWORDS), ("ilit", ("softlayer", "sl")), ("run", "alnum", 64)),
    r"(?:http|https)://api.softlayer.com/soap/(?:v3|v3.1)/([a-z0-9]{64})": (_URL, ("ilit", ("softlayer",))),
    # Square
    r"sq0csp-[0-9A-Za-z\\\-_]{43}": (("lit", ("sq0csp-",)),),
    # Stripe
    r"(?:r|s)k_live_[0-9a-zA-Z]{24}": (("lit", ("k_live_",)),),
    # Telegram
    r"\d{8,10}:[0-9A-Za-z_-]{35}": (("re", re.compile(r":[0-9A-Za-z_-]{35}")),),
    # Twilio
    r"AC[a-z0-9]{32}": (_A_PIECES, ("re", re.compile(r"AC[a-z0-9]{32}"))),
    r"SK[a-z0-9]{32}": (_S_PIECES, ("re", re.compile(r"SK[a-z0-9]{32}"))),
}

# our own patterns, by kind
_OWN_TRIGGERS: dict[str, tuple[_Condition, ...]] = {
    "private-key": (("lit", ("PRIVATE KEY",)), ("lit", ("-----BEGIN ",))),
    "password-in-url": (_URL, _AT),  # (IGNORECASE, but ':', '/' and '@' have no case)
    "json-web-token": (("lit", ("eyJ",)), ("lit", (".eyJ",))),
    "together-key": (("lit", ("tgp_v1_",)),),
    "huggingface-token": (("lit", ("hf_",)),),
    "anthropic-key": (("lit", ("sk-",)), ("lit", ("sk-ant-",))),
    "sk-key": (("lit", ("sk-",)),),
    # (IGNORECASE) the name holds api[_-]?key, secret, token, passw(or)?d or auth; then the quoted
    # value, whose look-aheads stop at the closing quote, so they see only the match
    "assigned-secret": (
        ("ilit", ("api", "secret", "token", "passw", "auth")),
        ("re", re.compile(r"""(["'])(?=[^"'\s]*\d)(?=[^"'\s]*[a-z])[A-Za-z0-9_\-+/=.]{16,}\1""", re.I)),
    ),
}

#: characters outside ASCII that IGNORECASE matches to an ASCII letter (the tests check this list
#: against the ``re`` module); folded to that letter before the case-insensitive literal tests
_FOLD = (("\u0130", "i"), ("\u0131", "i"), ("\u017f", "s"), ("\u212a", "k"))


def _run_table(chars: str) -> bytes:
    """A bytes.translate table: the class's ASCII characters and every non-ASCII byte -> ``x``, else space."""
    return bytes(ord("x") if (b >= 0x80 or chr(b) in chars) else ord(" ") for b in range(256))


_DIGITS = "0123456789"
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_RUN_TABLES = {
    "hex": _run_table(_DIGITS + "abcdefABCDEF"),
    "alpha": _run_table(_LETTERS),
    "alnum": _run_table(_DIGITS + _LETTERS),
    "word": _run_table(_DIGITS + _LETTERS + "_-"),
}


def _fold(text: str) -> str:
    """Lower case, with IGNORECASE's non-ASCII stand-ins for ASCII letters made those letters."""
    if not text.isascii():
        for char, letter in _FOLD:
            if char in text:
                text = text.replace(char, letter)
    return text.lower()


class _View:
    """One text and the conditions already tested on it (with its folded and byte forms, made once)."""

    __slots__ = ("text", "_known", "_folded", "_data")

    def __init__(self, text: str) -> None:
        self.text = text
        self._known: dict[_Condition, bool] = {}
        self._folded: str | None = None
        self._data: bytes | None = None

    def holds(self, condition: _Condition) -> bool:
        known = self._known.get(condition)
        if known is None:
            known = self._known[condition] = self._test(condition)
        return known

    def _test(self, condition: _Condition) -> bool:
        what = condition[0]
        if what == "lit":
            text = self.text
            return any(w in text for w in condition[1])
        if what == "ilit":
            if self._folded is None:
                self._folded = _fold(self.text)
            folded = self._folded
            return any(w in folded for w in condition[1])
        if what == "run":
            if self._data is None:
                self._data = self.text.encode("utf-8", "surrogatepass")
            return b"x" * condition[2] in self._data.translate(_RUN_TABLES[condition[1]])
        return condition[1].search(self.text) is not None


@lru_cache(maxsize=1)
def triggers() -> tuple[tuple[str, re.Pattern[str], tuple[_Condition, ...]], ...]:
    """(kind, pattern, trigger) of every pattern scrub_secrets runs; a pattern with no written trigger is its own."""
    own = [("private-key", _PEM_BLOCK), ("password-in-url", _URL_PASSWORD), *_KEY_PATTERNS,
           ("assigned-secret", _ASSIGNED_SECRET)]
    out = [(kind, regex, _OWN_TRIGGERS[kind]) for kind, regex in own]
    for kind, regex in _detect_secrets_patterns():
        out.append((kind, regex, _DETECT_SECRETS_TRIGGERS.get(regex.pattern) or (("re", regex),)))
    return tuple(out)


@lru_cache(maxsize=1)
def _context_free() -> bool:
    """Every pattern has a written trigger (a pattern that is its own trigger may look at its context)."""
    return all(_DETECT_SECRETS_TRIGGERS.get(regex.pattern) for _kind, regex in _detect_secrets_patterns())


@lru_cache(maxsize=1)
def _plan() -> tuple[tuple[_Condition, tuple[tuple[_Condition, ...], ...]], ...]:
    """The triggers grouped by their first condition: (first, [rest of each trigger])."""
    groups: dict[_Condition, dict[tuple[_Condition, ...], None]] = {}
    for _kind, _regex, trigger in triggers():
        groups.setdefault(trigger[0], {})[trigger[1:]] = None
    return tuple((first, tuple(rests)) for first, rests in groups.items())


def may_hold_secret(text: str) -> bool:
    """False only when no pattern can match anywhere in ``text``.

    Then no pattern can match in any substring of it either, as long as every
    pattern has a written trigger (:func:`_context_free`).
    """
    if not text:
        return False
    view = _View(text)
    holds = view.holds
    for first, rests in _plan():
        if holds(first):
            for rest in rests:
                if all(holds(c) for c in rest):
                    return True
    return False


def scrub_secrets(text: str) -> tuple[str, Counter]:
    """The text with every secret replaced by ``<REDACTED>``, and how many of each kind."""
    if not text:
        return text, Counter()
    active = _active(text)
    if not active:
        return text, Counter()
    clean, counts = _scrub(text, active)
    if clean == text and not counts:
        # the patterns left out have no match in this text, which nothing changed
        return text, counts
    return _scrub(text)  # something was found: every pattern, in order, as the reference does


def _active(text: str) -> frozenset[re.Pattern[str]]:
    """The patterns whose trigger holds on ``text`` (the only ones that can match in it)."""
    if not may_hold_secret(text):
        return frozenset()
    view = _View(text)
    return frozenset(regex for _kind, regex, trigger in triggers() if all(view.holds(c) for c in trigger))


def _scrub(text: str, active: frozenset[re.Pattern[str]] | None = None) -> tuple[str, Counter]:
    """The patterns (all, or the ``active`` ones) over the text, in order: the reference scrub."""
    counts: Counter = Counter()
    if not text:
        return text, counts

    def on(regex: re.Pattern[str]) -> bool:
        return active is None or regex in active

    def pem(match: re.Match[str]) -> str:
        counts["private-key"] += 1
        return REDACTED

    if on(_PEM_BLOCK):
        text = _PEM_BLOCK.sub(pem, text)

    def url(match: re.Match[str]) -> str:
        if match.group(2) == REDACTED:
            return match.group(0)
        counts["password-in-url"] += 1
        return match.group(1) + REDACTED + match.group(3)

    if on(_URL_PASSWORD):
        text = _URL_PASSWORD.sub(url, text)
    for kind, pattern in _KEY_PATTERNS:
        if not on(pattern):
            continue
        text, n = pattern.subn(REDACTED, text)
        if n:
            counts[kind] += n

    found: dict[str, str] = {}
    for kind, regex in _detect_secrets_patterns():
        if not on(regex):
            continue
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

    if on(_ASSIGNED_SECRET):
        text = _ASSIGNED_SECRET.sub(assigned, text)
    return text, counts


#: characters of text checked at once by :func:`clean_flags` before looking closer
_BATCH_CHARS = 16_000


def clean_flags(texts: Sequence[str]) -> list[bool]:
    """``not may_hold_secret(t)`` for every text, checking many texts at once.

    The texts are joined by newlines and the join is checked: if it passes no
    trigger, no text in it does (each is a substring, and triggers are
    context-free); otherwise it is halved until single texts are left.
    """
    out = [False] * len(texts)
    if not _context_free():  # a pattern without a written trigger: its own context matters
        return [not may_hold_secret(t) for t in texts]

    def visit(lo: int, hi: int) -> None:
        if hi - lo == 1:
            out[lo] = not may_hold_secret(texts[lo])
        elif not may_hold_secret("\n".join(texts[lo:hi])):
            out[lo:hi] = [True] * (hi - lo)
        else:
            mid = (lo + hi) // 2
            visit(lo, mid)
            visit(mid, hi)

    lo = size = 0
    for i, text in enumerate(texts):
        size += len(text) + 1
        if size >= _BATCH_CHARS or i == len(texts) - 1:
            visit(lo, i + 1)
            lo, size = i + 1, 0
    return out


class Scrubber:
    """:func:`scrub_secrets` over many texts that repeat and nest (one build's entries).

    Results are kept per text. :meth:`prepare` checks many texts at once
    (:func:`clean_flags`). A text found inside a text that passes no trigger
    needs no look of its own: the triggers are context-free, so it passes none
    either (a FIM prefix inside its file, a code block inside its answer).
    """

    def __init__(self) -> None:
        self._results: dict[str, tuple[str, Counter]] = {}
        self._clean: dict[str, bool] = {}

    def prepare(self, texts: Iterable[str]) -> None:
        """Find out at once which of these texts are clean (the ones :meth:`scrub` will be asked about)."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._clean]
        self._clean.update(zip(todo, clean_flags(todo), strict=True))

    def clean(self, text: str) -> bool:
        """No pattern can match anywhere in ``text`` (remembered per text)."""
        known = self._clean.get(text)
        if known is None:
            known = self._clean[text] = not may_hold_secret(text)
        return known

    def scrub(self, text: str, within: Sequence[str] = ()) -> tuple[str, Counter]:
        """:func:`scrub_secrets` of ``text``; ``within``: texts that may contain it. Do not change the Counter."""
        result = self._results.get(text)
        if result is None:
            inside_clean = _context_free() and any(
                len(c) > len(text) and self.clean(c) and text in c for c in within
            )
            result = (text, Counter()) if inside_clean or self.clean(text) else scrub_secrets(text)
            self._results[text] = result
        return result
