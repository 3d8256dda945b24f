"""Pure ASGI middleware of the server: request ids, bearer auth, the body-size limit, metrics."""

from __future__ import annotations

import hmac
import json
import time
import uuid

from fastapi import Request
from fastapi.responses import JSONResponse

from ..wire import REQUEST_ID
from .codec import WireError
from .config import ServerConfig
from .prometheus import ServerMetrics

PUBLIC_PATHS = ("/healthz",)


class Guard:
    """Pure ASGI middleware: request ids, bearer auth, the body-size limit, metrics."""

    def __init__(self, app, config: ServerConfig, metrics: ServerMetrics) -> None:
        self.app = app
        self.config = config
        self.metrics = metrics
        self._key = config.api_key.encode() if config.api_key else None

    def _authorized(self, scope) -> bool:
        if self._key is None:
            return True
        path = scope.get("path", "")
        if path in PUBLIC_PATHS or (path.startswith("/v1/rollouts/") and path.endswith("/video")):
            return True  # the video link is checked by its signature instead
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                scheme, _, token = value.partition(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self._key)
        return False

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            if not self._authorized(scope):
                # closing before accepting is an HTTP 403 to the client; accept, then close with
                # the policy-violation code so the client reads 1008 and the reason
                message = await receive()
                if message.get("type") == "websocket.connect":
                    await send({"type": "websocket.accept"})
                    await send({"type": "websocket.close", "code": 1008, "reason": "missing or wrong API key"})
                return
            return await self.app(scope, receive, send)
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        rid = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        t0 = time.perf_counter()
        status = {"code": 500}

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                headers = list(message.get("headers", []))
                if not any(k.lower() == REQUEST_ID.lower().encode() for k, _ in headers):
                    headers.append((REQUEST_ID.encode(), rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            if not self._authorized(scope):
                err = WireError(401, "unauthorized", "missing or wrong API key: send 'Authorization: Bearer <key>'")
                return await _send_error(err, rid, send_with_id, self.metrics)
            length = _content_length(scope)
            limit = self.config.max_body_bytes
            if length is not None and length > limit:
                err = WireError(
                    413, "body_too_large", f"request body is {length} bytes, the limit is {limit}", limit=limit
                )
                return await _send_error(err, rid, send_with_id, self.metrics)
            seen = 0

            async def limited_receive():
                nonlocal seen
                message = await receive()
                if message["type"] == "http.request":
                    seen += len(message.get("body", b""))
                    if seen > limit:
                        raise WireError(
                            413, "body_too_large", f"request body exceeds the limit of {limit} bytes", limit=limit
                        )
                return message

            await self.app(scope, limited_receive, send_with_id)
        finally:
            route = scope.get("route")
            label = getattr(route, "path", "unmatched")
            self.metrics.requests.labels(label, str(status["code"])).inc()
            self.metrics.latency.labels(label).observe(time.perf_counter() - t0)


def _content_length(scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_error(err: WireError, rid: str, send, metrics: ServerMetrics) -> None:
    metrics.errors.labels(str(err.status), err.code).inc()
    body = json.dumps(err.body(rid)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), str(v).encode()) for k, v in err.headers.items()]
    await send({"type": "http.response.start", "status": err.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def error_response(err: WireError, request: Request, metrics: ServerMetrics) -> JSONResponse:
    metrics.errors.labels(str(err.status), err.code).inc()
    rid = request.scope.get("state", {}).get("request_id", "")
    return JSONResponse(err.body(rid), status_code=err.status, headers=err.headers)
