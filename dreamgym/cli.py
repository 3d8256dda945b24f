"""The ``dreamgym`` command (also ``python -m dreamgym``).

    dreamgym rollout --example 0 --actions plan.npy --out rollout.mp4
    dreamgym info
    dreamgym serve --model push-64 --port 8000
    dreamgym gate new_videos/ golden_videos/ --min-psnr 30 --min-ssim 0.9

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

GATE_EXAMPLE = """examples:
  dreamgym gate new/ golden/ --min-psnr 30 --min-ssim 0.9               # folders of .mp4, by name
  dreamgym gate out/ golden/ --min-psnr 30 --report gate.json           # a predict-many sink
  dreamgym gate new/ golden/ --max-lpips 0.1 --lpips-net vgg            # needs vgg16-397923af.pth
                                                    # in $DREAMGYM_LPIPS_DIR or torch hub's cache
exit codes: 0 every video passed, 1 a video failed a threshold, 2 bad input
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
            lpips_weights=args.lpips_weights,
        )
        if args.lpips_weights is not None:
            from engine.metrics import find_backbone

            find_backbone("vgg", args.lpips_weights)
    except (ValueError, FileNotFoundError) as e:
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


def _source(path: str, args):
    from engine.bulk import EpisodeDirSource, LeRobotSource, PairDirSource, PerturbedSource

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
            src = PairDirSource(root)
    except (FileNotFoundError, ValueError) as e:
        raise InputError(f"SOURCE: {e}") from None
    if args.k:
        try:
            src = PerturbedSource(src, k=args.k, scale=args.scale, seed=args.seed, correlation=args.correlation,
                                  low=args.low, high=args.high)  # fmt: skip
        except ValueError as e:
            raise InputError(f"--k/--scale/--correlation: {e}") from None
    return src


def _bulk_model(args):
    if args.url:
        from engine.serving import RemoteEngine

        try:
            return RemoteEngine(args.url, api_key=os.environ.get("DREAMGYM_API_KEY") or None)
        except Exception as e:  # noqa: BLE001 - a connection failure, named
            raise InputError(f"--url: cannot reach {args.url}: {e}") from None
    from engine import Engine

    try:
        return Engine.load(args.model, weights=args.weights)
    except (FileNotFoundError, ValueError, TypeError) as e:
        raise InputError(f"--model: {e}") from None


def cmd_predict_many(args, lerobot_out: bool = False) -> int:
    from engine.bulk import RolloutSink, estimate_cost, predict_many

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
    from engine.bulk import verify

    try:
        report = verify(args.sink, args.model, sample=args.sample, seed=args.seed)
    except (FileNotFoundError, ValueError) as e:
        raise InputError(str(e)) from None
    for rid, why in report.mismatches:
        print(f"MISMATCH {rid}: {why}")
    print(f"{report.checked} checked, {report.matched} identical, {len(report.mismatches)} mismatched")
    return 0 if report.ok else 1


def cmd_gate(args) -> int:
    from engine.metrics import LPIPS, QualityThresholds

    from .evaluation.gate import GateInputError, pair_videos, run_gate

    try:
        thresholds = QualityThresholds(args.min_psnr, args.min_ssim, args.max_lpips)
        pair_videos(args.candidates, args.references)  # bad input fails here, before any model loads
        lpips = None
        if args.max_lpips is not None or args.lpips:
            backbone = args.lpips_weights
            lpips = LPIPS(args.lpips_net, backbone=backbone)
        report = run_gate(args.candidates, args.references, thresholds, lpips)
    except (GateInputError, FileNotFoundError, ValueError) as e:
        raise InputError(str(e)) from None
    print(report.table())
    if args.report:
        print(f"report: {report.write_json(args.report)}")
    return 0 if report.ok else 1


