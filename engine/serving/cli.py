"""``dreamgym serve``: the serving wing's subcommand. Its limit flags are derived from
:class:`~engine.serving.config.ServerConfig` (each field made with ``flag``), so a new limit
is declared once."""

from __future__ import annotations

import dataclasses
import os

from ..cli import InputError, add_command, add_model_flags, load_model
from ..resolve import is_url
from .config import ServerConfig

SERVE_EXAMPLE = """examples:
  dreamgym serve                                   # push-64 on http://127.0.0.1:8000
  dreamgym serve --model dreamdojo-2b-gr1 --weights /ckpt/gr1 --host 0.0.0.0 --port 8000
  DREAMGYM_API_KEY=$(openssl rand -hex 16) dreamgym serve --api-key-env DREAMGYM_API_KEY

then, from any machine that reaches it:
  python -c "import dream; print(dream.Client(base_url='http://127.0.0.1:8000').models.list())"
  python -c "import engine; e = engine.RemoteEngine('http://127.0.0.1:8000'); print(e.spec.name)"
"""


def _config_flags(p) -> None:
    for f in dataclasses.fields(ServerConfig):
        meta = f.metadata
        if "flag" not in meta:
            continue
        if meta["kind"] is bool:
            p.add_argument(meta["flag"], dest=f.name, action="store_false", help=meta["help"])
            continue
        default = f.default if f.default is None else meta["kind"](f.default / meta["scale"])
        shown = f" (default {default})" if default is not None else ""
        metavar = meta["flag"].lstrip("-").upper().replace("-", "_")
        p.add_argument(
            meta["flag"], dest=f.name, metavar=metavar, type=meta["kind"], default=default, help=meta["help"] + shown
        )


def _config_from(args, api_key: str | None) -> ServerConfig:
    values = {}
    for f in dataclasses.fields(ServerConfig):
        if "flag" in f.metadata:
            v = getattr(args, f.name)
            values[f.name] = v * f.metadata["scale"] if v is not None and f.metadata["scale"] != 1 else v
    return ServerConfig(api_key=api_key, **values)


def cmd_serve(args) -> int:
    try:
        from .server import serve
    except ImportError as e:
        raise InputError(f"serving needs the 'serve' extra: pip install -e '.[serve]' ({e})") from None

    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            raise InputError(f"--api-key-env: environment variable {args.api_key_env} is unset or empty")
    if not 0 <= args.port <= 65535:
        raise InputError(f"--port must be in [0, 65535], got {args.port}")
    try:
        config = _config_from(args, api_key)
        if args.lpips_weights is not None:
            from ..metrics import find_backbone

            find_backbone("vgg", args.lpips_weights)
    except (ValueError, FileNotFoundError) as e:
        raise InputError(str(e)) from None
    if is_url(args.model):
        raise InputError(f"--model: serve runs a local model (a spec name or a checkpoint), got the URL {args.model}")
    eng = load_model(args.model, args.weights, args.dtype, device=args.device, threads=args.threads)
    if eng.example_frames is not None:  # warm up: the first request then runs at full speed
        import numpy as np

        chunk = np.zeros((eng.spec.chunk_size, eng.spec.action_dim), np.float32)
        eng.predict(eng.example_frames[0], chunk, num_steps=1)
    try:
        serve(eng, config, host=args.host, port=args.port, model_label=str(args.model), ready_file=args.ready_file)
    except OSError as e:
        raise InputError(str(e)) from None
    return 0


def register(sub) -> None:
    """Add ``serve`` to the ``dreamgym`` subparsers."""
    sv = add_command(
        sub,
        "serve",
        cmd_serve,
        help="serve a model over HTTP (the Dream Engine wire protocol; dynamic batching, sessions, auth)",
        description="Serve one model over HTTP until SIGTERM/SIGINT (then it stops accepting, finishes the "
        "requests in flight and exits). It speaks the protocol of the Dream Engine SDK (pip install "
        "dream-engine; point its base_url here) and the one engine.RemoteEngine uses. Concurrent requests "
        "share engine steps (dynamic batching); results equal a local engine's bit for bit. "
        "See docs/serving.md.",
        example=SERVE_EXAMPLE,
    )
    add_model_flags(sv)
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    sv.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    sv.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: CUDA if present)")
    sv.add_argument("--threads", type=int, default=None, help="engine row workers on CPU (default: torch's threads)")
    sv.add_argument("--api-key-env", default=None, metavar="VAR", help="require 'Authorization: Bearer $VAR'")
    _config_flags(sv)
    sv.add_argument("--ready-file", default=None, help="write the URL to this file once ready")
