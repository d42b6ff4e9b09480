"""Error classification: category, severity, guidance, secret scrubbing and fingerprints.

Category. Types and messages are split into lower-case word tokens (CamelCase, acronyms, dots,
underscores: "HTTPError" -> http error, "sqlite3.OperationalError" -> sqlite3 operational error),
so keywords match whole words and "os" never fires on "host". The strongest signal wins:
  1. an explicit gRPC code: UNAVAILABLE (14) and DEADLINE_EXCEEDED (4) -> NETWORK,
     RESOURCE_EXHAUSTED (8) -> RATE_LIMIT, INVALID_ARGUMENT (3) -> VALIDATION; other codes
     (UNKNOWN, INTERNAL ...) say nothing about the cause and fall through;
  2. HTTP 429 -> RATE_LIMIT;
  3. the error type: first a few well-known exception names whose words carry no signal
     (KeyError, PermissionError, IntegrityError ...), then its words;
  4. the message's words;
  5. any other HTTP status >= 400 -> API; else UNKNOWN.
Within 3 and 4 the most specific vocabulary is tried first: RATE_LIMIT (its phrases contain API
words: "API rate limit exceeded"), DATABASE (a driver's timeout is a database problem), NETWORK,
VALIDATION, API, SYSTEM, and PROCESSING last, as its words are the most generic. ValueError is
VALIDATION by Python convention; KeyError, IndexError, TypeError, AttributeError and the
arithmetic errors are PROCESSING: bugs in the code handling a request, not bad input as such.

Scrubbing and fingerprints are described where they are defined, below.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from rescp.enums import ErrorCategory, Severity

_C = ErrorCategory

# --- category ------------------------------------------------------------------------------------

_TOKEN = re.compile(r"[A-Z]+[0-9]*(?![a-z])|[A-Z]?[a-z]+[0-9]*|[0-9]+")
"""One word of an identifier or a message: an acronym, a (Capitalised) word, or a number."""

_GRPC_CODES: Mapping[int, ErrorCategory] = MappingProxyType(
    {14: _C.NETWORK, 4: _C.NETWORK, 8: _C.RATE_LIMIT, 3: _C.VALIDATION}
)

_TYPE_NAMES: Mapping[str, ErrorCategory] = MappingProxyType({
    **dict.fromkeys(
        ("KeyError", "IndexError", "LookupError", "TypeError", "AttributeError", "NameError",
         "UnboundLocalError", "ZeroDivisionError", "ArithmeticError", "OverflowError",
         "AssertionError", "StopIteration"), _C.PROCESSING),
    **dict.fromkeys(
        ("PermissionError", "FileNotFoundError", "FileExistsError", "IsADirectoryError",
         "NotADirectoryError", "ProcessLookupError", "ChildProcessError"), _C.SYSTEM),
    **dict.fromkeys(
        ("UnicodeError", "UnicodeDecodeError", "UnicodeEncodeError", "JSONDecodeError"),
        _C.VALIDATION),
    **dict.fromkeys(
        ("IntegrityError", "OperationalError", "ProgrammingError", "InterfaceError"),
        _C.DATABASE),
})
"""Exception class names (the last dotted part of the type) whose words carry no category."""


@dataclass(frozen=True, slots=True)
class _Vocabulary:
    category: ErrorCategory
    words: frozenset[str]
    phrases: tuple[str, ...]  # padded with spaces: matched against " word word ... "

    @classmethod
    def of(cls, category: ErrorCategory, words: str, phrases: tuple[str, ...] = ()) -> _Vocabulary:
        return cls(category, frozenset(words.split()), tuple(f" {p} " for p in phrases))


_VOCABULARIES = (
    _Vocabulary.of(
        _C.RATE_LIMIT,
        "ratelimit ratelimited ratelimiter ratelimiting throttle throttled throttling",
        ("rate limit", "rate limited", "rate limiting", "rate limiter", "rate exceeded",
         "too many requests", "resource exhausted", "quota exceeded", "quota exhausted",
         "http 429", "status 429", "code 429")),
    _Vocabulary.of(
        _C.DATABASE, "database databases db sql sqlite sqlite3 psycopg psycopg2 sqlalchemy "
        "postgres postgresql mysql mariadb pymysql mongo mongodb pymongo redis deadlock",
        ("unique constraint", "foreign key", "duplicate key", "no such table", "no such column",
         "lock wait")),
    _Vocabulary.of(
        _C.NETWORK, "connection connections connect connecting connectivity timeout timeouts "
        "socket sockets unavailable network unreachable dns gaierror ssl tls handshake "
        "econnrefused econnreset etimedout",
        ("timed out", "deadline exceeded", "broken pipe", "name resolution", "reset by peer",
         "no route to host", "remote disconnected", "remote end closed")),
    _Vocabulary.of(
        _C.VALIDATION, "validation validate validating validator valid invalid value values "
        "malformed unprocessable parse parsing"),
    _Vocabulary.of(
        _C.API, "http https api apis request requests httpx aiohttp urllib urllib3 endpoint "
        "grpc rpc webhook graphql",
        ("bad gateway", "status code")),
    _Vocabulary.of(
        _C.SYSTEM, "system memory os io oom disk filesystem kernel segfault errno",
        ("out of memory", "no space left", "too many open files", "segmentation fault",
         "file not found", "no such file")),
    _Vocabulary.of(
        _C.PROCESSING, "processing process processor runtime recursion assertion",
        ("not implemented",)),
)


def _match_words(text: str) -> ErrorCategory | None:
    """The first category whose vocabulary has one of the words or phrases of `text`."""
    tokens = [t.lower() for t in _TOKEN.findall(text)]
    if not tokens:
        return None
    words = set(tokens)
    joined = f" {' '.join(tokens)} "
    for vocabulary in _VOCABULARIES:
        if not vocabulary.words.isdisjoint(words) or any(p in joined for p in vocabulary.phrases):
            return vocabulary.category
    return None


def classify(
    error_type: str, message: str, grpc_code: int = 0, http_status: int = 0
) -> ErrorCategory:
    """The category of an error; the precedence is in the module docstring."""
    category = _GRPC_CODES.get(grpc_code)
    if category is None and http_status == 429:
        category = _C.RATE_LIMIT
    if category is None:
        category = _TYPE_NAMES.get(error_type.strip().rsplit(".", 1)[-1])
    if category is None:
        category = _match_words(error_type) or _match_words(message)
    if category is None and http_status >= 400:
        category = _C.API
    return category or _C.UNKNOWN


# --- severity and guidance -----------------------------------------------------------------------

SEVERITY: Mapping[ErrorCategory, Severity] = MappingProxyType({
    _C.SYSTEM: Severity.CRITICAL,
    _C.NETWORK: Severity.HIGH,
    _C.DATABASE: Severity.HIGH,
    _C.API: Severity.MEDIUM,
    _C.RATE_LIMIT: Severity.MEDIUM,
    _C.VALIDATION: Severity.LOW,
    _C.PROCESSING: Severity.LOW,
    _C.UNKNOWN: Severity.MEDIUM,
})


@dataclass(frozen=True, slots=True)
class Guidance:
    """What to tell an end user about an error, and what they (or their client) can do."""

    user_message: str  # fit to show an end user; no internals
    action_type: str  # "retry", "retry_later", "wait", "fix_input" or "contact_support"
    action_message: str


GUIDANCE: Mapping[ErrorCategory, Guidance] = MappingProxyType({
    _C.NETWORK: Guidance(
        "We couldn't reach a service we depend on. Please try again in a moment.",
        "retry", "Check your connection and retry"),
    _C.DATABASE: Guidance(
        "We're having trouble reaching our data right now. Please try again shortly.",
        "retry_later", "Try again in a few minutes"),
    _C.API: Guidance(
        "A service we rely on did not respond as expected. Please try again.",
        "retry", "Retry the request; contact support if it keeps failing"),
    _C.RATE_LIMIT: Guidance(
        "There are too many requests right now. Please wait a moment before trying again.",
        "wait", "Wait a little before retrying"),
    _C.VALIDATION: Guidance(
        "Some of the information provided isn't valid. Please check it and try again.",
        "fix_input", "Correct the input and submit it again"),
    _C.PROCESSING: Guidance(
        "We couldn't complete your request. Please try again.",
        "retry", "Retry the operation"),
    _C.SYSTEM: Guidance(
        "Something went wrong on our side, and we're looking into it.",
        "contact_support", "Contact support if the problem persists"),
    _C.UNKNOWN: Guidance(
        "Something unexpected went wrong. Please try again.",
        "retry", "Retry; contact support if it keeps happening"),
})


# --- scrubbing -----------------------------------------------------------------------------------
# A secret's value becomes [REDACTED] and its key stays, so the text stays readable. A key names a
# secret when, case-folded and without "-" and "_", it contains one of SECRET_KEY_WORDS: one rule
# for context keys and for `key=value`, `key: value`, `"key": "value"` in text. There a value ends
# at whitespace or one of & , ; " ' < > ( ) { } \ unless quoted, so query strings, headers, JSON,
# Python reprs and connection strings all work; a secret containing those characters may partly
# survive. After a key naming no secret the scan goes on inside its value ("error: token=x").
# Any run of 13 or more digits, optionally split by single spaces or dashes, counts as a card
# number with no Luhn check: a mistyped card number is still sensitive, and scrubbing more is
# safer. That costs long numeric ids and epoch-millisecond timestamps in messages (fingerprints
# ignore numbers anyway); digits glued to letters ("a716...") belong to an identifier and stay.
# "Bearer x" is scrubbed anywhere, "Basic x" when x decodes to "user:password", and the password of
# `scheme://user:password@host`. No rule changes [REDACTED], and the rules run to a fixed point,
# so scrubbing is idempotent. Every pattern is linear: no nested quantifiers, keys matched only as
# whole identifiers, values only right after a secret key; and the input is bounded.

REDACTED = "[REDACTED]"

SECRET_KEY_WORDS = (
    "password", "passwd", "passphrase", "pwd", "secret", "token", "apikey", "authorization",
    "cookie", "credential", "privatekey", "sessionid", "signature", "jwt",
)

_KEY = re.compile(r"""(?<![\w.-])(?P<key>[\w.-]+)(?P<sep>\\?["']?\s*[:=]\s*)""")
"""A whole identifier and its separator: key= / key: / "key": / \"key\": (escaped JSON)."""
_VALUE = re.compile(
    r"""(?P<eq>\\")(?P<ev>(?:[^\\\n]|\\(?!"))*)(?P<eqc>\\")?        # \"value\" (escaped JSON)
      | (?P<q>["'])(?P<qv>(?:(?!(?P=q))[^\\\n]|\\.)*)(?P<qc>(?P=q))?  # "value" or 'value'
      | (?P<scheme>(?:bearer|basic|digest|token)\s+)?[^\s&,;"'<>(){}\\]+  # value, Bearer value
    """,
    re.IGNORECASE | re.VERBOSE,
)
_URL_PASSWORD = re.compile(
    r"(?P<head>(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:]*:)[^\s/?#]+@"
)
_BEARER = re.compile(r"(?<![\w-])(?P<head>bearer\s+)[A-Za-z0-9\-._~+/=\[\]]+", re.IGNORECASE)
_BASIC = re.compile(
    r"(?<![\w-])(?P<head>basic\s+)(?P<cred>[A-Za-z0-9+/]{4,}={0,2})(?![A-Za-z0-9+/=])",
    re.IGNORECASE,
)
_CARD = re.compile(r"(?<![A-Za-z0-9])(?=(?:\d[ -]?){13})\d+(?:[ -]\d+)*")
"""A whole run of digits split by single spaces or dashes, holding at least 13 digits."""
_SECRET_WORD = re.compile("|".join(SECRET_KEY_WORDS))
_MAX_PASSES = 16


def _redacted_value(value: re.Match[str]) -> str:
    if value["eq"] is not None:
        return f'\\"{REDACTED}{value["eqc"] or ""}'
    if value["q"] is not None:
        return f"{value['q']}{REDACTED if value['qv'] else ''}{value['qc'] or ''}"
    return f"{value['scheme'] or ''}{REDACTED}"


def _redact_key_values(text: str) -> str:
    """Redact the values of secret-named keys; other keys' values are searched on for keys.

    Values are matched only after a secret key, and then consumed, so this stays linear.
    """
    parts: list[str] = []
    position = 0
    while (key := _KEY.search(text, position)) is not None:
        parts.append(text[position:key.end()])
        position = key.end()
        if is_secret_key(key["key"]) and (value := _VALUE.match(text, position)) is not None:
            parts.append(_redacted_value(value))
            position = value.end()
    parts.append(text[position:])
    return "".join(parts)


def _redact_basic(match: re.Match[str]) -> str:
    """Redact HTTP Basic credentials, which are base64 of "user:password"; keep English."""
    cred = match["cred"]
    try:
        decoded = base64.b64decode(cred + "=" * (-len(cred) % 4), validate=True)
    except (binascii.Error, ValueError):
        return match[0]
    return match["head"] + REDACTED if b":" in decoded else match[0]


def _scrub_once(text: str) -> str:
    text = _CARD.sub(REDACTED, text)
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}{REDACTED}@", text)
    text = _redact_key_values(text)
    text = _BEARER.sub(lambda m: m["head"] + REDACTED, text)
    return _BASIC.sub(_redact_basic, text)


