"""Reports always fit: every text is cut to the bounds the protos declare (read by the client
from its own descriptors, by the server from its own), and the report says what was cut."""

from __future__ import annotations

import logging

import pytest

from rescp_client._limits import REPORT, TRUNCATED_KEY
from rescp_client._report import report_request
from tests.client.conftest import Api


def _fits(context: dict[str, str]) -> None:
    bound = REPORT["context"]
    assert len(context) <= bound.max_entries
    assert all(len(k) <= bound.max_key_chars and len(v) <= bound.max_chars
               for k, v in context.items())
    assert sum(len(k) + len(v) for k, v in context.items()) <= bound.max_total_chars


@pytest.mark.parametrize(("entries", "chars"), [(3, 3_000), (40, 2_000), (200, 10)])
def test_a_large_context_is_cut_to_fit_and_says_so(api: Api, entries: int, chars: int,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    context = {f"k{i}": "v" * chars for i in range(entries)}
    with caplog.at_level(logging.WARNING, logger="rescp_client"):
        record = api.run(api.client.report(RuntimeError("boom"), context=context))
    assert record.error_id
    _fits(record.context)
    assert "context" in record.context[TRUNCATED_KEY]
    kept = {k: v for k, v in record.context.items() if k != TRUNCATED_KEY}
    assert all(context[k].startswith(v) for k, v in kept.items())
    assert "cut to fit" in caplog.text


def test_the_cut_is_fair_to_every_entry_that_fits(api: Api) -> None:
    context = {"huge": "h" * 4_000, "a": "a" * 3_000, "small": "s" * 10, "b": "b" * 3_000}
    record = api.run(api.client.report(RuntimeError("boom"), context=context))
    assert record.context["small"] == "s" * 10  # a short value is never shortened
    assert {len(record.context[k]) for k in ("huge", "a", "b")} == {len(record.context["a"])}


def test_a_worst_case_report_fits_under_the_request_cap(api: Api) -> None:
    wide = "\U0001f600"  # four bytes in UTF-8
    record = api.run(api.client.report(
        RuntimeError(wide * 10_000), operation=wide * 1_000, user_id=wide * 1_000,
        service=wide * 1_000, context={wide * 300 + str(i): wide * 5_000 for i in range(100)}))
    assert record.error_id
    assert record.context[TRUNCATED_KEY].startswith("operation")
    for name in ("operation", "user_id", "service"):
        assert len(getattr(record, name)) == REPORT[name].max_chars


def test_nothing_is_marked_when_nothing_was_cut() -> None:
    request = report_request(ValueError("short"), context={"a": 1})
    assert dict(request.context) == {"a": "1"}
    assert request.idempotency_key and not request.HasField("time")  # rescp stamps it


def test_text_protobuf_cannot_carry_is_replaced_not_refused(api: Api) -> None:
    record = api.run(api.client.report(ValueError("bad \udc80 half"), context={"\ud800": "x"}))
    assert record.message == "bad ? half"
