"""engine.serving: ``dreamgym serve``, the Dream Engine wire protocol over HTTP.

Needs the ``serve`` extra (FastAPI, uvicorn, python-multipart, websockets,
prometheus_client). Its client, :class:`engine.RemoteEngine`, is part of the engine core and
needs only httpx. Imports are lazy so that ``import engine.serving`` stays cheap.
"""

from __future__ import annotations

__all__ = ["ServerConfig", "create_app", "serve"]


def __getattr__(name: str):
    if name in ("ServerConfig", "create_app"):
        from . import app

        return getattr(app, name)
    if name == "serve":
        from .server import serve

        return serve
    raise AttributeError(f"module 'engine.serving' has no attribute {name!r}")
