"""The ``dreamgym`` command (also ``python -m dreamgym``): one entry point whose subcommands
live beside the code they drive, each registered by its own module.

    dreamgym rollout --example 0 --actions plan.npy --out rollout.mp4   # engine.cli
    dreamgym info                                                       # engine.cli
    dreamgym serve --model push-64 --port 8000                          # engine.serving.cli
    dreamgym predict-many episodes/ out/ --k 4                          # engine.bulk.cli (+ augment, verify)
    dreamgym train --data episodes.npz --out runs/push64                # engine.training.cli
    dreamgym gate new_videos/ golden_videos/ --min-psnr 30              # dreamgym.evaluation.cli

Each subcommand's ``--help`` says what it does, with an example. Bad input exits with code 2
and a message naming the expected and the received value, before any model work.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from engine.cli import InputError

# the modules that register subcommands, in the order `dreamgym --help` lists them
COMMAND_MODULES = (
    "engine.cli",
    "engine.lpips_weights",
    "engine.serving.cli",
    "engine.bulk.cli",
    "engine.training.cli",
    "dreamgym.evaluation.cli",
)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="dreamgym", description="Action-conditioned video world models: rollouts and tools."
    )
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
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
