"""`guard(...)`: the hot path as a context manager and as a decorator.

Entering asks rescp (one Allow) and raises the refusal, if any, before the block runs; leaving
hands the outcome and the measured duration to the background and returns at once. In local
mode a breaker the client follows admits on entry and takes the outcome into the local queue
on leaving, with no more than a lookup and an append: the hot path of the hot path. An exception
from the block is recorded as a failure with the error attached, then propagates unchanged.
A guard object serves one block at a time; as a decorator it makes a fresh one per call, so a
decorated function may run concurrently.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from types import TracebackType
from typing import ParamSpec, TypeVar

from rescp_client._proto import enums_pb2 as enums
from rescp_client._spec import GuardSpec
from rescp_client.errors import RescpError
from rescp_client.models import Admission

from ._hotpath import HotPath

P = ParamSpec("P")
SUCCEEDED = (enums.OUTCOME_SUCCESS, None)
_clock = time.perf_counter
T = TypeVar("T")


class AsyncGuard:
    """Allow before the block, Record after it."""

    __slots__ = ("_admission", "_hot", "_spec", "_started")

    def __init__(self, hot: HotPath, spec: GuardSpec) -> None:
        self._hot = hot
        self._spec = spec
        self._admission: Admission | None = None
        self._started = 0.0

    async def __aenter__(self) -> Admission:
        if self._admission is not None:
            raise RescpError("this guard is already guarding a block; make one per block")
        spec = self._spec
        followed = None if spec.limit else self._hot.followed.get(spec.breaker)
        admission = None if followed is None else followed.admission
        if admission is None:  # not admitted locally: the hot path decides, or refuses
            admission = await self._hot.admit(spec)
        self._admission = admission
        self._started = _clock()
        return admission

    async def __aexit__(
            self, kind: type[BaseException] | None, error: BaseException | None,
            traceback: TracebackType | None) -> None:
        admission, self._admission = self._admission, None
        if admission is None:
            return
        took = _clock() - self._started
        hot, spec = self._hot, self._spec
        local = hot.local
        if local is not None and spec.breaker and admission.checked:  # into the local queue
            outcome, report = SUCCEEDED if error is None else spec.outcome(error, hot.service)
            if local.state.add(spec.breaker, outcome, took, admission.permit, report):
                local.due()
        else:
            hot.finish(spec, admission, took, error)

    def __call__(self, fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        """Guard every call of `fn`; the report's operation defaults to its name."""
        spec = self._spec if self._spec.operation else replace(self._spec,
                                                               operation=fn.__name__)

        @functools.wraps(fn)
        async def guarded(*args: P.args, **kwargs: P.kwargs) -> T:
            async with AsyncGuard(self._hot, spec):
                return await fn(*args, **kwargs)

        return guarded
