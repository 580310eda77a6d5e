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


# ----------------------------------------------------------------------------- the pre-filter
#
# scrub_secrets runs its patterns only on text that passes some pattern's trigger
# (a cheap necessary condition). These tests hold the triggers to that: every
# text any pattern matches passes that pattern's trigger, the scrub agrees with
# the reference that runs every pattern on every text, and the batch and
# substring shortcuts agree with looking at each text alone.

import re  # noqa: E402
import sys  # noqa: E402

from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from gerbil_lsp.data.checks import secrets as S  # noqa: E402

ALL_PATTERNS = [(kind, regex, trigger) for kind, regex, trigger in S.triggers()]
_FAST = settings(max_examples=60, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def _holds(trigger, text: str) -> bool:
    view = S._View(text)
    return all(view.holds(c) for c in trigger)


def test_every_detect_secrets_pattern_has_a_written_trigger():
    # a detector without one would be its own (slow, context-dependent) trigger and turn the batch
    # shortcut off: a new detect-secrets version must get triggers written here
    missing = [(k, r.pattern) for k, r in S._detect_secrets_patterns() if r.pattern not in S._DETECT_SECRETS_TRIGGERS]
    assert missing == []
    assert S._context_free()


# from_regex finds few matches of the assigned-secret pattern (look-aheads, a back-reference): build them
_ASSIGNED = st.builds(
    lambda pre, name, post, sep, quote, value: f"{pre}{name}{post}{sep}{quote}{value}{quote}",
    st.from_regex(r"[\w-]{0,4}", fullmatch=True),
    st.sampled_from(["api_key", "API-KEY", "apikey", "secret", "Token", "passwd", "PassWord", "auth",
                     "\u017fecret", "to\u212aen"]),
    st.from_regex(r"[\w-]{0,4}", fullmatch=True),
    st.sampled_from(["=", " = ", ": ", " => ", " ", "\n", '"=', "'\t:"]),
    st.sampled_from(['"', "'"]),
    st.from_regex(r"[A-Za-z0-9_\-+/=.]{14,40}", fullmatch=True).map(lambda v: "a1" + v),
)
_SAMPLES = {"assigned-secret": _ASSIGNED}


@pytest.mark.parametrize(("kind", "regex", "trigger"), ALL_PATTERNS,
                         ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(ALL_PATTERNS)])
def test_trigger_holds_wherever_its_pattern_matches(kind, regex, trigger):
    @_FAST
    @given(_SAMPLES.get(kind, st.from_regex(regex)), st.text(max_size=20), st.text(max_size=20))
    def check(sample, before, after):
        assume(regex.search(sample))
        assert _holds(trigger, sample), (kind, sample)
        assert S.may_hold_secret(sample)
        text = before + sample + after
        if regex.search(text):
            assert _holds(trigger, text), (kind, text)
        # with the trigger, the scrub is the reference scrub (every pattern, no shortcut)
        assert scrub_secrets(text) == S._scrub(text)

    check()


# one realistic sample per detector (built at run time; none is a live credential)
_HEX64 = "0123456789abcdef" * 4
DETECTOR_SAMPLES = {
    "aws-access-key": ['aws_secret_key = "' + "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY" + '"',
                       "id " + "ASIA" + "Y34FZKBOKMUTVV7A"],
    "artifactory-credentials": ["token: AKC" + "p8kqw3Rz91" + " ", 'x="AP' + "6xX9pLm2QwZ" + '"'],
    "azure-storage-account-access-key": ["AccountKey=" + "a1B2" * 22],
    "basic-auth-credentials": ["git clone https://bob:" + "tr0ub4dor" + "@git.example.com/x"],
    "cloudant-credentials": ["cloudant_password = '" + _HEX64 + "'",
                             "cl_key: " + "abcdefghijklmnopqrstuvwx",
                             "https://user:" + "qwertyuiopasdfghjklzxcvb" + "@acct.cloudant.com"],
    "discord-bot-token": ["M" + "TIzNDU2Nzg5MDEyMzQ1Njc4" + ".GaBcDe." + "abcdefghijklmnopqrstuvwxyz0"],
    "github-token": ["ghs_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"],
    "gitlab-token": ["glpat-" + "xXyYzZ0123456789abcd", "glptt-" + "0123456789" * 4],
    "ibm-cos-hmac-credentials": ["cos_hmac_secret_access_key = " + "0123456789abcdef" * 3],
    "ibm-cloud-iam-key": ["ibm_cloud_iam_api_key: " + "A1b2C3d4E5" * 4 + "Zz_-"],
    "json-web-token": ["eyJ" + "hbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig"],
    "mailchimp-access-key": ["0123456789abcdef0123456789abcdef" + "-us12"],
    "npm-tokens": ["//registry.npmjs.org/:_authToken=" + "npm_" + "a1B2c3D4e5F6g7H8i9J0"],
    "openai-token": ["sk-" + "abcdefghij0123456789" + "T3BlbkFJ" + "0123456789abcdefghij"],
    "pypi-token": ["pypi-AgEIcHlwaS5vcmc" + "A1b2" * 20],
    "sendgrid-api-key": ["SG." + "abcdefghij0123456789AB" + "." + "abcdefghij0123456789ABCDEFGHIJ0123456789xyz"],
    "slack-token": ["xoxb-" + "123456789012-1234567890123-" + "AbCdEfGhIjKlMnOpQrStUvWx",
                    "https://hooks.slack.com/services/" + "T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"],
    "softlayer-credentials": ["softlayer_api_key = " + "a1" * 32,
                              "https://api.softlayer.com/soap/v3/" + "a1" * 32],
    "square-oauth-secret": ["sq0csp-" + "0123456789ABCDEFGHIJabcdefghij-_0123456789a"],
    "stripe-access-key": ["sk_live_" + "0123456789abcdefghijklmn"],
    "telegram-bot-token": ["123456789:" + "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"],
    "twilio-api-key": ["AC" + "0123456789abcdef0123456789abcdef", "SK" + "0123456789abcdef0123456789abcdef"],
}


