"""engine.serving: ``dreamgym serve`` and its client, :class:`RemoteEngine`.

The server needs the ``serve`` extra (FastAPI, uvicorn, python-multipart, websockets,
prometheus_client); :class:`RemoteEngine` needs only httpx. Imports are lazy so that either
side works without the other's dependencies.
"""

from __future__ import annotations

__all__ = ["RemoteEngine", "RemoteState", "RemoteEngineError", "ServerConfig", "create_app", "serve"]


def __getattr__(name: str):
    if name in ("RemoteEngine", "RemoteState", "RemoteEngineError"):
        from . import remote

        return getattr(remote, name)
    if name in ("ServerConfig", "create_app"):
        from . import app

        return getattr(app, name)
    if name == "serve":
        from .server import serve

        return serve
    raise AttributeError(f"module 'engine.serving' has no attribute {name!r}")
