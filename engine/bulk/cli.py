"""The bulk wing's subcommands of ``dreamgym``: ``predict-many``, ``augment`` and ``verify``."""

from __future__ import annotations

import sys
from pathlib import Path

from ..cli import InputError, add_command, add_model_flags, load_model

PREDICT_MANY_EXAMPLE = """examples:
  python -m dreamgym.toyworld.episodes --out episodes/toy.npz --episodes 20 --length 16
  dreamgym predict-many episodes/ out/ --k 4 --scale 0.05 --estimate   # rows, frames, engine time
  dreamgym predict-many episodes/ out/ --k 4 --scale 0.05              # videos/, metadata.parquet
  dreamgym predict-many rows/ out/ --url http://127.0.0.1:8000         # on a dreamgym server
  dreamgym verify out/ --sample 10                                     # re-run 10 rows, compare bytes
"""

AUGMENT_EXAMPLE = """example:
  dreamgym augment my_lerobot_dataset/ augmented/ --k 4 --scale 0.05 --action-map 0,1
  # a LeRobot v3 dataset in, a LeRobot v3 dataset of K perturbed rollouts per episode (and
  # the unperturbed one) out, each episode with its receipt
"""


def _source(path: str, args):
    from . import EpisodeDirSource, LeRobotSource, PairDirSource, PerturbedSource

    root = Path(path)
    if not root.is_dir():
        raise InputError(
            f"SOURCE must be a directory (episodes .npz, .png + .npy pairs, or a LeRobot v3 dataset), got {root}"
        )
    try:
        if (root / "meta" / "info.json").exists():
            amap = None
            if getattr(args, "action_map", None):
                amap = [int(x) for x in args.action_map.split(",")]
            src = LeRobotSource(root, action_map=amap, horizon=args.horizon, chunk_size=args.chunk_size)
        elif list(root.glob("*.npz")):
            src = EpisodeDirSource(root, horizon=args.horizon)
        else:
            if args.horizon is not None:
                raise InputError(
                    f"--horizon applies to episode (.npz) and LeRobot sources; {root} holds .png + .npy pairs, "
                    "whose .npy is the whole plan (cut the .npy instead)"
                )
            src = PairDirSource(root)
    except (FileNotFoundError, ValueError) as e:
        raise InputError(f"SOURCE: {e}") from None
    if not args.k and (args.low is not None or args.high is not None):
        raise InputError("--low/--high clip the noisy actions of --k variants; without --k there is nothing to clip")
    if args.k:
        try:
            src = PerturbedSource(src, k=args.k, scale=args.scale, seed=args.seed, correlation=args.correlation,
                                  low=args.low, high=args.high)  # fmt: skip
        except ValueError as e:
            flags = "--low/--high" if str(e).startswith(("low", "high")) else "--k/--scale/--correlation"
            raise InputError(f"{flags}: {e}") from None
    return src


def _bulk_model(args):
    if args.url:
        from ..resolve import is_url, open_engine

        if not is_url(args.url):
            raise InputError(f"--url must start with http:// or https://, got {args.url!r}")
        try:
            return open_engine(args.url)
        except Exception as e:  # noqa: BLE001 - a connection failure, named
            raise InputError(f"--url: cannot reach {args.url}: {e}") from None
    return load_model(args.model, args.weights, args.dtype)


def cmd_predict_many(args, lerobot_out: bool = False) -> int:
    from . import RolloutSink, estimate_cost, predict_many

    model = _bulk_model(args)
    args.chunk_size = model.spec.chunk_size
    if args.low is None and args.k:
        args.low, args.high = model.spec.action_low, model.spec.action_high
    src = _source(args.source, args)
    try:  # the estimate comes first, always; --estimate stops there
        est = estimate_cost(
            src,
            model,
            num_steps=args.num_steps,
            guidance=args.guidance,
            price_per_frame=args.price_per_frame,
            price_per_gpu_hour=args.price_per_gpu_hour,
        )
    except ValueError as e:
        raise InputError(str(e)) from None
    print(f"estimate: {est}", flush=True)
    if args.estimate:
        return 0
    out = Path(args.sink)
    sink = RolloutSink.lerobot(out, task=args.task) if (lerobot_out or args.lerobot) else RolloutSink.dir(out)
    try:
        result = predict_many(
            args.model if args.backend == "ray" else model,  # each Ray actor loads its own
            src, sink, concurrency=args.concurrency, on_error=args.on_error, progress=not args.no_progress,
            num_steps=args.num_steps, guidance=args.guidance, seed=args.seed, resume=not args.no_resume,
            backend=args.backend, drift_threshold_db=args.drift_threshold,
        )  # fmt: skip
    except (ValueError, TypeError) as e:
        raise InputError(str(e)) from None
    print(
        f"{result.ok} ok, {result.failed} failed, {result.skipped} already done; {result.flagged} flagged for drift; "
        f"{result.rows_per_s:.2f} rows/s -> {result.output_uri}"
    )
    for f in result.failures[:10]:
        print(f"  failed {f.row_id}: {f.error}", file=sys.stderr)
    return 0 if result.failed == 0 else 1


def cmd_augment(args) -> int:
    if not (Path(args.source) / "meta" / "info.json").exists():
        raise InputError(f"LEROBOT_DIR: {args.source} has no meta/info.json (expected a LeRobot v3 dataset)")
    return cmd_predict_many(args, lerobot_out=True)


