"""The ``dreamgym`` command (also ``python -m dreamgym``).

    dreamgym rollout --example 0 --actions plan.npy --out rollout.mp4
    dreamgym info

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

INFO_EXAMPLE = """example:
  dreamgym info          # a table for people
  dreamgym info --json   # the same for scripts
"""

MAX_IMAGE_PIXELS = 64_000_000  # a start frame larger than this is refused before decoding


class InputError(Exception):
    """Bad command-line input: reported with exit code 2."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_actions(path: Path):
    import numpy as np

    if not path.is_file():
        raise InputError(f"--actions: no file at {path} (expected a .npy of shape (T, action_dim), float32)")
    try:
        actions = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise InputError(f"--actions: {path} is not a .npy array file (pickles are refused): {e}") from None
    if not isinstance(actions, np.ndarray):
        raise InputError(f"--actions: {path} must hold one array (a .npy), got an archive")
    return actions


def _read_frame(path: Path):
    import numpy as np
    from PIL import Image

    from engine.validation import PIL_MODES

    if not path.is_file():
        raise InputError(f"--frame: no file at {path} (expected a PNG/JPEG image)")
    try:
        with Image.open(path) as img:
            if img.width * img.height > MAX_IMAGE_PIXELS:
                raise InputError(f"--frame: {path} has {img.width} x {img.height} pixels, more than {MAX_IMAGE_PIXELS}")
            if img.mode not in PIL_MODES:
                raise InputError(f"--frame: {path} has image mode {img.mode!r}, expected 8-bit RGB (or grey/palette)")
            return np.asarray(img.convert("RGB"))
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001 - PIL raises many kinds for a bad image
        raise InputError(f"--frame: {path} is not a readable image: {type(e).__name__}: {e}") from None


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
