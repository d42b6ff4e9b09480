"""`GET /`: the dashboard, static files shipped in the package (no CDN: the machines rescp runs
on may have no internet). The page reads the Connect JSON routes and follows /api/events."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from starlette.responses import FileResponse
from starlette.staticfiles import StaticFiles

STATIC = files("rescp.http") / "static"


def mount(app: FastAPI) -> None:
    index = str(STATIC / "index.html")

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
