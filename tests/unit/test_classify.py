"""Classification, severity, guidance and fingerprints of reported errors."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rescp.engine.classify import GUIDANCE, SEVERITY, Guidance, classify, fingerprint
from rescp.enums import ErrorCategory, Severity

NETWORK = ErrorCategory.NETWORK
DATABASE = ErrorCategory.DATABASE
API = ErrorCategory.API
RATE_LIMIT = ErrorCategory.RATE_LIMIT
VALIDATION = ErrorCategory.VALIDATION
PROCESSING = ErrorCategory.PROCESSING
SYSTEM = ErrorCategory.SYSTEM
UNKNOWN = ErrorCategory.UNKNOWN

# (error_type, message, grpc_code, http_status, expected)
CASES = [
    # Python and library exception names alone
    ("ConnectionError", "", 0, 0, NETWORK),
    ("ConnectionRefusedError", "[Errno 111] Connection refused", 0, 0, NETWORK),
    ("ConnectionResetError", "", 0, 0, NETWORK),
    ("TimeoutError", "", 0, 0, NETWORK),
    ("socket.timeout", "timed out", 0, 0, NETWORK),
    ("socket.gaierror", "[Errno -2] Name or service not known", 0, 0, NETWORK),
    ("asyncio.TimeoutError", "", 0, 0, NETWORK),
    ("BrokenPipeError", "", 0, 0, NETWORK),
    ("ssl.SSLError", "handshake failure", 0, 0, NETWORK),
    ("requests.exceptions.ConnectionError", "Max retries exceeded", 0, 0, NETWORK),
    ("requests.exceptions.ReadTimeout", "", 0, 0, NETWORK),
    ("httpx.ConnectTimeout", "", 0, 0, NETWORK),
    ("http.client.RemoteDisconnected", "", 0, 0, NETWORK),
    ("UNAVAILABLE", "", 0, 0, NETWORK),
    ("DEADLINE_EXCEEDED", "", 0, 0, NETWORK),
    ("sqlite3.OperationalError", "database is locked", 0, 0, DATABASE),
    ("sqlite3.IntegrityError", "UNIQUE constraint failed: users.email", 0, 0, DATABASE),
    ("psycopg2.errors.UniqueViolation", "", 0, 0, DATABASE),
    ("psycopg.OperationalError", "could not connect to server", 0, 0, DATABASE),
    ("sqlalchemy.exc.TimeoutError", "QueuePool limit reached, connection timed out", 0, 0,
     DATABASE),
    ("redis.exceptions.ConnectionError", "Error 111 connecting", 0, 0, DATABASE),
    ("pymongo.errors.ServerSelectionTimeoutError", "", 0, 0, DATABASE),
    ("DatabaseError", "", 0, 0, DATABASE),
    ("IntegrityError", "duplicate key value", 0, 0, DATABASE),
    ("HTTPError", "", 0, 0, API),
    ("requests.exceptions.HTTPError", "500 Server Error", 0, 0, API),
    ("urllib.error.HTTPError", "HTTP Error 404: Not Found", 0, 0, API),
    ("httpx.HTTPStatusError", "", 0, 0, API),
    ("ApiError", "", 0, 0, API),
    ("grpc.RpcError", "", 0, 0, API),
    ("RateLimitError", "", 0, 0, RATE_LIMIT),
    ("openai.RateLimitError", "", 0, 0, RATE_LIMIT),
    ("RateLimitExceeded", "", 0, 0, RATE_LIMIT),
    ("ThrottlingException", "", 0, 0, RATE_LIMIT),
    ("TooManyRequests", "", 0, 0, RATE_LIMIT),
    ("RESOURCE_EXHAUSTED", "", 0, 0, RATE_LIMIT),
    ("ValueError", "invalid literal for int() with base 10: 'x'", 0, 0, VALIDATION),
    ("ValidationError", "1 validation error for Order", 0, 0, VALIDATION),
    ("pydantic_core.ValidationError", "", 0, 0, VALIDATION),
    ("json.JSONDecodeError", "Expecting value: line 1 column 1", 0, 0, VALIDATION),
    ("UnicodeDecodeError", "", 0, 0, VALIDATION),
    ("INVALID_ARGUMENT", "", 0, 0, VALIDATION),
    ("RuntimeError", "", 0, 0, PROCESSING),
    ("ProcessingError", "", 0, 0, PROCESSING),
    ("NotImplementedError", "", 0, 0, PROCESSING),
    ("RecursionError", "maximum recursion depth exceeded", 0, 0, PROCESSING),
    ("KeyError", "'customer_id'", 0, 0, PROCESSING),
    ("IndexError", "list index out of range", 0, 0, PROCESSING),
    ("TypeError", "unsupported operand type(s)", 0, 0, PROCESSING),
    ("AttributeError", "'NoneType' object has no attribute 'id'", 0, 0, PROCESSING),
    ("ZeroDivisionError", "division by zero", 0, 0, PROCESSING),
    ("AssertionError", "", 0, 0, PROCESSING),
    ("OSError", "[Errno 28] No space left on device", 0, 0, SYSTEM),
    ("IOError", "", 0, 0, SYSTEM),
    ("MemoryError", "", 0, 0, SYSTEM),
    ("SystemError", "", 0, 0, SYSTEM),
    ("PermissionError", "[Errno 13] Permission denied: '/var/run'", 0, 0, SYSTEM),
    ("FileNotFoundError", "", 0, 0, SYSTEM),
    ("Exception", "", 0, 0, UNKNOWN),
    ("", "", 0, 0, UNKNOWN),
    ("CustomError", "something odd happened", 0, 0, UNKNOWN),
    # words, not substrings: "os" is not in host, post, cost or osmosis
    ("", "unknown host example.org", 0, 0, UNKNOWN),
    ("PostError", "cost of the post too high", 0, 0, UNKNOWN),
    ("", "osmosis", 0, 0, UNKNOWN),
    ("", "apiary is full", 0, 0, UNKNOWN),
    ("", "the memory of it", 0, 0, SYSTEM),
    # the message decides when the type says nothing
    ("Exception", "Connection refused by upstream", 0, 0, NETWORK),
    ("Exception", "request timed out after 30s", 0, 0, NETWORK),
    ("Exception", "Read timeout on socket", 0, 0, NETWORK),
    ("Exception", "Temporary failure in name resolution", 0, 0, NETWORK),
    ("Exception", "Connection reset by peer", 0, 0, NETWORK),
    ("Exception", "503 Service Unavailable", 0, 0, NETWORK),
    ("Exception", "API rate limit exceeded", 0, 0, RATE_LIMIT),
    ("Exception", "429 Too Many Requests", 0, 0, RATE_LIMIT),
    ("Exception", "upstream returned HTTP 429", 0, 0, RATE_LIMIT),
    ("Exception", "ratelimit hit for key abc", 0, 0, RATE_LIMIT),
    ("Exception", "Requests are being throttled", 0, 0, RATE_LIMIT),
    ("Exception", "quota exceeded for project", 0, 0, RATE_LIMIT),
    ("Exception", "SQL syntax error near 'FROM'", 0, 0, DATABASE),
    ("Exception", "deadlock detected", 0, 0, DATABASE),
    ("Exception", "no such table: orders", 0, 0, DATABASE),
    ("Exception", "database timeout while saving", 0, 0, DATABASE),
    ("Exception", "invalid email address", 0, 0, VALIDATION),
    ("Exception", "value must be positive", 0, 0, VALIDATION),
    ("Exception", "malformed payload", 0, 0, VALIDATION),
    ("Exception", "HTTP request failed with status code 500", 0, 0, API),
    ("Exception", "api call failed", 0, 0, API),
    ("Exception", "Out of memory", 0, 0, SYSTEM),
    ("Exception", "OS error while forking", 0, 0, SYSTEM),
    ("Exception", "disk quota nearly full", 0, 0, SYSTEM),
    ("Exception", "error processing order 42", 0, 0, PROCESSING),
    ("Exception", "runtime failure in worker", 0, 0, PROCESSING),
    # the type beats the message
    ("ValueError", "connection string is missing a host", 0, 0, VALIDATION),
    ("OSError", "[Errno 111] Connection refused", 0, 0, SYSTEM),
    ("TimeoutError", "invalid response", 0, 0, NETWORK),
    ("KeyError", "'timeout'", 0, 0, PROCESSING),
    # explicit gRPC codes beat everything; other codes fall through
    ("ValueError", "invalid", 14, 0, NETWORK),
    ("Exception", "", 4, 0, NETWORK),
    ("ConnectionError", "", 8, 0, RATE_LIMIT),
    ("ConnectionError", "", 3, 0, VALIDATION),
    ("", "", 3, 429, VALIDATION),
    ("", "", 14, 429, NETWORK),
    ("ValueError", "", 2, 0, VALIDATION),  # UNKNOWN
    ("", "", 13, 0, UNKNOWN),  # INTERNAL
    ("", "", 13, 500, API),
    ("", "database is locked", 13, 0, DATABASE),
    # HTTP: 429 before the type, other errors only when nothing else says anything
    ("ConnectionError", "", 0, 429, RATE_LIMIT),
    ("", "", 0, 429, RATE_LIMIT),
    ("", "", 0, 500, API),
    ("", "", 0, 404, API),
    ("", "", 0, 400, API),
    ("", "", 0, 399, UNKNOWN),
    ("", "", 0, 200, UNKNOWN),
    ("ValueError", "", 0, 400, VALIDATION),
    ("Exception", "connection reset", 0, 502, NETWORK),
    ("Exception", "something odd", 0, 503, API),
]


@pytest.mark.parametrize(
    ("error_type", "message", "grpc_code", "http_status", "expected"),
    CASES,
    ids=[f"{t or '-'}|{m[:24] or '-'}|{g}|{h}" for t, m, g, h, _ in CASES],
)
def test_classify(
    error_type: str, message: str, grpc_code: int, http_status: int, expected: ErrorCategory
) -> None:
    assert classify(error_type, message, grpc_code, http_status) is expected


@given(st.text(max_size=200), st.text(max_size=200), st.integers(-5, 20), st.integers(-1, 700))
def test_classify_is_total(error_type: str, message: str, grpc_code: int, http_status: int) -> None:
    assert isinstance(classify(error_type, message, grpc_code, http_status), ErrorCategory)


def test_severity_by_category() -> None:
    assert dict(SEVERITY) == {
        SYSTEM: Severity.CRITICAL,
        NETWORK: Severity.HIGH,
        DATABASE: Severity.HIGH,
        API: Severity.MEDIUM,
        RATE_LIMIT: Severity.MEDIUM,
        VALIDATION: Severity.LOW,
        PROCESSING: Severity.LOW,
        UNKNOWN: Severity.MEDIUM,
    }


ACTION_TYPES = {"retry", "retry_later", "wait", "fix_input", "contact_support"}


@pytest.mark.parametrize("category", list(ErrorCategory))
def test_guidance_for_every_category(category: ErrorCategory) -> None:
    guidance = GUIDANCE[category]
    assert isinstance(guidance, Guidance)
    assert guidance.action_type in ACTION_TYPES
    assert guidance.user_message and guidance.action_message
    # fit for an end user: no category names, codes or exception jargon
    assert not re.search(r"\b[A-Z][A-Z_]+\b", guidance.user_message), guidance.user_message
    assert not re.search(r"error|exception|\d", guidance.user_message, re.IGNORECASE)


def test_guidance_actions_fit_their_category() -> None:
    assert GUIDANCE[NETWORK].action_type == "retry"
    assert GUIDANCE[RATE_LIMIT].action_type == "wait"
    assert GUIDANCE[VALIDATION].action_type == "fix_input"
    assert GUIDANCE[SYSTEM].action_type == "contact_support"


def test_mappings_are_read_only() -> None:
    with pytest.raises(TypeError):
        SEVERITY[UNKNOWN] = Severity.LOW  # type: ignore[index]


# --- fingerprint ---------------------------------------------------------------------------------


def test_fingerprint_is_16_hex_chars() -> None:
    assert re.fullmatch(r"[0-9a-f]{16}", fingerprint("TimeoutError", "charge", "timeout"))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("timeout after 30s for order 12345", "timeout after 45s for order 99"),
        ("took 1.5 seconds", "took 12.25 seconds"),
        ("user 550e8400-e29b-41d4-a716-446655440000 not found",
         "user 6ba7b810-9dad-11d1-80b4-00c04fd430c8 not found"),
        ("commit 3f2a9c1d8e7b6a50 rejected", "commit 0a1b2c3d4e5f6789 rejected"),
        ("order 'ord_8f3k2' missing", "order 'ord_1a2b3' missing"),
        ('order "A-17" missing', 'order "B-902" missing'),
        ("retry  3 of\t5\n", "retry 4 of 5"),
        ("at 10:30:01", "at 23:59:59"),
    ],
)
def test_fingerprint_groups_occurrences(a: str, b: str) -> None:
    assert fingerprint("TimeoutError", "charge", a) == fingerprint("TimeoutError", "charge", b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("TimeoutError", "charge", "timeout"), ("ConnectionError", "charge", "timeout")),
        (("TimeoutError", "charge", "timeout"), ("TimeoutError", "refund", "timeout")),
        (("KeyError", "charge", "'customer_id'"), ("KeyError", "charge", "'email'")),
        (("E", "op", "connection refused"), ("E", "op", "connection reset")),
        (("E", "op", "token deadbeef"), ("E", "op", "token facade")),  # no digit: a word
        # the separator keeps fields apart: ("ab", "c") is not ("a", "bc")
        (("ab", "c", "m"), ("a", "bc", "m")),
    ],
)
def test_fingerprint_separates_different_errors(
    a: tuple[str, str, str], b: tuple[str, str, str]
) -> None:
    assert fingerprint(*a) != fingerprint(*b)


@given(st.text(max_size=100), st.text(max_size=100), st.text(max_size=300))
def test_fingerprint_is_total_and_stable(error_type: str, operation: str, message: str) -> None:
    first = fingerprint(error_type, operation, message)
    assert re.fullmatch(r"[0-9a-f]{16}", first)
    assert fingerprint(error_type, operation, message) == first


@given(st.lists(st.integers(0, 10**12), min_size=3, max_size=3),
       st.lists(st.integers(0, 10**12), min_size=3, max_size=3))
def test_fingerprint_ignores_numbers(a: list[int], b: list[int]) -> None:
    template = "charge {} failed after {} ms (attempt {})"
    assert fingerprint("E", "op", template.format(*a)) == fingerprint(
        "E", "op", template.format(*b))
