"""The ASGI app behind ``dreamgym serve``: the Dream Engine wire protocol on a local engine.

Endpoints (see docs/serving.md):

* ``GET /healthz``, ``/v1/status``, ``/v1/specs``, ``/v1/models``, ``/v1/models/{slug}``
* ``POST /v1/predict`` (one rollout: mp4, or ``.npy`` with ``Accept: application/x-npy``)
* ``POST /v1/predict/batch`` (K rollouts from one frame: a tar of mp4s, or one ``.npy``)
* ``POST /v1/rollouts`` (the SDK's JSON envelope; ``mode=async`` then ``GET /v1/rollouts/{id}``),
  ``GET /v1/rollouts/{id}/video`` (signed link, what ``video_url`` points at)
* ``POST /v1/sessions``, ``GET``/``DELETE /v1/sessions/{id}``, ``WS /v1/sessions/{id}/stream``
* ``GET /v1/engine``, ``/v1/engine/example_frames``, ``POST /v1/engine/start``,
  ``POST /v1/engine/step``, ``POST /v1/engine/release`` (what :class:`RemoteEngine` uses)
* ``GET /metrics`` (Prometheus text); ``/v1/billing/*`` answers 501 (nothing is charged)

Every request goes through the :class:`~engine.batching.Scheduler`, so concurrent
requests share engine steps. Inputs are checked with the engine's own validators before any
work; a bad request gets a 4xx JSON error and the server keeps serving.
"""

from __future__ import annotations

import asyncio

from fastapi import FastAPI, Request

from ..engine import Engine
from . import routes_engine, routes_info, routes_predict, routes_sessions
from .codec import WireError
from .config import ServerConfig
from .guard import Guard, error_response
from .service import Service


def create_app(engine: Engine, config: ServerConfig | None = None, *, model_label: str | None = None) -> FastAPI:
    """The FastAPI app serving ``engine`` (its scheduler starts with the app's lifespan)."""
    from contextlib import asynccontextmanager

    config = config or ServerConfig()
    svc = Service(engine, config, model_label or engine.spec.name)

    @asynccontextmanager
    async def lifespan(app):
        svc.open()
        try:
            yield
        finally:
            await asyncio.to_thread(svc.close)

    app = FastAPI(title="dreamgym serve", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = svc

    @app.exception_handler(WireError)
    async def wire_error(request: Request, exc: WireError):
        return error_response(exc, request, svc.metrics)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception):
        err = WireError(500, "internal_error", f"the server failed on this request: {type(exc).__name__}: {exc}")
        return error_response(err, request, svc.metrics)

    @app.exception_handler(404)
    async def not_found(request: Request, exc):
        err = WireError(404, "not_found", f"no endpoint {request.method} {request.url.path} on this server")
        return error_response(err, request, svc.metrics)

    @app.exception_handler(405)
    async def bad_method(request: Request, exc):
        err = WireError(405, "method_not_allowed", f"{request.method} is not allowed on {request.url.path}")
        return error_response(err, request, svc.metrics)

    for module in (routes_info, routes_predict, routes_sessions, routes_engine):
        module.add_routes(app, svc)
    app.add_middleware(Guard, config=config, metrics=svc.metrics)
    return app
