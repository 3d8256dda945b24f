"""Run a server process: bind, print the URL when ready, shut down gracefully on a signal.

uvicorn handles SIGTERM and SIGINT: it stops accepting connections, lets the requests in
flight finish (up to ``drain_timeout_s``), then the app's lifespan stops the scheduler after
the jobs it holds are done.
"""

from __future__ import annotations

import signal
import socket
import sys

from ..engine import Engine
from .app import ServerConfig, create_app


def serve(
    engine: Engine,
    config: ServerConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    model_label: str | None = None,
    drain_timeout_s: float = 60.0,
    log_level: str = "warning",
    ready_file=None,
) -> None:
    """Serve ``engine`` until SIGTERM/SIGINT. ``port=0`` picks a free port; the line
    ``dreamgym serve: ready at http://HOST:PORT`` is printed (and flushed) once the server
    accepts requests."""
    import uvicorn

    app = create_app(engine, config, model_label=model_label)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    sock.listen(2048)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    url = f"http://{shown}:{bound}"

    class _Server(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets=sockets)
            if not self.should_exit:
                print(f"dreamgym serve: ready at {url} (model {engine.spec.name}, {engine.device})", flush=True)
                if ready_file is not None:
                    with open(ready_file, "w") as f:
                        f.write(url + "\n")

    cfg = uvicorn.Config(
        app,
        log_level=log_level,
        timeout_graceful_shutdown=drain_timeout_s,
        ws="websockets-sansio",
        lifespan="on",
        access_log=False,
    )
    server = _Server(cfg)
    # uvicorn handles SIGTERM/SIGINT during the run, then re-raises the signal to the handlers
    # it found; with these, a drained server then exits with status 0 instead of dying of it
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    print("dreamgym serve: stopped", file=sys.stderr, flush=True)