def scrub_text(text: str) -> str:
    """`text` with secret values, URL passwords, bearer/basic credentials and cards redacted.

    The rules run until nothing changes: on contrived text one rule's output can form a match
    for another (a URL's `key:[REDACTED]@host`), and a second pass makes scrubbing idempotent.
    Text without secrets takes one pass. Each change replaces something other than [REDACTED]
    by [REDACTED], so it settles; the cap only bounds the work on hostile input.
    """
    for _ in range(_MAX_PASSES):
        scrubbed = _scrub_once(text)
        if scrubbed == text:
            break
        text = scrubbed
    return text


def is_secret_key(key: str) -> bool:
    """Whether `key` names a secret: one rule for context keys and for keys in text."""
    normalised = key.casefold().replace("-", "").replace("_", "")
    return _SECRET_WORD.search(normalised) is not None


def scrub_context(context: Mapping[str, str]) -> dict[str, str]:
    """A copy of `context` with secret-named values redacted and every other value scrubbed."""
    return {k: REDACTED if is_secret_key(k) else scrub_text(v) for k, v in context.items()}


# --- fingerprint ---------------------------------------------------------------------------------
# Occurrences of one error differ in ids and numbers, so those become placeholders before hashing:
# UUIDs, quoted tokens containing a digit ('ord_8f3k2'), and any word containing a digit (numbers,
# decimals, "30s", hex ids). Long hex ids without a digit ("deadbeef") are rare and kept as words.

_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_QUOTED_ID = re.compile(r"""(["'])(?=[^\s"']*\d)[^\s"']+\1""")
_NUMBERISH = re.compile(r"(?<![A-Za-z0-9])(?=[A-Za-z]*\d)[A-Za-z0-9]+(?:[.,]\d+)*")


def normalise_message(message: str) -> str:
    """`message` with ids and numbers replaced by placeholders and whitespace collapsed."""
    message = _UUID.sub("<uuid>", message)
    message = _QUOTED_ID.sub(r"\1<id>\1", message)
    return " ".join(_NUMBERISH.sub("<n>", message).split())


def fingerprint(error_type: str, operation: str, message: str) -> str:
    """16 hex chars grouping occurrences of one error: same type, operation and message shape."""
    key = f"{error_type}\x1f{operation}\x1f{normalise_message(message)}"
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
