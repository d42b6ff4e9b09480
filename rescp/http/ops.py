"""`GET /metrics` (Prometheus text format) and `GET /healthz` (for HTTP probes).

/healthz asks the gRPC health service itself for "" (the whole server), so both probes agree:
it goes 503 the moment shutdown sets every status NOT_SERVING, while the grace period lets
in-flight calls finish.
"""

from __future__ import annotations

from fastapi import APIRouter
from grpc_health.v1 import health_pb2
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import JSONResponse, Response

from rescp.http.rpcs import Rpcs
from rescp.metrics import Metrics

HEALTH_CHECK = "grpc.health.v1.Health/Check"


def router(rpcs: Rpcs, metrics: Metrics) -> APIRouter:
    api = APIRouter(tags=["operations"])

    @api.get("/metrics", response_class=Response,
             responses={200: {"content": {"text/plain": {}}}})
    async def prometheus() -> Response:
        """Counters, gRPC server metrics and gauges of state, for Prometheus."""
        return Response(await metrics.scrape(), media_type=CONTENT_TYPE_LATEST)

    @api.get("/healthz", response_class=JSONResponse,
             responses={503: {"description": "shutting down"}})
    async def healthz() -> JSONResponse:
        """200 while the gRPC health of "" is SERVING, else 503."""
        response = await rpcs.call(HEALTH_CHECK, health_pb2.HealthCheckRequest(service=""))
        name = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
        serving = response.status == health_pb2.HealthCheckResponse.SERVING
        return JSONResponse({"status": name}, status_code=200 if serving else 503)

    # load balancers that probe with HEAD; documented once, as GET
    api.add_api_route("/healthz", healthz, methods=["HEAD"], include_in_schema=False)
    return api
