"""Status, catalog, metrics and billing endpoints."""

from __future__ import annotations

import time

from fastapi import FastAPI
from fastapi.responses import Response

from .codec import WireError
from .service import Service


def add_routes(app: FastAPI, svc: Service) -> None:
    config, engine = svc.config, svc.engine

    # --- status ----------------------------------------------------------------------------
    @app.get("/healthz")
    async def healthz():
        return {"status": "ok", "model": svc.spec.name}

    @app.get("/v1/status")
    async def status():
        lat = sorted(svc.latencies)

        def pct(q):
            return round(lat[min(len(lat) - 1, int(q * len(lat)))] * 1000, 1) if lat else None

        sch = svc.scheduler
        return {
            "status": "ok",
            "model": svc.spec.name,
            "served_from": svc.label,
            "uptime_s": round(time.time() - svc.started, 1),
            "device": str(engine.device),
            "dtype": str(engine.dtype).replace("torch.", ""),
            "deterministic": engine.deterministic,
            "queue_depth": sch.queue_depth if sch else 0,
            "active_rows": sch.active_rows if sch else 0,
            "open_sessions": len(svc.sessions),
            "engine_steps": sch.steps if sch else 0,
            "requests": len(lat),
            "latency_ms": {"p50": pct(0.5), "p99": pct(0.99)},
            "batching": config.batching,
        }

    @app.get("/v1/specs")
    async def specs():
        return {
            "specs": [
                {"slug": n, "active": n == svc.spec.name, "price_per_frame_usd": config.price_per_frame_usd}
                for n in svc.model_names()
            ],
            "active": svc.spec.name,
            "default_price_usd_per_frame": config.price_per_frame_usd,
        }

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [svc.model_entry(n) for n in svc.model_names()]}

    @app.get("/v1/models/{slug}")
    async def model(slug: str):
        if slug not in svc.model_names():
            raise WireError(404, "model_not_found", f"model {slug!r} not found; this server serves {svc.spec.name!r}")
        return svc.model_entry(slug)

    @app.get("/metrics")
    async def metrics():
        return Response(svc.metrics.render(), media_type=svc.metrics.content_type)

    @app.api_route("/v1/billing/{rest:path}", methods=["GET", "POST"])
    async def billing(rest: str):
        raise WireError(501, "not_offered", "billing is not offered by a local dreamgym server: nothing is charged")
