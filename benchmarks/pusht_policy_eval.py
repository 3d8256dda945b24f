"""Policy ranking in a learned PushT model: the PushT zoo (8 frame-based chunk policies, expert to
random) through ``evaluate_in_world("pusht", ...)``, in ``Dream-v0`` on the model and in
gym-pusht, same protocol tasks (the evaluation seed range; 6 chunks, 48 of the 50 steps),
success in the dream judged from frames only.

What issue 23 asks of it: Pearson >= 0.95, Spearman >= 0.9, every policy's dream success within
0.10 of its real success, and the best policy's per-episode agreement >= 0.85.

    python benchmarks/pusht_policy_eval.py --engine runs/pusht64/checkpoint --episodes 50

Writes benchmarks/results/pusht_policy_eval.json (per label) and the "pusht policy evaluation"
section of docs/evaluation.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from _docs import replace_section

from dreamgym.evaluation import evaluate_in_world
from dreamgym.pusht import PUSHT

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "pusht_policy_eval.json"


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", default="pusht-64", help="spec name or checkpoint directory")
    ap.add_argument("--label", default=None)
    ap.add_argument("--episodes", type=int, default=50)
    args = ap.parse_args(argv)
    zoo = PUSHT.policy_zoo(chunk_size=8, seed=0)

    def progress(name, i, dream, real):
        if i + 1 == args.episodes:
            print(f"{name}: {args.episodes} episodes done", flush=True)

    ev = evaluate_in_world("pusht", zoo, args.engine, episodes=args.episodes, progress=progress)
    worst = max(abs(p.rate("dream") - p.rate("real")) for p in ev.policies)
    best = max(ev.policies, key=lambda p: p.rate("real"))
    result = {
        "engine": args.engine,
        "episodes": args.episodes,
        "max_frames": ev.max_frames,
        "policies": {
            p.name: {"real": p.rate("real"), "dream": p.rate("dream"), "same_outcome": p.agreement()}
            for p in ev.policies
        },
        "pearson": ev.correlations["pearson"],
        "spearman": ev.correlations["spearman"],
        "mmrv": ev.mmrv,
        "max_abs_gap": worst,
        "best_policy": best.name,
        "best_policy_agreement": best.agreement(),
        "wall_s": round(ev.wall_s, 1),
        "markdown": ev.markdown(),
    }
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    results[args.label or args.engine] = result
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    body = []
    for label, r in results.items():
        body += [
            f"**{label}** ({r['episodes']} protocol episodes per policy, {r['max_frames']} frames; "
            f"bars: Pearson >= 0.95, Spearman >= 0.9, every gap <= 0.10, best policy's agreement >= 0.85):",
            "",
            r["markdown"],
            "",
            f"- largest |dream - real| over the policies: {r['max_abs_gap']:.2f}; "
            f"best real policy ({r['best_policy']}) same outcome in {r['best_policy_agreement']:.0%} of episodes",
            "",
        ]
    replace_section("pusht policy evaluation", "\n".join(body), doc=ROOT / "docs" / "evaluation.md")
    return result


if __name__ == "__main__":
    main()
