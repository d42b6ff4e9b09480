"""Secret scrubbing: examples, and properties over generated secrets and text."""

from __future__ import annotations

import base64
import string

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from rescp.engine.classify import (
    REDACTED,
    SECRET_KEY_WORDS,
    is_secret_key,
    scrub_context,
    scrub_text,
)

R = REDACTED

EXAMPLES = [
    ("password=hunter2", f"password={R}"),
    ("login failed: password=hunter2 user=bob", f"login failed: password={R} user=bob"),
    ("password: hunter2", f"password: {R}"),
    ("PASSWORD = hunter2", f"PASSWORD = {R}"),
    ('{"password": "hunter2", "user": "bob"}', f'{{"password": "{R}", "user": "bob"}}'),
    ("{'password': 'hunter 2'}", f"{{'password': '{R}'}}"),
    ('{\\"password\\": \\"hunter2\\"}', f'{{\\"password\\": \\"{R}\\"}}'),
    ('password="unterminated', f'password="{R}'),
    ('password=""', 'password=""'),
    ("token=abc", f"token={R}"),
    ("api_key=AKIA1234", f"api_key={R}"),
    ("apikey=AKIA1234", f"apikey={R}"),
    ("X-Api-Key: k-123", f"X-Api-Key: {R}"),
    ("access_token=a1&refresh_token=r1", f"access_token={R}&refresh_token={R}"),
    ("client_secret=s3", f"client_secret={R}"),
    ("db_password=p4", f"db_password={R}"),
    ("passwd=p4", f"passwd={R}"),
    ("Server=db;Database=app;PWD=p4;", f"Server=db;Database=app;PWD={R};"),
    ("GET /v1/items?token=abc123&page=2", f"GET /v1/items?token={R}&page=2"),
    ("Authorization: Bearer abc.def.ghi", f"Authorization: Bearer {R}"),
    ("authorization=bearer abc", f"authorization=bearer {R}"),
    ("Authorization: Basic dXNlcjpwYXNz", f"Authorization: Basic {R}"),
    ("Authorization: Token abc", f"Authorization: Token {R}"),
    ("Authorization: abc", f"Authorization: {R}"),
    ("upstream rejected Bearer eyJhbGciOi.eyJzdWIi.sig== twice",
     f"upstream rejected Bearer {R} twice"),
    ("sent Basic dXNlcjpwYXNz to proxy", f"sent Basic {R} to proxy"),
    ("basic auth failed", "basic auth failed"),  # not base64 of user:password
    ("Cookie: sessionid=abc; theme=dark", f"Cookie: {R}; theme=dark"),
    ("postgres://app:s3cr3t@db.internal:5432/app", f"postgres://app:{R}@db.internal:5432/app"),
    ("redis://:s3cr3t@cache:6379/0", f"redis://:{R}@cache:6379/0"),
    ("https://u:p@ss@host/x", f"https://u:{R}@host/x"),
    ("https://example.org:8443/path", "https://example.org:8443/path"),
    ("card 4111 1111 1111 1111 declined", f"card {R} declined"),
    ("card 4111-1111-1111-1111 declined", f"card {R} declined"),
    ("card 4111111111111111 declined", f"card {R} declined"),
    ("amex 3782 822463 10005", f"amex {R}"),
    ("card 4111111111111112 (fails Luhn) declined", f"card {R} (fails Luhn) declined"),
    ("order 123456789012 shipped", "order 123456789012 shipped"),  # 12 digits
    ("id 550e8400-e29b-41d4-a716-446655440000", "id 550e8400-e29b-41d4-a716-446655440000"),
    ("sha a1234567890123456789", "sha a1234567890123456789"),
    ("at 2024-01-15 10:30:00", "at 2024-01-15 10:30:00"),
    ("connection refused by host db:5432", "connection refused by host db:5432"),
    ("error: password=hunter2", f"error: password={R}"),
    ("password=[REDACTED]", "password=[REDACTED]"),
    ("", ""),
]


@pytest.mark.parametrize(("text", "expected"), EXAMPLES)
def test_scrub_text_examples(text: str, expected: str) -> None:
    assert scrub_text(text) == expected


