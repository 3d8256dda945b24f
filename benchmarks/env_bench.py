"""Environment throughput: DreamVectorEnv (one batched engine.step for N envs) against N
separate DreamEnvs stepped in turn, and DreamEnv's overhead over the raw engine.step.

    python benchmarks/env_bench.py [--engine push-64] [--ns 1 4 8 16] [--steps 4]

Writes benchmarks/results/env_bench.json and the env section of docs/benchmarks.md. All
ratios come from one run.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
from _docs import replace_section

import dreamgym  # noqa: F401 - registers the env ids
import engine

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", default="push-64")
    ap.add_argument("--ns", type=int, nargs="+", default=[1, 4, 8, 16])
    ap.add_argument("--steps", type=int, default=4, help="env steps per timing")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    eng = engine.open(args.engine)
    spec = eng.spec
    rng = np.random.default_rng(0)
    starts = eng.example_frames if eng.example_frames is not None else None
    result = {"engine": args.engine, "steps": args.steps, "rows": []}

    for n in args.ns:
        venv = gym.make_vec("dreamgym/Dream-v0", num_envs=n, engine=eng, start_frames=starts, max_episode_steps=10_000)
        envs = [
            gym.make("dreamgym/Dream-v0", engine=eng, start_frames=starts, max_episode_steps=10_000) for _ in range(n)
        ]
        acts = rng.uniform(-1, 1, (args.steps, n, spec.chunk_size, spec.action_dim)).astype(np.float32)

        def run_vec(venv=venv, acts=acts):
            venv.reset(seed=0)
            for a in acts:
                venv.step(a)

        def run_separate(envs=envs, acts=acts):
            for i, e in enumerate(envs):
                e.reset(seed=i)
            for a in acts:
                for i, e in enumerate(envs):
                    e.step(a[i])

        run_vec()  # warm-up
        t_vec = timed(run_vec, args.repeats)
        t_sep = timed(run_separate, args.repeats)
        steps = n * args.steps
        result["rows"].append(
            {
                "n": n,
                "vector_steps_per_s": steps / t_vec,
                "separate_steps_per_s": steps / t_sep,
                "speedup": t_sep / t_vec,
            }
        )
        print(result["rows"][-1], flush=True)

    # DreamEnv overhead over the raw engine.step (one env, same actions and seed). Two measures:
    # (a) whole episodes, env and raw interleaved pair by pair (alternating which goes first) so
    # that the machine's drift hits both alike (median of the per-pair ratios); (b) direct: inside
    # env episodes, the time spent outside engine.start/engine.step relative to the time inside
    # them (drift-free).
    env = gym.make("dreamgym/Dream-v0", engine=eng, start_frames=starts, max_episode_steps=10_000)
    acts = rng.uniform(-1, 1, (args.steps, spec.chunk_size, spec.action_dim)).astype(np.float32)
    frame = env.reset(seed=0)[0]
    inside = [0.0]

    def clocked(fn):
        def call(*a, **kw):
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                inside[0] += time.perf_counter() - t0

        return call

    def run_env():
        env.reset(seed=0)
        for a in acts:
            env.step(a)

    def run_raw():
        st = eng.start(frame[None], 0)
        for a in acts:
            _, st = eng.step(st, a[None])

    run_env()
    run_raw()
    pairs = []
    for i in range(args.repeats + 5):  # alternate which runs first, so order effects cancel
        if i % 2:
            t_raw, t_env = timed(run_raw, 1), timed(run_env, 1)
        else:
            t_env, t_raw = timed(run_env, 1), timed(run_raw, 1)
        pairs.append((t_env, t_raw))
    eng.start, eng.step = clocked(eng.start), clocked(eng.step)  # instance attributes shadow the methods
    try:
        outside = []
        for _ in range(args.repeats + 2):
            inside[0] = 0.0
            t_env = timed(run_env, 1)
            outside.append((t_env - inside[0]) / inside[0])
    finally:
        del eng.start, eng.step
    result["overhead"] = {
        "env_s": float(np.median([p[0] for p in pairs])),
        "raw_engine_s": float(np.median([p[1] for p in pairs])),
        "overhead_frac": float(np.median([e / r - 1 for e, r in pairs])),
        "outside_engine_frac": float(np.median(outside)),
    }
    print(result["overhead"])
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "env_bench.json").write_text(json.dumps(result, indent=2))
    write_doc(result)
    return result


def write_doc(result: dict) -> None:
    lines = [
        "## Environments (CPU)",
        "",
        f"Engine `{result['engine']}`; {result['steps']} env steps (chunks) per timing, medians; one run.",
        "",
        "| N | DreamVectorEnv steps/s | N DreamEnvs in turn steps/s | batched speed-up |",
        "|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['n']} | {r['vector_steps_per_s']:.2f} | {r['separate_steps_per_s']:.2f} | {r['speedup']:.2f}x |"
        )
    o = result["overhead"]
    lines += [
        "",
        f"DreamEnv over the raw `engine.start` + `engine.step` for the same episode (interleaved pairs, "
        f"median of per-pair ratios): {o['env_s']:.3f} s vs {o['raw_engine_s']:.3f} s, overhead "
        f"{o['overhead_frac']:+.1%}. Measured directly inside DreamEnv episodes, the time spent outside the "
        f"engine calls is {o['outside_engine_frac']:.2%} of the time inside them (target: overhead under 5%).",
    ]
    replace_section("env", "\n".join(lines))


if __name__ == "__main__":
    main()
