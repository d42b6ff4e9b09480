"""What several test packages share: the example config's path and a polling assertion."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "rescp.toml"
"""The shipped example config: the seed's breakers, the "api" limit and two features."""


def eventually(check: Callable[[], T], within: float = 5.0, every: float = 0.01) -> T:
    """`check()` once it stops raising AssertionError, polling for up to `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(every)