@pytest.mark.parametrize(
    "key",
    ["password", "Password", "DB_PASSWORD", "passwd", "client_secret", "access-token", "Api-Key",
     "apiKey", "X_API_KEY", "Authorization", "Set-Cookie", "aws_credentials", "private_key",
     "PrivateKey", "sessionid", "jwt"],
)
def test_secret_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["user", "order_id", "host", "attempt", "api", "key", "author"])
def test_non_secret_keys(key: str) -> None:
    assert not is_secret_key(key)


def test_scrub_context() -> None:
    context = {
        "Authorization": "Bearer abc",
        "db-password": "",
        "note": "retry with token=abc",
        "url": "https://u:pw@host/x",
        "order_id": "42",
    }
    assert scrub_context(context) == {
        "Authorization": R,
        "db-password": R,
        "note": f"retry with token={R}",
        "url": f"https://u:{R}@host/x",
        "order_id": "42",
    }
    assert context["Authorization"] == "Bearer abc"  # a copy, the input is untouched


# --- properties ----------------------------------------------------------------------------------

SECRET_KEYS = st.sampled_from([
    "password", "PASSWORD", "passwd", "db_password", "DB-Password", "token", "access_token",
    "refresh_token", "client_secret", "secret", "api_key", "apikey", "x-api-key", "X-API-KEY",
    "auth_token", "private_key", "sessionid", "Authorization",
])
# values that end where the scrubber says an unquoted value ends
BARE = st.text(string.ascii_letters + string.digits + "-_.~!@#$%^*+/:=?[]|`", min_size=6,
               max_size=40)
QUOTED = st.text(
    st.characters(blacklist_characters="\"'\\\n", blacklist_categories=("Cs",)),
    min_size=6, max_size=40,
)
TOKEN68 = st.builds(
    lambda body, pad: body + "=" * pad,
    st.text(string.ascii_letters + string.digits + "-._~+/", min_size=6, max_size=60),
    st.integers(0, 2),
)
URL_PASSWORD = st.text(string.ascii_letters + string.digits + "-_.~!$%^*+=:@", min_size=6,
                       max_size=30)
SURROUNDING = st.text(string.ascii_letters + string.digits + " .,!", max_size=30)

BARE_SHAPES = [
    "{k}={v}", "{k}: {v}", "{k} = {v}", "{k}:{v}", "GET /items?{k}={v}&page=2",
    "https://api.example.org/x?a=1&{k}={v}", "{k}={v}; Server=db", "{{{k}={v}, user=bob}}",
    "({k}={v})",
]
QUOTED_SHAPES = [
    '"{k}": "{v}"', "'{k}': '{v}'", '{{"{k}":"{v}","n":1}}', "{k}='{v}'", '{k}="{v}"',
    '{{\\"{k}\\": \\"{v}\\"}}', "{k}: '{v}'",
]
BEARER_SHAPES = [
    "Authorization: Bearer {v}", "authorization: bearer {v}", "sent Bearer {v} upstream",
    "{k}=Bearer {v}", "Bearer {v}", '"Authorization": "Bearer {v}"',
]
URL_SHAPES = [
    "postgres://app:{v}@db.internal:5432/app", "redis://:{v}@cache:6379/0",
    "connecting to https://user:{v}@host.example.org/path?q=1",
]


def _survives(secret: str, template: str, key: str, prefix: str, suffix: str) -> bool:
    text = f"{prefix} {template.format(k=key, v=secret)} {suffix}"
    # a secret that also appears in the scrubbed shape on its own proves nothing
    assume(secret not in f"{prefix} {template.format(k=key, v=R)} {suffix}")
    return secret in scrub_text(text)


@given(BARE, st.sampled_from(BARE_SHAPES), SECRET_KEYS, SURROUNDING, SURROUNDING)
@example("hunter22", "{k}={v}", "password", "", "")
def test_bare_secret_never_survives(
    secret: str, template: str, key: str, prefix: str, suffix: str
) -> None:
    assert not _survives(secret, template, key, prefix, suffix)


@given(QUOTED, st.sampled_from(QUOTED_SHAPES), SECRET_KEYS, SURROUNDING, SURROUNDING)
@example("correct horse battery", '"{k}": "{v}"', "password", "", "")
def test_quoted_secret_never_survives(
    secret: str, template: str, key: str, prefix: str, suffix: str
) -> None:
    assert not _survives(secret, template, key, prefix, suffix)


