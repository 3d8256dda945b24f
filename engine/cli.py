"""The engine's subcommands of the ``dreamgym`` command (``rollout``, ``info``) and what every
wing's subcommands share: :class:`InputError` (exit code 2), the model flags declared once
(:func:`add_model_flags`) and :func:`load_model`.

Each wing registers its own subcommands beside its code (``engine.serving.cli``,
``engine.bulk.cli``, ``engine.training.cli``, ``dreamgym.evaluation.cli``); :mod:`dreamgym.cli`
gathers them into the one entry point.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from .codecs import sha256
from .hardware import numerics

ROLLOUT_EXAMPLE = """example:
  python -c "import numpy as np; np.save('plan.npy', np.zeros((16, 2), np.float32))"
  dreamgym rollout --example 0 --actions plan.npy --seed 0 --out rollout.mp4
  # writes rollout.mp4 (start frame + 16 predicted frames) and rollout.json (a receipt)
"""

INFO_EXAMPLE = """example:
  dreamgym info          # a table for people
  dreamgym info --json   # the same for scripts
"""


class InputError(Exception):
    """Bad command-line input: reported as ``dreamgym COMMAND: error: ...`` with exit code 2."""


def add_model_flags(p: argparse.ArgumentParser, *, default: str | None = "push-64") -> None:
    """``--model`` and ``--weights``, the same on every subcommand that loads a model."""
    what = f"(default {default})" if default else "(default: see below)"
    p.add_argument("--model", default=default, help=f"spec name, checkpoint directory or server URL {what}")
    p.add_argument("--weights", default=None, help="weights for a spec without built-in ones")
    p.add_argument(
        "--dtype",
        choices=["float32", "bfloat16"],
        default=None,
        help="precision of a local model (default: bfloat16 on CUDA, float32 on CPU; docs/engine.md)",
    )


def add_command(sub, name: str, func, *, help: str, description: str, example: str) -> argparse.ArgumentParser:
    """A subcommand of ``dreamgym``: its help line, its description, an example as the epilog
    (shown as written) and the handler ``func(args) -> exit code``."""
    p = sub.add_parser(
        name, help=help, description=description, epilog=example, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.set_defaults(func=func)
    return p


def load_model(model, weights=None, dtype=None, **options):
    """:func:`engine.open` on a subcommand's ``--model``/``--weights``/``--dtype``; a model that
    cannot be loaded is an :class:`InputError` naming the flag."""
    from .resolve import is_url, open_engine

    if dtype is not None:
        if is_url(model):
            raise InputError(f"--dtype applies to a local model; the server at {model} chooses its own")
        options["dtype"] = dtype
    try:
        return open_engine(model, weights=weights, **options)
    except (FileNotFoundError, ValueError, TypeError) as e:
        raise InputError(f"--model: {e}") from None


def _read_actions(path: Path):
    from .codecs import array_from_npy_bytes

    if not path.is_file():
        raise InputError(f"--actions: no file at {path} (expected a .npy of shape (T, action_dim), float32)")
    try:
        return array_from_npy_bytes(path.read_bytes(), name=f"--actions: {path}")
    except ValueError as e:
        raise InputError(str(e)) from None


def _read_frame(path: Path):
    from .codecs import image_from_bytes

    if not path.is_file():
        raise InputError(f"--frame: no file at {path} (expected a PNG/JPEG image)")
    try:
        return image_from_bytes(path.read_bytes(), name=f"--frame: {path}", formats=None)
    except ValueError as e:
        raise InputError(str(e)) from None


def cmd_rollout(args) -> int:
    import numpy as np

    if (args.frame is None) == (args.example is None):
        raise InputError("give exactly one of --frame IMAGE or --example N")
    out = Path(args.out)
    if out.suffix.lower() != ".mp4":
        raise InputError(f"--out must end in .mp4, got {out}")
    receipt_path = Path(args.receipt) if args.receipt else out.with_suffix(".json")
    from .files import check_output_file

    try:  # both outputs checked before any work: an mp4 is never left without its receipt
        check_output_file(out, "--out")
        check_output_file(receipt_path, "--receipt")
    except ValueError as e:
        raise InputError(str(e)) from None
    actions = _read_actions(Path(args.actions))
    frame = _read_frame(Path(args.frame)) if args.frame is not None else None
    eng = load_model(args.model, args.weights, args.dtype)
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
    from .files import atomic_write_bytes

    atomic_write_bytes(out, data)
    receipt = {
        "model": eng.spec.name,
        "seed": rollout.seed,
        "num_steps": rollout.num_steps,
        "guidance": rollout.guidance,
        "frames": list(rollout.frames.shape),
        "start_frame_sha256": sha256(np.ascontiguousarray(frame).tobytes()),
        "actions_sha256": sha256(np.ascontiguousarray(actions, dtype=np.float32).tobytes()),
        "mp4_sha256": sha256(data),
        "mp4": str(out),
        "request_id": rollout.request_id,
        "engine_wall_ms": round(rollout.engine_wall_ms, 1),
        "created_unix": round(time.time(), 3),
        "versions": versions(),
        **numerics(eng),
    }
    atomic_write_bytes(receipt_path, (json.dumps(receipt, indent=2) + "\n").encode())
    print(f"wrote {out} ({rollout.frames.shape[0]} frames + start frame) and {receipt_path}")
    return 0


def versions() -> dict:
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

    from .hardware import has_bf16_matrix_units, isa_class
    from .specs import CATALOG

    cuda = torch.cuda.is_available()
    return {
        "versions": versions(),
        "devices": {
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "isa_class": isa_class(),
            "bf16_matrix_units": has_bf16_matrix_units(),
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
        f"devices:  {d['cpu_count']} CPU cores ({d['cpu_capability']}; ISA class {d['isa_class']}, "
        f"bf16 matrix units: {'yes' if d['bf16_matrix_units'] else 'no'}), torch threads {d['torch_threads']}; "
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


def register(sub) -> None:
    """Add ``rollout`` and ``info`` to the ``dreamgym`` subparsers."""
    r = add_command(
        sub,
        "rollout",
        cmd_rollout,
        help="roll a model out from a start frame and an action plan into an mp4 and a JSON receipt",
        description="Roll a model out from a start frame (an image, or one of the model's example frames) "
        "and an action plan (.npy, shape (T, action_dim), T a multiple of the chunk size) into an mp4 "
        "(start frame + T predicted frames) and a JSON receipt (inputs' and output's sha256, seed, steps, "
        "versions) that lets anyone re-run and verify it.",
        example=ROLLOUT_EXAMPLE,
    )
    add_model_flags(r)
    r.add_argument("--frame", default=None, help="start frame image (PNG/JPEG) at the model's resolution")
    r.add_argument("--example", type=int, default=None, help="index of one of the model's example start frames")
    r.add_argument("--actions", required=True, help=".npy file, shape (T, action_dim)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--num-steps", type=int, default=None, help="sampler steps per chunk (default: the spec's)")
    r.add_argument("--guidance", type=float, default=None, help="classifier-free guidance (default: the spec's)")
    r.add_argument("--out", required=True, help="output .mp4 path")
    r.add_argument("--receipt", default=None, help="receipt path (default: the mp4's path with .json)")
    i = add_command(
        sub,
        "info",
        cmd_info,
        help="list the model specs, the devices and the versions",
        description="List the built-in model specs, this machine's devices and the installed versions.",
        example=INFO_EXAMPLE,
    )
    i.add_argument("--json", action="store_true", help="print JSON")