def test_every_detector_has_a_sample():
    kinds = {k for k, _ in S._detect_secrets_patterns()}
    assert kinds <= set(DETECTOR_SAMPLES), sorted(kinds - set(DETECTOR_SAMPLES))


@pytest.mark.parametrize(("kind", "sample"), [(k, s) for k, ss in DETECTOR_SAMPLES.items() for s in ss])
def test_each_detector_sample_passes_the_prefilter_and_is_scrubbed(kind, sample):
    patterns = [r for k, r in S._detect_secrets_patterns() if k == kind]
    assert any(r.search(sample) for r in patterns), "the sample must be one the detector fires on"
    text = f"(def config\n  ;; deploy settings\n  {sample}\n  (list 1 2 3))"
    assert S.may_hold_secret(text)
    clean, counts = scrub_secrets(text)
    assert (clean, counts) == S._scrub(text)
    assert clean != text and sum(counts.values()) >= 1


@pytest.mark.parametrize(
    "text",
    [
        # the old pre-filter let these through unscanned (no 16-character run with letters and digits)
        "cl_key: " + "abcdefghijklmnopqrstuvwx",
        "token AKC" + "p8kqw3Rz91" + " end",
    ],
)
def test_prefilter_is_no_weaker_than_the_detectors(text):
    clean, counts = scrub_secrets(text)
    assert clean != text and counts


def test_fold_covers_every_non_ascii_ignorecase_letter():
    # IGNORECASE matches a few non-ASCII characters to ASCII letters; the case-insensitive
    # literal tests fold exactly those
    every = "".join(chr(c) for c in range(0x80, sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)
    found = {ch: next(a for a in "abcdefghijklmnopqrstuvwxyz" if re.fullmatch(a, ch, re.I))
             for ch in re.findall("[a-z]", every, re.I)}
    assert found == dict(S._FOLD)
    assert S.may_hold_secret("\u212aey = '" + "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH" + "'")  # Kelvin sign K


_NOISE = st.sampled_from([
    "(def (f x) (+ x 1))", "\n", " ", "key", "token", "://", "@", "AC", "AP", "SK", "-us1", "cl_", "sl_",
    "'", '"', "= ", ": ", "abcdefghijklmnopqrstuvwxyz", "0123456789abcdef" * 3, "hash-key", "api_token",
    "https://example.com/x", "user@example.com", "eyJ", ".eyJ", "\u017f", "\u212a", "\u0131",
])


@_FAST
@given(st.lists(st.one_of(_NOISE, st.sampled_from([s for ss in DETECTOR_SAMPLES.values() for s in ss])),
                max_size=12))
def test_scrub_agrees_with_the_reference_on_mixed_text(parts):
    text = "".join(parts)
    assert scrub_secrets(text) == S._scrub(text)


@_FAST
@given(st.lists(st.one_of(_NOISE, st.text(max_size=30)), max_size=10), st.data())
def test_a_clean_text_has_only_clean_substrings(parts, data):
    text = "".join(parts)
    assume(not S.may_hold_secret(text))
    i = data.draw(st.integers(0, len(text)))
    j = data.draw(st.integers(i, len(text)))
    assert not S.may_hold_secret(text[i:j])
    assert scrub_secrets(text[i:j]) == (text[i:j], {})


def test_batch_check_agrees_with_one_text_at_a_time():
    samples = [s for ss in DETECTOR_SAMPLES.values() for s in ss]
    texts = ["(def (f x) x)\n" * (i % 7) + (samples[i % len(samples)] if i % 5 == 0 else "plain text") for i in range(400)]
    texts += ["://", "@", "x" * 20_000, ""]
    assert S.clean_flags(texts) == [not S.may_hold_secret(t) for t in texts]


def test_scrubber_agrees_with_scrub_secrets_inside_and_out():
    scrubber = S.Scrubber()
    file_text = "(def (f x)\n  (+ x 1))\n" * 50
    dirty = f'(def api-token "{"f3a9c1e07b5d4a2e9c8b"}")\n'
    scrubber.prepare([file_text, dirty + file_text])
    for outer in (file_text, dirty + file_text):
        for part in (outer[:100], outer[30:200], outer, dirty, "unrelated text"):
            assert scrubber.scrub(part, (outer,)) == scrub_secrets(part)
