"""Fidelity of a learned model against its world, over long rollouts, read through the world's
frame-only state reader: the numbers issue 23 asks of push-64 and pusht-64.

On held-out episodes of the world (the ``heldout`` seed range, never trained on; toy: the
scripted pushers, PushT: half expert with noise, half weak explorer) the model rolls out
80 frames autoregressively from the true start frame with the true actions, as every user runs
it. At frames 8, 16, 32 and 80 (and PSNR over frames 1-16, the figure docs/fidelity.md quotes):
PSNR and SSIM against the world's frame; the pusher's and the object's position error and, in
PushT, the T's angle error, each read off the predicted frame by ``world.read_state`` and
compared with the true state (medians over the episodes where both can be read); how often the
object is lost (unreadable in the prediction while readable in the truth, frames 1-80). The
object error is also given over the episodes whose object has been pushed by that frame, and as
a 90th percentile (a median over all episodes hides the ones that drift). The reader's own error
on the true frames is the floor.

    python benchmarks/world_fidelity.py --world pusht --engine runs/pusht64/checkpoint
    python benchmarks/world_fidelity.py --world toy --engine push-64 --label "push-64 (shipped)"

Writes one entry (by label) of benchmarks/results/world_fidelity.json and the "world fidelity"
section of docs/fidelity.md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from _docs import replace_section
from fidelity import rollout_model

from dreamgym.worlds import get_world
from engine import Engine
from engine.metrics import psnr, ssim_frames

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "world_fidelity.json"
DOC = ROOT / "docs" / "fidelity.md"
AT = (8, 16, 32, 80)
LENGTH = 80
MOVED = {"toy": 1.0, "pusht": 8.0}  # object displacement (world units) that counts as pushed


def state_errors(read: np.ndarray, true: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame errors (...,) of states read off frames against true states: pusher and object
    position (world units), and for 5-dim states the object's angle in degrees (wrapped)."""
    out = {
        "pusher_err": np.linalg.norm(read[..., :2] - true[..., :2], axis=-1),
        "object_err": np.linalg.norm(read[..., 2:4] - true[..., 2:4], axis=-1),
    }
    if true.shape[-1] >= 5:
        d = np.degrees(read[..., 4] - true[..., 4])
        out["angle_err_deg"] = np.abs((d + 180.0) % 360.0 - 180.0)
    return out


def _median(x: np.ndarray) -> float | None:
    x = x[np.isfinite(x)]
    return round(float(np.median(x)), 2) if len(x) else None


def write_picture(path: str, truth: np.ndarray, pred: np.ndarray, start: np.ndarray, episodes: int = 3) -> None:
    """A PNG: for each of the first ``episodes`` episodes a row of the world's frames and a row of
    the model's, at frames 0, 1, 4, 8, 12, 16, 32, each scaled 2x, 2 px gaps."""
    from PIL import Image

    at = (0, 1, 4, 8, 12, 16, 32)
    rows = []
    for e in range(min(episodes, len(truth))):
        for seq in (truth[e], pred[e]):
            tiles = [start[e] if t == 0 else seq[t - 1] for t in at]
            gap = np.full((tiles[0].shape[0], 2, 3), 255, np.uint8)
            rows.append(np.concatenate([x for tile in tiles for x in (tile, gap)], 1))
        rows.append(np.full((4, rows[-1].shape[1], 3), 255, np.uint8))
    grid = np.concatenate(rows, 0)
    Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2), Image.NEAREST).save(path)


