"""Builders shared by event tests."""

from __future__ import annotations

from rescp.engine.errorlog import ErrorRecord
from rescp.enums import ErrorCategory, Severity


def record(severity: Severity, error_id: str = "e1") -> ErrorRecord:
    return ErrorRecord(
        error_id=error_id, operation="op", error_type="E", message="m",
        category=ErrorCategory.UNKNOWN, severity=severity, user_message="u", time=0.0,
        acknowledged=False, user_id="", action_type="retry", action_message="retry",
        fingerprint="0" * 16, context={}, service="", breaker="")
