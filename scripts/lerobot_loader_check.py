"""LeRobot's own loader on our LeRobot v3 datasets: does ``lerobot.datasets.LeRobotDataset`` read
what ``RolloutSink.lerobot`` writes, with our frames and actions?

``lerobot`` cannot share dreamgym's environment (0.4.4, the newest for Python 3.11 on the index
here, pins torch < 2.11 and diffusers < 0.36 and needs torchvision), so this script, run in
dreamgym's venv, sets up a separate one and runs the check there:

    python scripts/lerobot_loader_check.py [--venv /tmp/lrvenv] [--pusht runs/data/pusht_lerobot]

1. the venv: created with ``pip install lerobot==0.4.4`` when ``--venv`` has no python (it
   resolves torch 2.10.0, torchvision 0.25.0, torchcodec 0.10.0 from the index; ~4 GB);
2. in dreamgym's venv: a ``predict_many`` run of push-64 on 3 toy-world start frames into
   ``RolloutSink.lerobot`` (a temporary folder), and what we wrote: the rollouts' frames as
   our decoder reads the mp4s, their actions, episode lengths;
3. in LeRobot's venv (this file with ``--inside``): ``LeRobotDataset(repo_id, root=...)`` on
   that folder and on ``--pusht`` when it exists, every frame of every episode through
   ``dataset[i]`` (all of the sink's episodes, the first ``--pusht-episodes`` of PushT's);
   actions compared exactly with what our reader reads, frames against our decode of the same
   mp4 (the same h264 stream: any difference is the decoders' YUV->RGB conversion) and, for
   the sink, against the frames we encoded.

Prints one JSON summary per dataset; the result is quoted in docs/bulk.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def inside(dataset: str, expected: str | None, episodes: int | None) -> dict:
    """Run in LeRobot's venv: load ``dataset`` with LeRobot and compare with ``expected``."""
    import numpy as np
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    out: dict = {"dataset": dataset}
    try:
        ds = LeRobotDataset("local/check", root=dataset, video_backend="torchcodec")
        ds[0]
        out["video_backend"] = "torchcodec"
    except Exception as e:  # noqa: BLE001 - report why and fall back to LeRobot's other backend
        out["torchcodec_error"] = f"{type(e).__name__}: {str(e)[:200]}"
        ds = LeRobotDataset("local/check", root=dataset, video_backend="pyav")
        out["video_backend"] = "pyav"
    key = ds.meta.video_keys[0]
    out.update(episodes=ds.num_episodes, frames=ds.num_frames, fps=ds.fps, video_key=key)
    n_eps = ds.num_episodes if episodes is None else min(episodes, ds.num_episodes)
    ref = np.load(expected) if expected else None
    diffs, enc_diffs, action_equal = [], [], True
    for e in range(n_eps):
        lo, hi = int(ds.meta.episodes[e]["dataset_from_index"]), int(ds.meta.episodes[e]["dataset_to_index"])
        items = [ds[i] for i in range(lo, hi)]
        frames = np.stack([(it[key].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8) for it in items])
        actions = np.stack([it["action"].numpy() for it in items])
        if ref is not None:
            decoded, act = ref[f"decoded_{e}"], ref[f"actions_{e}"]
            if frames.shape != decoded.shape:
                out.setdefault("shape_mismatch", []).append([e, list(frames.shape), list(decoded.shape)])
                continue
            diffs.append(np.abs(frames.astype(int) - decoded.astype(int)).max())
            if f"encoded_{e}" in ref:
                enc_diffs.append(np.abs(frames.astype(int) - ref[f"encoded_{e}"].astype(int)).mean())
            action_equal &= bool(np.array_equal(actions.astype(np.float32), act))
    out["episodes_checked"] = n_eps
    if ref is not None:
        out["actions_equal"] = action_equal
        out["frames_max_abs_diff_vs_our_decode"] = int(max(diffs)) if diffs else None
        out["frames_mean_abs_diff_vs_encoded"] = round(float(np.mean(enc_diffs)), 3) if enc_diffs else None
    return out


def prepare(tmp: Path) -> tuple[Path, Path]:
    """In dreamgym's venv: a RolloutSink.lerobot dataset of 3 push-64 rollouts, and what we wrote."""

    from dreamgym.toyworld.episodes import generate_episodes
    from engine import Engine
    from engine.bulk import RolloutSink, SourceRow, predict_many
    from engine.codecs import npy_bytes, png_bytes

    eng = Engine.load("push-64")
    data = generate_episodes(3, seed=42, length=16)
    rows = [
        SourceRow(f"toy-{i}", png_bytes(data["frames"][i, 0]), npy_bytes(data["actions"][i]), {"seed": i})
        for i in range(3)
    ]
    sink_dir = tmp / "sink"
    result = predict_many(eng, rows, RolloutSink.lerobot(sink_dir, task="push the block"), progress=False)
    assert result.ok == 3, result
    encoded = {
        f"toy-{i}": eng.predict(data["frames"][i, 0], data["actions"][i], seed=i).video for i in range(3)
    }  # the frames the sink encoded: start frame + predictions
    write_expected(sink_dir, tmp / "expected.npz", None, encoded)
    return sink_dir, tmp / "expected.npz"


def write_expected(dataset: Path, path: Path, episodes: int | None, encoded: dict | None = None) -> Path:
    """Our reader's view of ``dataset`` (decoded frames and actions of its first ``episodes``),
    with the frames we encoded by row id when given, as an .npz for the check."""
    import numpy as np

    from engine.bulk import LeRobotDataset

    ours = LeRobotDataset(dataset)
    expected = {}
    for e, ep in enumerate(ours.episodes[:episodes]):
        expected[f"decoded_{e}"] = ours.frames(ep)
        expected[f"actions_{e}"] = np.stack(ours.data(ep)["action"].to_numpy(zero_copy_only=False)).astype(np.float32)
        if encoded is not None:
            expected[f"encoded_{e}"] = encoded[ep["row_id"]]
    np.savez(path, **expected)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--venv", default="/tmp/lrvenv")
    ap.add_argument("--pusht", default=str(ROOT / "runs" / "data" / "pusht_lerobot"))
    ap.add_argument("--pusht-episodes", type=int, default=20, help="PushT episodes read frame by frame")
    ap.add_argument("--inside", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--expected", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--episodes", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inside:
        print(json.dumps(inside(args.inside, args.expected, args.episodes)), flush=True)
        return
    python = Path(args.venv) / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", args.venv], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "lerobot==0.4.4"], check=True)
    version = subprocess.run(
        [str(python), "-c", "import lerobot, torch; print(lerobot.__version__, torch.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print(f"LeRobot venv: lerobot, torch = {version}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        sink, expected = prepare(Path(tmp))
        cmd = [str(python), __file__, "--inside", str(sink), "--expected", str(expected)]
        subprocess.run(cmd, check=True)
    if Path(args.pusht).is_dir():
        with tempfile.TemporaryDirectory() as tmp:
            expected = write_expected(Path(args.pusht), Path(tmp) / "expected.npz", args.pusht_episodes)
            cmd = [str(python), __file__, "--inside", args.pusht, "--expected", str(expected)]
            subprocess.run(cmd + ["--episodes", str(args.pusht_episodes)], check=True)
    else:
        print(f"no PushT dataset at {args.pusht}: write one with python -m dreamgym.pusht.episodes --lerobot DIR")


if __name__ == "__main__":
    main()