def measure(
    world_name: str, engine: str, episodes: int, seed: int = 0, picture: str | None = None, num_steps: int | None = None
) -> dict:
    world = get_world(world_name)
    with tempfile.TemporaryDirectory() as tmp:
        path = world.write_episodes(Path(tmp) / "heldout.npz", episodes, purpose="heldout", length=LENGTH)
        with np.load(path) as d:
            frames, actions, states = d["frames"], d["actions"], d["states"]
    eng = Engine.load(engine)
    t0 = time.perf_counter()
    pred = rollout_model(eng, frames[:, 0], actions, seed, num_steps=num_steps)
    rollout_s = time.perf_counter() - t0
    truth, true_states = frames[:, 1:], states[:, 1:].astype(np.float64)
    if picture:
        write_picture(picture, truth, pred, frames[:, 0])
    p, s = psnr(pred, truth), ssim_frames(pred, truth)
    read_pred, read_true = world.read_state(pred), world.read_state(truth)
    err, floor = state_errors(read_pred, true_states), state_errors(read_true, true_states)
    seen_true = np.isfinite(read_true[..., 2:4]).all(-1)
    # episodes whose object has moved by frame t: where contact happened and fidelity matters
    moved = np.linalg.norm(true_states[..., 2:4] - states[:, :1, 2:4], axis=-1) > MOVED[world_name]
    lost = ~np.isfinite(read_pred[..., 2:4]).all(-1) & seen_true
    rows = []
    for t in AT:
        row = {"frame": t, "psnr": round(float(p[:, t - 1].mean()), 2), "ssim": round(float(s[:, t - 1].mean()), 3)}
        row.update({k: _median(v[:, t - 1]) for k, v in err.items()})
        moved_t = moved[:, t - 1]
        row["object_err_moved"] = _median(err["object_err"][moved_t, t - 1])
        row["moved_episodes"] = int(moved_t.sum())
        e = err["object_err"][:, t - 1]
        row["object_err_p90"] = round(float(np.percentile(e[np.isfinite(e)], 90)), 2) if np.isfinite(e).any() else None
        row["object_lost_frac"] = round(float(lost[:, t - 1].mean()), 3)
        rows.append(row)
    return {
        "world": world_name,
        "engine": engine,
        "num_steps": num_steps or eng.spec.num_steps,
        "episodes": episodes,
        "seed_range": "heldout",
        "units": "px on the 512 x 512 table" if world_name == "pusht" else "px of the 64 x 64 frame",
        "rollout_s": round(rollout_s, 1),
        "psnr_frames_1_16": round(float(p[:, :16].mean()), 2),
        "object_lost_frac_1_80": round(float(lost.mean()), 3),
        "episodes_losing_object": int(lost.any(1).sum()),
        "reader_floor": {k: _median(v) for k, v in floor.items()},
        "at": rows,
    }


def table(results: dict) -> str:
    lines = [
        "| model | world | frame | PSNR dB | SSIM | pusher err | object err | object err, pushed (n) "
        "| object err p90 | angle err deg | object lost |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for label, r in results.items():
        for row in r["at"]:
            angle = row.get("angle_err_deg")
            lines.append(
                f"| {label} | {r['world']} | {row['frame']} | {row['psnr']} | {row['ssim']} | {row['pusher_err']} "
                f"| {row['object_err']} | {row['object_err_moved']} ({row['moved_episodes']}) "
                f"| {row['object_err_p90']} "
                f"| {'-' if angle is None else angle} | {row['object_lost_frac']:.1%} |"
            )
    notes = [
        f"- {label}: {r['episodes']} held-out episodes; PSNR over frames 1-16 {r['psnr_frames_1_16']} dB; "
        f"object lost in {r['object_lost_frac_1_80']:.1%} of frames 1-80 ({r['episodes_losing_object']} episodes "
        f"lose it at least once); errors in {r['units']}, medians; the reader's own error on true frames "
        f"{r['reader_floor']}"
        for label, r in results.items()
    ]
    return "\n".join(lines + [""] + notes)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--world", choices=["toy", "pusht"], required=True)
    ap.add_argument("--engine", required=True, help="spec name or checkpoint directory")
    ap.add_argument("--label", default=None, help="the row's name (default: the engine)")
    ap.add_argument("--episodes", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--picture",
        metavar="PNG",
        help="also write the first 3 episodes' frames 0, 1, 4, 8, 12, 16, 32 (rows: the world, then the model)",
    )
    ap.add_argument("--num-steps", type=int, default=None, help="sampler steps (default: the spec's)")
    ap.add_argument("--no-save", action="store_true", help="print the result; leave the JSON and the docs alone")
    args = ap.parse_args(argv)
    result = measure(args.world, args.engine, args.episodes, args.seed, picture=args.picture, num_steps=args.num_steps)
    if args.no_save:
        print(table({args.label or args.engine: result}))
        return result
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    results[args.label or args.engine] = result
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    replace_section("world fidelity", table(results), doc=DOC)
    return result


if __name__ == "__main__":
    main()
