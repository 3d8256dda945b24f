"""The ``dreamgym`` command (also ``python -m dreamgym``).

    dreamgym rollout --example 0 --actions plan.npy --out rollout.mp4
    dreamgym info
    dreamgym serve --model push-64 --port 8000

Each subcommand's ``--help`` says what it does, with an example. Bad input exits with code 2
and a message naming the expected and the received value, before any model work.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

ROLLOUT_EXAMPLE = """example:
  python -c "import numpy as np; np.save('plan.npy', np.zeros((16, 2), np.float32))"
  dreamgym rollout --example 0 --actions plan.npy --seed 0 --out rollout.mp4
  # writes rollout.mp4 (start frame + 16 predicted frames) and rollout.json (a receipt)
"""

SERVE_EXAMPLE = """examples:
  dreamgym serve                                   # push-64 on http://127.0.0.1:8000
  dreamgym serve --model dreamdojo-2b-gr1 --weights /ckpt/gr1 --host 0.0.0.0 --port 8000
  DREAMGYM_API_KEY=$(openssl rand -hex 16) dreamgym serve --api-key-env DREAMGYM_API_KEY

then, from any machine that reaches it:
  python -c "import dream; print(dream.Client(base_url='http://127.0.0.1:8000').models.list())"
  python -c "import engine; e = engine.RemoteEngine('http://127.0.0.1:8000'); print(e.spec.name)"
"""

INFO_EXAMPLE = """example:
  dreamgym info          # a table for people
  dreamgym info --json   # the same for scripts
"""


class InputError(Exception):
    """Bad command-line input: reported with exit code 2."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_actions(path: Path):
    from engine.validation import array_from_npy_bytes

    if not path.is_file():
        raise InputError(f"--actions: no file at {path} (expected a .npy of shape (T, action_dim), float32)")
    try:
        return array_from_npy_bytes(path.read_bytes(), name=f"--actions: {path}")
    except ValueError as e:
        raise InputError(str(e)) from None


def _read_frame(path: Path):
    from engine.validation import image_from_bytes

    if not path.is_file():
        raise InputError(f"--frame: no file at {path} (expected a PNG/JPEG image)")
    try:
        return image_from_bytes(path.read_bytes(), name=f"--frame: {path}", formats=None)
    except ValueError as e:
        raise InputError(str(e)) from None