@given(TOKEN68, st.sampled_from(BEARER_SHAPES), SECRET_KEYS, SURROUNDING, SURROUNDING)
def test_bearer_token_never_survives(
    secret: str, template: str, key: str, prefix: str, suffix: str
) -> None:
    assert not _survives(secret, template, key, prefix, suffix)


@given(URL_PASSWORD, st.sampled_from(URL_SHAPES), SURROUNDING, SURROUNDING)
def test_url_password_never_survives(secret: str, template: str, prefix: str, suffix: str) -> None:
    assert not _survives(secret, template, "", prefix, suffix)


@given(
    st.text(string.ascii_letters + string.digits, min_size=1, max_size=12),
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20),
    st.sampled_from(["Authorization: Basic {v}", "sent basic {v} upstream", "Basic {v}"]),
    SURROUNDING,
)
def test_basic_credentials_never_survive(user: str, password: str, template: str,
                                         prefix: str) -> None:
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
    assert credentials not in scrub_text(f"{prefix} {template.format(v=credentials)}")


@given(
    st.text(string.digits, min_size=13, max_size=19),
    st.sampled_from(["", " ", "-"]),
    st.sampled_from(["card {v} declined", "{v}", "cc={v}", "(card: {v})", "pan {v}."]),
)
def test_card_numbers_never_survive(digits: str, separator: str, template: str) -> None:
    grouped = separator.join(digits[i:i + 4] for i in range(0, len(digits), 4))
    scrubbed = scrub_text(template.format(v=grouped))
    assert grouped not in scrubbed
    assert digits[:13] not in scrubbed.replace(" ", "").replace("-", "")


# text made of the pieces the scrubber reacts to, so that its rules meet each other
FRAGMENTS = st.sampled_from([
    "password", "token", "api-key", "Authorization", "Bearer", "basic", "Basic dXNlcjpwYXNz",
    "=", ":", ": ", " ", "\n", '"', "'", "\\", '\\"', "&", ";", ",", "@", "/", "://", "?", "#",
    "[", "]", R, "4111", "1111 ", "-", "_", ".", "x", "ab", "https", "u:p@h", "{", "}", "(",
])
NASTY = st.lists(FRAGMENTS | st.text(max_size=4), max_size=30).map("".join)


@settings(max_examples=500)
@given(NASTY | st.text())
def test_scrubbing_is_idempotent(text: str) -> None:
    once = scrub_text(text)
    assert scrub_text(once) == once


def _benign(word: str) -> bool:
    lowered = word.lower()
    return lowered not in {"bearer", "basic"} and not is_secret_key(lowered)


WORDS = st.from_regex(r"[A-Za-z]{1,10}", fullmatch=True).filter(_benign)
# numbers are fenced in by letters or brackets: adjacent numbers would make a card-like digit run
BENIGN_FRAGMENTS = st.one_of(
    WORDS,
    st.integers(0, 10**12 - 1).map(lambda n: f"({n} ms)"),
    st.tuples(WORDS, st.sampled_from(["=", ": ", ":"]), WORDS | st.integers(0, 99999).map(str))
    .map("".join),
    st.tuples(WORDS, WORDS).map(lambda t: f"https://{t[0]}.example.org/{t[1]}?page=2&q=x"),
    st.sampled_from(["(", ")", "'quoted'", '"dq"', "-", "!", "?", "[2024-01-15]"]),
)


@given(st.lists(BENIGN_FRAGMENTS, max_size=25), st.sampled_from([" ", ", ", ". ", "\n", "; "]))
def test_text_without_secrets_is_unchanged(fragments: list[str], separator: str) -> None:
    text = separator.join(fragments)
    assert scrub_text(text) == text


@given(st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=8))
def test_scrub_context_keys_and_secret_values(context: dict[str, str]) -> None:
    scrubbed = scrub_context(context)
    assert scrubbed.keys() == context.keys()
    for key, value in scrubbed.items():
        if is_secret_key(key):
            assert value == R
        else:
            assert value == scrub_text(context[key])


def test_secret_key_words_are_normalised() -> None:
    # is_secret_key lower-cases and drops "-" and "_", so the words must be in that form
    assert all(w == w.lower() and "-" not in w and "_" not in w for w in SECRET_KEY_WORDS)
