"""Policies, two worlds: evaluate push policies in the dream env (the world model) and in the
exact toy world ("the real robot") from the same start states and goals, and see whether the
world model ranks them the way reality does.

The policies come from the toy world's zoo (frame-based push controllers of graded quality,
go-to-goal, random); ``evaluate_push_policies`` runs them through
``dreamgym.evaluation.evaluate_policies``, judges success in the
dream from frames only and writes ``eval_info.json`` (LeRobot's layout), ``report.md`` and
``scatter.png`` to ``--out``. benchmarks/policy_eval.py is the full-size run (docs/evaluation.md).

    python examples/sim_to_real_eval.py --episodes 10 --out out/sim_to_real
    python examples/sim_to_real_eval.py --policies push,random --episodes 3
"""

import argparse

from dreamgym.evaluation import evaluate_push_policies
from dreamgym.toyworld.zoo import policy_zoo


def main(argv=None):
    zoo = policy_zoo()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--episodes", type=int, default=10, help="episodes per policy")
    ap.add_argument("--policies", default=",".join(zoo), help=f"comma-separated, of: {', '.join(zoo)}")
    ap.add_argument("--max-frames", type=int, default=32, help="frame budget of an episode (default 32)")
    ap.add_argument("--engine", default="push-64")
    ap.add_argument("--out", default="out/sim_to_real")
    args = ap.parse_args(argv)
    names = [n for n in args.policies.split(",") if n]
    unknown = sorted(set(names) - set(zoo))
    if unknown or not names:
        ap.error(f"--policies must name some of {list(zoo)}, got {args.policies!r}")
    ev = evaluate_push_policies(
        {n: zoo[n] for n in names}, args.engine, episodes=args.episodes, max_frames=args.max_frames
    )
    paths = ev.write(args.out)
    print(ev.markdown())
    print(f"\nwrote {', '.join(str(p) for p in paths.values())}")
    return ev


if __name__ == "__main__":
    main()