def cmd_verify(args) -> int:
    from . import verify

    try:
        report = verify(args.sink, args.model, sample=args.sample, seed=args.seed)
    except (FileNotFoundError, ValueError) as e:
        raise InputError(str(e)) from None
    for rid, why in report.mismatches:
        print(f"MISMATCH {rid}: {why}")
    print(f"{report.checked} checked, {report.matched} identical, {len(report.mismatches)} mismatched")
    return 0 if report.ok else 1


def _bulk_flags(p, *, lerobot: bool) -> None:
    """SOURCE and SINK (LEROBOT_DIR and OUT_DIR for augment), then the flags both commands share."""
    p.add_argument("source", metavar="LEROBOT_DIR" if lerobot else "SOURCE")
    p.add_argument("sink", metavar="OUT_DIR" if lerobot else "SINK")
    add_model_flags(p)
    p.add_argument("--url", default=None, help="run on a dreamgym server instead ($DREAMGYM_API_KEY for its key)")
    p.add_argument("--k", type=int, default=0 if not lerobot else 4, help="perturbed variants per row (0: none)")
    p.add_argument("--scale", type=float, default=0.05, help="std of the action noise (action units)")
    p.add_argument("--correlation", type=float, default=0.0, help="AR(1) correlation of the noise over time")
    p.add_argument("--low", type=float, default=None, help="clip noisy actions (default: the spec's bounds)")
    p.add_argument("--high", type=float, default=None)
    p.add_argument("--horizon", type=int, default=None, help="keep the first N actions of each row")
    p.add_argument("--seed", type=int, default=0, help="seed of rows without their own (default 0)")
    p.add_argument("--num-steps", type=int, default=None)
    p.add_argument("--guidance", type=float, default=None)
    p.add_argument("--concurrency", type=int, default=None, help="rows in flight (default 32, 8 on a server)")
    p.add_argument("--on-error", choices=["skip", "halt"], default="skip")
    p.add_argument("--no-resume", action="store_true", help="redo rows the sink already holds")
    p.add_argument("--backend", choices=["local", "ray"], default="local")
    p.add_argument("--drift-threshold", type=float, default=20.0, help="flag variants below this PSNR vs parent")
    p.add_argument("--estimate", action="store_true", help="print the cost estimate and stop")
    p.add_argument("--price-per-frame", type=float, default=None, help="USD per billed frame (hosted: 0.0005)")
    p.add_argument("--price-per-gpu-hour", type=float, default=None, help="USD per device-hour")
    p.add_argument("--task", default="world-model rollout", help="LeRobot task string of the episodes")
    p.add_argument("--no-progress", action="store_true")
    if not lerobot:
        p.add_argument("--lerobot", action="store_true", help="write a LeRobot v3 dataset instead of videos/ + parquet")
    else:
        p.add_argument("--action-map", default=None, help="dataset action columns to use, e.g. 0,1")


def register(sub) -> None:
    """Add ``predict-many``, ``augment`` and ``verify`` to the ``dreamgym`` subparsers."""
    pm = add_command(
        sub,
        "predict-many",
        cmd_predict_many,
        help="roll a model out over every row of a source into videos/ + metadata.parquet (resumable)",
        description="Roll a model out over every row of SOURCE (a directory of episode .npz files, of "
        ".png + .npy pairs, or a LeRobot v3 dataset), optionally K perturbed variants of each, into SINK: "
        "videos/<row_id>.mp4, inputs/, and metadata.parquet with a reproducibility receipt per row. "
        "A re-run resumes; bad rows are recorded with their reason. Exit 1 when any row failed.",
        example=PREDICT_MANY_EXAMPLE,
    )
    _bulk_flags(pm, lerobot=False)
    au = add_command(
        sub,
        "augment",
        cmd_augment,
        help="a LeRobot v3 dataset in, K perturbed world-model rollouts per episode out (LeRobot v3)",
        description="Data augmentation: every episode's first frame of LEROBOT_DIR and K perturbed copies "
        "of its actions (plus the unperturbed one) are rolled out by the model into OUT_DIR, a LeRobot v3 "
        "dataset, with the PSNR of each variant against its parent as a quality check.",
        example=AUGMENT_EXAMPLE,
    )
    _bulk_flags(au, lerobot=True)
    au.set_defaults(lerobot=True)
    ve = add_command(
        sub,
        "verify",
        cmd_verify,
        help="re-run rows of a predict-many output and report any byte mismatch with their receipts",
        description="Re-run rows of SINK from their stored inputs with the seed, steps and guidance of their "
        "receipts, and compare mp4 bytes; also checks each mp4 on disk against its receipt. Exit 1 on any "
        "mismatch.",
        example=PREDICT_MANY_EXAMPLE,
    )
    ve.add_argument("sink", metavar="SINK")
    ve.add_argument("--model", default=None, help="engine to re-run with (default: the receipts' spec)")
    ve.add_argument(
        "--sample",
        type=int,
        default=None,
        help="check only N rows drawn at random with --seed (default: every row); only those are re-run",
    )
    ve.add_argument("--seed", type=int, default=0, help="seed of the sample draw")
