"""``dreamgym train`` (also ``python -m engine.training``): train a spec on an .npz of episodes.

    dreamgym train --data runs/data/push_train.npz --spec push-64 --out runs/push64

Re-running the same command resumes from the last saved state in ``--out``. ``--install``
copies the final checkpoint into the package (``engine/assets/<spec>``), replacing the
shipped weights.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
from pathlib import Path

import numpy as np

from ..cli import InputError, add_command
from ..files import atomic_write_dir
from ..loading import ASSETS_DIR
from ..specs import get_spec
from .trainer import TrainConfig, Trainer, check_training_data

TRAIN_EXAMPLE = """example:
  python -m dreamgym.toyworld.episodes --out runs/data/push_train.npz --episodes 1200 --seed 0
  dreamgym train --data runs/data/push_train.npz --spec push-64 --out runs/push64
  # re-run the same command to resume; --install puts the result into the package
"""


def add_flags(ap: argparse.ArgumentParser) -> None:
    """The flags of ``dreamgym train``: the run's, then one per :class:`TrainConfig` field."""
    ap.add_argument("--data", required=True, help=".npz with frames (N, L+1, H, W, 3) uint8 and actions (N, L, A)")
    ap.add_argument("--spec", default="push-64")
    ap.add_argument("--out", required=True, help="working directory (states, loss log, checkpoint)")
    ap.add_argument("--install", action="store_true", help="copy the result into engine/assets/<spec>")
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument(
        "--stop-after",
        choices=["vae", "latents"],
        default=None,
        help="end after this phase (a later run with the same --out resumes)",
    )
    ap.add_argument(
        "--snapshot",
        metavar="DIR",
        default=None,
        help="write a checkpoint to DIR from the states saved so far in --out (the DiT's EMA), "
        "without training: to evaluate a run while it goes on",
    )
    for f in dataclasses.fields(TrainConfig):
        ap.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default)


def register(sub) -> None:
    """Add ``train`` to the ``dreamgym`` subparsers."""
    tr = add_command(
        sub,
        "train",
        cmd_train,
        help="train a model spec on an .npz of episodes (resumable; --install ships it in the package)",
        description=__doc__.split("\n")[0],
        example=TRAIN_EXAMPLE,
    )
    add_flags(tr)


def cmd_train(args) -> int:
    run(args)
    return 0


def main(argv: list[str] | None = None) -> Path | None:
    """``python -m engine.training``: the same flags as ``dreamgym train``."""
    ap = argparse.ArgumentParser(prog="python -m engine.training", description=__doc__.split("\n")[0])
    add_flags(ap)
    try:
        return run(ap.parse_args(argv))
    except InputError as e:
        ap.error(str(e))


def run(args) -> Path | None:
    """Train as ``args`` say; :class:`InputError` (exit 2) on a bad config or data file, before
    any training; returns the checkpoint (None when stopped early)."""
    try:
        cfg = TrainConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)})
    except (TypeError, ValueError) as e:
        raise InputError(str(e).replace("TrainConfig.", "--").replace("_", "-")) from None
    data_path = Path(args.data)
    if not data_path.is_file():
        raise InputError(
            f"data file {data_path} not found; write one with `python -m dreamgym.toyworld.episodes --out {data_path}`"
        )
    with np.load(data_path) as d:
        missing = {"frames", "actions"} - set(d.files)
        if missing:
            raise InputError(f"{data_path} lacks arrays {sorted(missing)}; expected 'frames' and 'actions'")
        frames, actions = d["frames"], d["actions"]
    try:
        spec = get_spec(args.spec)
        check_training_data(frames, actions, spec)
    except (TypeError, ValueError, KeyError) as e:
        raise InputError(f"{data_path}: {e}") from None
    trainer = Trainer(spec, frames, actions, args.out, cfg, progress=not args.no_progress)
    if args.snapshot:
        try:
            ckpt = trainer.snapshot(args.snapshot)
        except FileNotFoundError as e:
            raise InputError(str(e)) from None
        print(f"snapshot of {args.out} written to {ckpt}")
    else:
        ckpt = trainer.run(stop_after=args.stop_after)
        if ckpt is None:
            where = f"the {args.stop_after} phase" if args.stop_after else f"DiT step {cfg.dit_stop_at}"
            print(f"stopped after {where}; states kept in {args.out}")
            return None
        print(f"checkpoint written to {ckpt}")
    if args.install:
        dest = ASSETS_DIR / spec.name
        # the shipped weights stay in place until the new ones replace them in one step
        atomic_write_dir(dest, lambda tmp: shutil.copytree(ckpt, tmp, dirs_exist_ok=True))
        print(f"installed into {dest}")
    return ckpt


if __name__ == "__main__":
    main()
