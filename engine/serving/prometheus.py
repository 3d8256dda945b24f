"""Prometheus metrics of a server (``GET /metrics``, text exposition format).

One registry per server app, so several apps in one process do not share counters.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60, 120, 300)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class ServerMetrics:
    """Counters, gauges and histograms of one server."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, queue_depth, active_rows, open_sessions) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "dreamgym_requests", "HTTP requests by route and status code", ["route", "code"], registry=r
        )
        self.errors = Counter(
            "dreamgym_errors", "error responses by status code and error code", ["code", "error"], registry=r
        )
        self.latency = Histogram(
            "dreamgym_request_latency_seconds",
            "request latency by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_rows = Histogram(
            "dreamgym_batch_rows", "rows per engine step (dynamic batching)", buckets=BATCH_BUCKETS, registry=r
        )
        self.batch_requests = Histogram(
            "dreamgym_batch_requests", "requests sharing one engine step", buckets=BATCH_BUCKETS, registry=r
        )
        self.step_seconds = Histogram(
            "dreamgym_engine_step_seconds", "wall time of one engine step", buckets=LATENCY_BUCKETS, registry=r
        )
        self.rollouts = Counter("dreamgym_rollouts", "rollouts (rows) finished", registry=r)
        self.idempotent_replays = Counter(
            "dreamgym_idempotent_replays", "responses served from the idempotency store", registry=r
        )
        self.disconnects = Counter("dreamgym_client_disconnects", "requests whose client went away", registry=r)
        Gauge("dreamgym_queue_depth", "requests waiting for the engine", registry=r).set_function(queue_depth)
        Gauge("dreamgym_active_rows", "rows being rolled out", registry=r).set_function(active_rows)
        Gauge("dreamgym_open_sessions", "open session rows", registry=r).set_function(open_sessions)

    def on_step(self, rows: int, jobs: int, seconds: float) -> None:
        self.batch_rows.observe(rows)
        self.batch_requests.observe(jobs)
        self.step_seconds.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
