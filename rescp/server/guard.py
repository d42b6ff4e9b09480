"""GuardService: Allow, Record and Report — the hot path, kept to decode, call, encode."""

from __future__ import annotations

import grpc

from rescp._proto import guard_pb2 as guard
from rescp.engine.errorlog import build_record
from rescp.errors import Violations
from rescp.plane import ControlPlane
from rescp.server import convert
from rescp.server.batch import AllowItems, BatchServicer, Encodings
from rescp.server.convert import wire
from rescp.server.guard_codec import allow_args, encode_allow, encode_record, record_args
from rescp.server.rpc import RawUnary, check_size, service, unary

SERVICE = "rescp.v1.GuardService"


class GuardServicer:
    def __init__(self, plane: ControlPlane) -> None:
        self._plane = plane
        self._items = AllowItems()  # a unary Allow's bytes are a batch item's bytes
        self._allow_bytes = Encodings(lambda answer: encode_allow(answer).SerializeToString())

    def handler(self) -> grpc.GenericRpcHandler:
        return service(SERVICE, {
            "Allow": RawUnary(guard.AllowRequest, guard.AllowResponse, self.allow,
                              self._allow_raw),
            "Record": unary(guard.RecordRequest, guard.RecordResponse, self.record),
            "Report": unary(guard.ReportRequest, guard.ReportResponse, self.report),
            "Classify": unary(guard.ClassifyRequest, guard.ClassifyResponse, self.classify),
            "ReturnTokens": unary(guard.ReturnTokensRequest, guard.ReturnTokensResponse,
                                  self.return_tokens),
            **BatchServicer(self._plane, self._items).methods(),
        })

    async def allow(self, request: guard.AllowRequest) -> guard.AllowResponse:
        return encode_allow(await self._plane.allow(*allow_args(request)))

    async def _allow_raw(self, raw: bytes) -> bytes:
        """`allow` over gRPC: the arguments and the answer's encoding kept by their bytes, as
        a batch keeps its items' (~4 us less than decoding and encoding each time)."""
        check_size(len(raw))
        return self._allow_bytes(await self._plane.allow(*self._items.decode_one(raw)))

    async def record(self, request: guard.RecordRequest) -> guard.RecordResponse:
        breaker, outcome, duration, permit, error, count = record_args(
            request, self._plane.clock.now())
        state, record = await self._plane.record(breaker, outcome, duration, permit, error,
                                                 count=count)
        return encode_record(state, record)

    async def return_tokens(self, request: guard.ReturnTokensRequest,
                            ) -> guard.ReturnTokensResponse:
        """A lease's unused tokens, given back to its key."""
        v = Violations()
        v.name(request.limit, "limit")
        v.raise_if_any()
        _, limit, key, _ = allow_args(guard.AllowRequest(limit=request.limit, key=request.key))
        remaining = await self._plane.give_back(limit, key, request.tokens)
        return guard.ReturnTokensResponse(remaining=remaining)

    async def report(self, request: guard.ReportRequest) -> guard.ReportResponse:
        record = await self._plane.report(
            convert.error_report(request, self._plane.clock.now()))
        return guard.ReportResponse(record=convert.encode_record(record))

    async def classify(self, request: guard.ClassifyRequest) -> guard.ClassifyResponse:
        """What Report would store, built by the same code, and stored nowhere."""
        v = Violations()
        with v.collect("error"):
            report = convert.error_report(request.error, self._plane.clock.now())
        v.raise_if_any()
        record = build_record(report, "", 0.0)
        return guard.ClassifyResponse(
            category=wire(record.category), severity=wire(record.severity),
            user_message=record.user_message,
            action=guard.RecoveryAction(type=record.action_type, message=record.action_message),
            fingerprint=record.fingerprint, message=record.message)