def _bulk_flags(p, *, lerobot: bool) -> None:
    p.add_argument("--model", default="push-64", help="spec name or checkpoint directory (default push-64)")
    p.add_argument("--weights", default=None, help="weights for a spec without built-in ones")
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
    sv.add_argument(
        "--batch-wait-ms", type=float, default=30.0, help="how long an idle server waits for company (default 30)"
    )
    sv.add_argument("--no-batching", action="store_true", help="run requests one at a time (no dynamic batching)")
    sv.add_argument("--max-sessions", type=int, default=1024, help="open session rows (default 1024)")
    sv.add_argument("--session-ttl", type=float, default=600.0, help="idle seconds before a session closes")
    sv.add_argument("--price-per-frame", type=float, default=0.0, help="USD per frame reported to clients (default 0)")
    sv.add_argument(
        "--lpips-weights", default=None, help="VGG-16 checkpoint for the LPIPS of score=True rollouts (file or folder)"
    )
    sv.add_argument("--ready-file", default=None, help="write the URL to this file once ready")
    sv.set_defaults(func=cmd_serve)
    pm = sub.add_parser(
        "predict-many",
        help="roll a model out over every row of a source into videos/ + metadata.parquet (resumable)",
        description="Roll a model out over every row of SOURCE (a directory of episode .npz files, of "
        ".png + .npy pairs, or a LeRobot v3 dataset), optionally K perturbed variants of each, into SINK: "
        "videos/<row_id>.mp4, inputs/, and metadata.parquet with a reproducibility receipt per row. "
        "A re-run resumes; bad rows are recorded with their reason. Exit 1 when any row failed.",
        epilog=PREDICT_MANY_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pm.add_argument("source", metavar="SOURCE")
    pm.add_argument("sink", metavar="SINK")
    _bulk_flags(pm, lerobot=False)
    pm.set_defaults(func=cmd_predict_many)
    au = sub.add_parser(
        "augment",
        help="a LeRobot v3 dataset in, K perturbed world-model rollouts per episode out (LeRobot v3)",
        description="Data augmentation: every episode's first frame of LEROBOT_DIR and K perturbed copies "
        "of its actions (plus the unperturbed one) are rolled out by the model into OUT_DIR, a LeRobot v3 "
        "dataset, with the PSNR of each variant against its parent as a quality check.",
        epilog=AUGMENT_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    au.add_argument("source", metavar="LEROBOT_DIR")
    au.add_argument("sink", metavar="OUT_DIR")
    _bulk_flags(au, lerobot=True)
    au.set_defaults(func=cmd_augment, lerobot=True)
    ve = sub.add_parser(
        "verify",
        help="re-run rows of a predict-many output and report any byte mismatch with their receipts",
        description="Re-run rows of SINK from their stored inputs with the seed, steps and guidance of their "
        "receipts, and compare mp4 bytes; also checks each mp4 on disk against its receipt. Exit 1 on any "
        "mismatch.",
        epilog=PREDICT_MANY_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ve.add_argument("sink", metavar="SINK")
    ve.add_argument("--model", default=None, help="engine to re-run with (default: the receipts' spec)")
    ve.add_argument("--sample", type=int, default=None, help="check N rows drawn at random (default: all)")
    ve.add_argument("--seed", type=int, default=0, help="seed of the sample draw")
    ve.set_defaults(func=cmd_verify)
    g = sub.add_parser(
        "gate",
        help="quality gate: PSNR / SSIM / LPIPS of candidate videos against references (exit 1 on a failure)",
        description="Compare every video of CANDIDATES with the video of the same name in REFERENCES (folders "
        "of .mp4, or predict-many sinks with metadata.parquet, matched by row_id) over the predicted frames "
        "(frame 0, the start frame, is left out), print a per-video table and fail when a video's mean "
        "breaks a threshold. SSIM: 11-tap Gaussian window, sigma 1.5. LPIPS v0.1 needs the backbone's "
        "torchvision weights as a local file (nothing is downloaded).",
        epilog=GATE_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    g.add_argument("candidates", metavar="CANDIDATES")
    g.add_argument("references", metavar="REFERENCES")
    g.add_argument("--min-psnr", type=float, default=None, help="fail a video whose mean PSNR (dB) is below")
    g.add_argument("--min-ssim", type=float, default=None, help="fail a video whose mean SSIM is below")
    g.add_argument("--max-lpips", type=float, default=None, help="fail a video whose mean LPIPS is above")
    g.add_argument("--lpips", action="store_true", help="report LPIPS without a threshold on it")
    g.add_argument("--lpips-net", choices=["vgg", "alex"], default="vgg", help="LPIPS backbone (default vgg)")
    g.add_argument(
        "--lpips-weights",
        default=None,
        help="the backbone's torchvision checkpoint (file or folder); 'random' for random weights (tests only)",
    )
    g.add_argument("--report", default=None, metavar="JSON", help="also write the results as JSON")
    g.set_defaults(func=cmd_gate)
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