def cmd_rollout(args) -> int:
    import numpy as np

    from engine import Engine

    if (args.frame is None) == (args.example is None):
        raise InputError("give exactly one of --frame IMAGE or --example N")
    out = Path(args.out)
    if out.suffix.lower() != ".mp4":
        raise InputError(f"--out must end in .mp4, got {out}")
    receipt_path = Path(args.receipt) if args.receipt else out.with_suffix(".json")
    actions = _read_actions(Path(args.actions))
    frame = _read_frame(Path(args.frame)) if args.frame is not None else None
    try:
        eng = Engine.load(args.model, weights=args.weights)
    except (FileNotFoundError, ValueError, TypeError) as e:
        raise InputError(f"--model: {e}") from None
    if frame is None:
        examples = eng.example_frames
        if examples is None:
            raise InputError(f"--example: model {eng.spec.name!r} ships no example frames; pass --frame IMAGE")
        if not 0 <= args.example < len(examples):
            raise InputError(f"--example must be in [0, {len(examples) - 1}] for {eng.spec.name!r}, got {args.example}")
        frame = examples[args.example]
    try:
        rollout = eng.predict(frame, actions, seed=args.seed, num_steps=args.num_steps, guidance=args.guidance)
    except (TypeError, ValueError) as e:
        raise InputError(str(e)) from None
    data = rollout.mp4_bytes()
    from engine.files import atomic_write_bytes

    atomic_write_bytes(out, data)
    receipt = {
        "model": eng.spec.name,
        "seed": rollout.seed,
        "num_steps": rollout.num_steps,
        "guidance": rollout.guidance,
        "frames": list(rollout.frames.shape),
        "start_frame_sha256": _sha256(np.ascontiguousarray(frame).tobytes()),
        "actions_sha256": _sha256(np.ascontiguousarray(actions, dtype=np.float32).tobytes()),
        "mp4_sha256": _sha256(data),
        "mp4": str(out),
        "request_id": rollout.request_id,
        "engine_wall_ms": round(rollout.engine_wall_ms, 1),
        "created_unix": round(time.time(), 3),
        "versions": _versions(),
    }
    atomic_write_bytes(receipt_path, (json.dumps(receipt, indent=2) + "\n").encode())
    print(f"wrote {out} ({rollout.frames.shape[0]} frames + start frame) and {receipt_path}")
    return 0


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("dreamgym", "torch", "diffusers", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def info() -> dict:
    """Specs, devices and versions, as a dict."""
    import torch

    from engine import CATALOG

    cuda = torch.cuda.is_available()
    return {
        "versions": _versions(),
        "devices": {
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "cuda": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else [],
        },
        "specs": {
            name: {
                "resolution": list(s.resolution),
                "chunk_size": s.chunk_size,
                "action_dim": s.action_dim,
                "num_steps": s.num_steps,
                "weights": s.weights or "a local checkpoint (weights=PATH)",
                "description": s.description,
            }
            for name, s in sorted(CATALOG.items())
        },
    }


def cmd_info(args) -> int:
    data = info()
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    v, d = data["versions"], data["devices"]
    print("versions: " + ", ".join(f"{k} {val}" for k, val in v.items()))
    cuda = ", ".join(d["cuda"]) or "none"
    print(
        f"devices:  {d['cpu_count']} CPU cores ({d['cpu_capability']}), torch threads {d['torch_threads']}; "
        f"CUDA: {cuda}"
    )
    print("specs:")
    for name, s in data["specs"].items():
        h, w = s["resolution"]
        print(
            f"  {name:18s} {h}x{w}, chunk {s['chunk_size']}, action_dim {s['action_dim']}, "
            f"{s['num_steps']} steps; weights: {s['weights']}"
        )
    return 0


def cmd_serve(args) -> int:
    try:
        from engine.serving import ServerConfig, serve
    except ImportError as e:
        raise InputError(f"serving needs the 'serve' extra: pip install 'dreamgym[serve]' ({e})") from None
    from engine import Engine

    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            raise InputError(f"--api-key-env: environment variable {args.api_key_env} is unset or empty")
    if not 0 <= args.port <= 65535:
        raise InputError(f"--port must be in [0, 65535], got {args.port}")
    try:
        config = ServerConfig(
            api_key=api_key,
            max_body_bytes=args.max_body_mb * 1024 * 1024,
            max_candidates=args.max_candidates,
            max_frames=args.max_frames,
            request_timeout_s=args.request_timeout,
            max_queue=args.max_queue,
            max_batch_rows=args.max_batch_rows,
            batch_wait_ms=args.batch_wait_ms,
            batching=not args.no_batching,
            max_sessions=args.max_sessions,
            session_ttl_s=args.session_ttl,
            price_per_frame_usd=args.price_per_frame,
        )
    except ValueError as e:
        raise InputError(str(e)) from None
    try:
        eng = Engine.load(args.model, weights=args.weights, device=args.device, threads=args.threads)
    except (FileNotFoundError, ValueError, TypeError) as e:
        raise InputError(f"--model: {e}") from None
    if eng.example_frames is not None:  # warm up: the first request then runs at full speed
        h = eng.spec.chunk_size
        import numpy as np

        eng.predict(eng.example_frames[0], np.zeros((h, eng.spec.action_dim), np.float32), num_steps=1)
    try:
        serve(eng, config, host=args.host, port=args.port, model_label=str(args.model), ready_file=args.ready_file)
    except OSError as e:
        raise InputError(str(e)) from None
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="dreamgym", description="Action-conditioned video world models: rollouts and tools."
    )
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", required=True)
    r = sub.add_parser(
        "rollout",
        help="roll a model out from a start frame and an action plan into an mp4 and a JSON receipt",
        description="Roll a model out from a start frame (an image, or one of the model's example frames) "
        "and an action plan (.npy, shape (T, action_dim), T a multiple of the chunk size) into an mp4 "
        "(start frame + T predicted frames) and a JSON receipt (inputs' and output's sha256, seed, steps, "
        "versions) that lets anyone re-run and verify it.",
        epilog=ROLLOUT_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("--model", default="push-64", help="spec name or checkpoint directory (default push-64)")
    r.add_argument("--weights", default=None, help="weights for a spec without built-in ones")
    r.add_argument("--frame", default=None, help="start frame image (PNG/JPEG) at the model's resolution")
    r.add_argument("--example", type=int, default=None, help="index of one of the model's example start frames")
    r.add_argument("--actions", required=True, help=".npy file, shape (T, action_dim)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--num-steps", type=int, default=None, help="sampler steps per chunk (default: the spec's)")
    r.add_argument("--guidance", type=float, default=None, help="classifier-free guidance (default: the spec's)")
    r.add_argument("--out", required=True, help="output .mp4 path")
    r.add_argument("--receipt", default=None, help="receipt path (default: the mp4's path with .json)")
    r.set_defaults(func=cmd_rollout)
    sv = sub.add_parser(
        "serve",
        help="serve a model over HTTP (the Dream Engine wire protocol; dynamic batching, sessions, auth)",
        description="Serve one model over HTTP until SIGTERM/SIGINT (then it stops accepting, finishes the "
        "requests in flight and exits). It speaks the protocol of the Dream Engine SDK (pip install "
        "dream-engine; point its base_url here) and the one engine.RemoteEngine uses. Concurrent requests "
        "share engine steps (dynamic batching); results equal a local engine's bit for bit. "
        "See docs/serving.md.",
        epilog=SERVE_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sv.add_argument("--model", default="push-64", help="spec name or checkpoint directory (default push-64)")
    sv.add_argument("--weights", default=None, help="weights for a spec without built-in ones")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    sv.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    sv.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: CUDA if present)")
    sv.add_argument("--threads", type=int, default=None, help="engine row workers on CPU (default: torch's threads)")
    sv.add_argument("--api-key-env", default=None, metavar="VAR", help="require 'Authorization: Bearer $VAR'")
    sv.add_argument("--max-candidates", type=int, default=64, help="most rollouts in one request (default 64)")
    sv.add_argument("--max-frames", type=int, default=1024, help="most predicted frames per rollout (default 1024)")
    sv.add_argument("--max-body-mb", type=int, default=64, help="largest request body in MiB (default 64)")
    sv.add_argument("--max-queue", type=int, default=256, help="requests waiting before 429 (default 256)")
    sv.add_argument("--request-timeout", type=float, default=300.0, help="seconds before a request gets 504")
    sv.add_argument("--max-batch-rows", type=int, default=32, help="most rows in one engine step (default 32)")
    sv.add_argument("--batch-wait-ms", type=float, default=5.0, help="how long an idle server waits for company")
    sv.add_argument("--no-batching", action="store_true", help="run requests one at a time (no dynamic batching)")
    sv.add_argument("--max-sessions", type=int, default=1024, help="open session rows (default 1024)")
    sv.add_argument("--session-ttl", type=float, default=600.0, help="idle seconds before a session closes")
    sv.add_argument("--price-per-frame", type=float, default=0.0, help="USD per frame reported to clients (default 0)")
    sv.add_argument("--ready-file", default=None, help="write the URL to this file once ready")
    sv.set_defaults(func=cmd_serve)
    i = sub.add_parser(
        "info",
        help="list the model specs, the devices and the versions",
        description="List the built-in model specs, this machine's devices and the installed versions.",
        epilog=INFO_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    i.add_argument("--json", action="store_true", help="print JSON")
    i.set_defaults(func=cmd_info)
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    try:
        return args.func(args)
    except InputError as e:
        print(f"dreamgym {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
