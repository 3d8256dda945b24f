"""Sim-to-real policy evaluation: run each policy in the world model (the dream env) and on
the real robot (the real env) from the same start states and goals, and report how well
dream success predicts real success across policies.

The protocol of one episode ``i`` (the same for every policy, so policies are compared on
common episodes and common model noise):

1. ``real_env.reset(seed=seed + i, options=real_options(i))``: the real start frame and
   ``info["goal_image"]``;
2. ``dream_env.reset(seed=seed + i, options={"start_frame": that frame, "goal_image": it})``;
3. in each env, until success, the env's own end (terminated or truncated, e.g. a
   ``TimeLimit``) or ``max_frames`` frames: ``action = policy(obs)`` with
   ``obs = {"observation": frame, "achieved_goal": frame, "desired_goal": goal_image}`` (the
   :class:`~dreamgym.GoalObservation` convention), then ``env.step(action)``.

Policies are callables ``policy(obs) -> action`` in the envs' action convention: a chunk
``(chunk_size, A)`` for :class:`~dreamgym.DreamEnv` and a :class:`~dreamgym.ChunkedEnv` real
env, or one action ``(A,)`` per step for a :class:`~dreamgym.PerStepAdapter` dream env and a
per-step real env. A policy with a ``reset()`` method has it called at every episode start;
when it takes a ``seed`` argument it gets ``seed + i``, the same in both worlds, so a
stochastic policy draws the same noise for episode ``i`` in the dream and in reality.

Success: ``real_success`` / ``dream_success`` are callables ``(frames (n, H, W, 3), goal_image)
-> bool`` on the frames of the last step; ``None`` reads ``info["is_success"]`` of the env (the
toy world's is exact; a world model needs a judge that sees only frames, e.g.
:class:`dreamgym.toyworld.FrameSuccess`).
"""

from __future__ import annotations

import inspect
import itertools
import json
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.files import atomic_write_bytes
from engine.validation import as_int

from .stats import mmrv, pairwise_rank_agreement, rank_correlations, wilson_interval


@dataclass
class EpisodeResult:
    """One episode of one policy in one env."""

    index: int
    seed: int
    success: bool
    frames: int
    sum_reward: float
    max_reward: float


@dataclass
class PolicyResult:
    """A policy's episodes in both worlds, paired by index."""

    name: str
    dream: list[EpisodeResult]
    real: list[EpisodeResult]

    def rate(self, world: str) -> float:
        eps = self.dream if world == "dream" else self.real
        return sum(e.success for e in eps) / len(eps)

    def interval(self, world: str) -> tuple[float, float]:
        eps = self.dream if world == "dream" else self.real
        return wilson_interval(sum(e.success for e in eps), len(eps))

    def agreement(self) -> float:
        """Fraction of episodes whose outcome is the same in both worlds."""
        return float(np.mean([d.success == r.success for d, r in zip(self.dream, self.real, strict=True)]))


@dataclass
class PolicyEvaluation:
    """The result of :func:`evaluate_policies`: per-policy results and the cross-policy
    statistics (``correlations``: Pearson/Spearman with intervals; ``mmrv``;
    ``pairwise_rank_agreement``)."""

    policies: list[PolicyResult]
    correlations: dict
    mmrv: float
    pairwise_rank_agreement: float
    episodes: int
    seed: int
    max_frames: int | None
    wall_s: float

    def rates(self, world: str) -> np.ndarray:
        return np.array([p.rate(world) for p in self.policies])

    def markdown(self) -> str:
        """A markdown table (success with Wilson 95% intervals in both worlds) and the statistics."""

        def pct(x):
            return f"{100 * x:.0f}%"

        lines = [
            "| policy | real success [95% CI] | dream success [95% CI] | same outcome |",
            "|---|---:|---:|---:|",
        ]
        for p in self.policies:
            (rl, rh), (dl, dh) = p.interval("real"), p.interval("dream")
            lines.append(
                f"| {p.name} | {pct(p.rate('real'))} [{pct(rl)}, {pct(rh)}] | "
                f"{pct(p.rate('dream'))} [{pct(dl)}, {pct(dh)}] | {pct(p.agreement())} |"
            )
        c = self.correlations

        def ci(key):
            lo, hi = c.get(key, (math.nan, math.nan))
            return f"[{lo:.3f}, {hi:.3f}]"

        lines += [
            "",
            f"Across {c['policies']} policies, {self.episodes} episodes each (same start states and goals "
            f"in both worlds, seeds {self.seed}..{self.seed + self.episodes - 1}, "
            + (f"at most {self.max_frames} frames):" if self.max_frames else "until each env ended the episode):"),
            "",
            f"- Pearson r = {c['pearson']:.3f}, 95% CI {ci('pearson_ci95')} (Fisher z over policies)"
            + (f", {ci('pearson_bootstrap_ci95')} (bootstrap over episodes)" if "pearson_bootstrap_ci95" in c else ""),
            f"- Spearman rho = {c['spearman']:.3f}, 95% CI {ci('spearman_ci95')} (Fieller-Hartley-Pearson)"
            + (
                f", {ci('spearman_bootstrap_ci95')} (bootstrap over episodes)" if "spearman_bootstrap_ci95" in c else ""
            ),
            f"- MMRV = {self.mmrv:.3f} (0 is a perfect ranking)",
            f"- pairwise rank agreement = {self.pairwise_rank_agreement:.3f}",
        ]
        return "\n".join(lines)

    def eval_info(self) -> dict:
        """LeRobot's ``eval_info.json`` layout (``per_episode`` + ``aggregated``) per policy and
        world, plus the cross-policy statistics under ``sim_to_real``."""

        def world(eps: list[EpisodeResult]) -> dict:
            return {
                "per_episode": [
                    {
                        "episode_ix": e.index,
                        "sum_reward": e.sum_reward,
                        "max_reward": e.max_reward,
                        "success": e.success,
                        "seed": e.seed,
                        "frames": e.frames,
                    }
                    for e in eps
                ],
                "aggregated": {
                    "avg_sum_reward": float(np.mean([e.sum_reward for e in eps])),
                    "avg_max_reward": float(np.mean([e.max_reward for e in eps])),
                    "pc_success": 100.0 * sum(e.success for e in eps) / len(eps),
                    "pc_success_ci95": [100.0 * v for v in wilson_interval(sum(e.success for e in eps), len(eps))],
                    "n_episodes": len(eps),
                },
            }

        def finite(v):
            if isinstance(v, tuple | list):
                return [finite(x) for x in v]
            return None if isinstance(v, float) and not math.isfinite(v) else v

        return {
            "policies": {p.name: {"dream": world(p.dream), "real": world(p.real)} for p in self.policies},
            "sim_to_real": {
                **{k: finite(v) for k, v in self.correlations.items()},
                "mmrv": finite(self.mmrv),
                "pairwise_rank_agreement": finite(self.pairwise_rank_agreement),
                "episodes": self.episodes,
                "seed": self.seed,
                "max_frames": self.max_frames,
                "eval_s": self.wall_s,
            },
        }

    @classmethod
    def from_eval_info(cls, info: dict) -> PolicyEvaluation:
        """Rebuild an evaluation from its :meth:`eval_info` (e.g. a saved ``eval_info.json``),
        to re-plot it or compare it with another run."""

        def episodes(block: dict) -> list[EpisodeResult]:
            return [
                EpisodeResult(e["episode_ix"], e["seed"], e["success"], e["frames"], e["sum_reward"], e["max_reward"])
                for e in block["per_episode"]
            ]

        def number(v):
            if isinstance(v, list):
                return tuple(number(x) for x in v)
            return math.nan if v is None else v

        s2r = info["sim_to_real"]
        keys = [k for k in s2r if k.startswith(("pearson", "spearman", "bootstrap", "policies"))]
        return cls(
            policies=[PolicyResult(n, episodes(w["dream"]), episodes(w["real"])) for n, w in info["policies"].items()],
            correlations={k: number(s2r[k]) for k in keys},
            mmrv=number(s2r["mmrv"]),
            pairwise_rank_agreement=number(s2r["pairwise_rank_agreement"]),
            episodes=s2r["episodes"],
            seed=s2r["seed"],
            max_frames=s2r["max_frames"],
            wall_s=s2r["eval_s"],
        )

    def plot(self, path: str | os.PathLike, title: str = "dream vs real success") -> Path:
        """A scatter PNG: real success (x) against dream success (y), Wilson 95% error bars,
        the diagonal, one labelled point per policy."""
        import io

        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6.4, 5.8), dpi=110)
        ax.plot([0, 1], [0, 1], color="0.7", lw=1, ls="--", zorder=0)
        labels: dict[tuple[float, float], list[str]] = {}
        for p in self.policies:
            x, y = p.rate("real"), p.rate("dream")
            (xl, xh), (yl, yh) = p.interval("real"), p.interval("dream")
            ax.errorbar(x, y, xerr=[[x - xl], [xh - x]], yerr=[[y - yl], [yh - y]], fmt="o", ms=6, capsize=3, alpha=0.8)
            labels.setdefault((x, y), []).append(p.name)
        # policies on one point share one label; neighbours alternate above and below their point
        for k, ((x, y), names) in enumerate(sorted(labels.items())):
            offset = (6, 5) if k % 2 == 0 else (6, -12)
            ax.annotate(", ".join(names), (x, y), textcoords="offset points", xytext=offset, fontsize=8)
        c = self.correlations
        ax.set_title(f"{title}\nPearson {c['pearson']:.2f}, Spearman {c['spearman']:.2f}, MMRV {self.mmrv:.3f}")
        ax.set_xlabel(f"real success ({self.episodes} episodes, Wilson 95% CI)")
        ax.set_ylabel("dream (world model) success")
        ax.set_xlim(-0.05, 1.05)
        ax.set_ylim(-0.05, 1.05)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)
        return atomic_write_bytes(path, buf.getvalue())

    def write(self, out_dir: str | os.PathLike) -> dict[str, Path]:
        """``eval_info.json``, ``report.md`` and ``scatter.png`` under ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        return {
            "eval_info": atomic_write_bytes(
                out / "eval_info.json", (json.dumps(self.eval_info(), indent=2) + "\n").encode()
            ),
            "report": atomic_write_bytes(out / "report.md", (self.markdown() + "\n").encode()),
            "scatter": self.plot(out / "scatter.png"),
        }


MAX_STEPS_WITHOUT_BUDGET = 10_000


def _goal_obs(frame: np.ndarray, goal: np.ndarray) -> dict:
    return {"observation": frame, "achieved_goal": frame, "desired_goal": goal}


def _reset_policy(policy, seed: int) -> None:
    reset = getattr(policy, "reset", None)
    if not callable(reset):
        return
    try:
        takes_seed = "seed" in inspect.signature(reset).parameters
    except (TypeError, ValueError):  # builtins without a signature
        takes_seed = False
    if takes_seed:
        reset(seed=seed)
    else:
        reset()


def _play(env, policy, obs, goal, judge, max_frames, index, reset_seed) -> EpisodeResult:
    """Run one episode from an env just reset (``obs``) until success or the frame budget."""
    _reset_policy(policy, reset_seed)
    frames_done, total, best, success = 0, 0.0, -math.inf, False
    for step in itertools.count():
        if max_frames is not None and frames_done >= max_frames:
            break
        if step >= MAX_STEPS_WITHOUT_BUDGET:
            raise RuntimeError(
                f"an episode ran {step} steps without ending; give max_frames= or an env with a time limit"
            )
        obs, reward, terminated, truncated, info = env.step(policy(_goal_obs(obs, goal)))
        frames = info.get("frames")
        frames = np.asarray(obs)[None] if frames is None else np.asarray(frames)
        frames_done += len(frames)
        total += float(reward)
        best = max(best, float(reward))
        success = bool(judge(frames, goal)) if judge is not None else bool(info.get("is_success", False))
        if success or terminated or truncated:
            break
    return EpisodeResult(index, reset_seed, success, frames_done, total, best)


def evaluate_policies(
    policies: Mapping[str, Callable],
    dream_env,
    real_env,
    episodes: int,
    seed: int,
    *,
    max_frames: int | None = None,
    real_options: Callable[[int], dict] | None = None,
    dream_success: Callable | None = None,
    real_success: Callable | None = None,
    n_boot: int = 2000,
    progress: Callable[[str, int, bool, bool], None] | None = None,
) -> PolicyEvaluation:
    """Evaluate every policy for ``episodes`` episodes in both worlds (see the module docstring).

    Args:
        policies: name -> policy callable (``policy(obs) -> action``, optional ``reset()``).
        dream_env: the world-model env (a :class:`~dreamgym.DreamEnv`, or a wrapper of one
            whose reset takes ``start_frame`` and ``goal_image`` options).
        real_env: the real env; its reset info must carry ``goal_image``.
        episodes: episodes per policy (>= 1); ``seed``: episode i resets both envs with
            ``seed + i``.
        max_frames: the frame budget of an episode in both worlds (None: until each env ends
            it; an episode still running after 10,000 steps is an error).
        real_options: episode index -> the real env's reset options (start state, goal).
        dream_success, real_success: success judges, see the module docstring.
        progress: called as ``progress(policy_name, episode, dream_success, real_success)``.
    """
    if not isinstance(policies, Mapping) or not policies:
        raise ValueError(f"policies must be a non-empty mapping name -> callable, got {policies!r}")
    for name, p in policies.items():
        if not callable(p):
            raise TypeError(f"policy {name!r} must be callable as policy(obs) -> action, got {p!r}")
    episodes = as_int(episodes, "episodes", low=1)
    seed = as_int(seed, "seed", low=0)
    if progress is not None and not callable(progress):
        raise TypeError(
            f"progress must be None or callable as progress(policy_name, episode, dream_success, real_success), "
            f"got {progress!r}"
        )
    if max_frames is not None and (isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 1):
        raise ValueError(f"max_frames must be None or an int >= 1, got {max_frames!r}")
    if max_frames is not None:
        for env_name, env in (("dream_env", dream_env), ("real_env", real_env)):
            shape = tuple(getattr(env.action_space, "shape", ()) or ())
            if len(shape) == 2 and max_frames % shape[0]:  # a chunk env runs whole chunks
                raise ValueError(
                    f"max_frames must be a multiple of {env_name}'s chunk of {shape[0]} actions (an episode "
                    f"runs whole chunks, so {max_frames} frames would run {-(-max_frames // shape[0]) * shape[0]}), "
                    f"got {max_frames}"
                )
    for name, judge in (("dream_success", dream_success), ("real_success", real_success)):
        if judge is not None and not callable(judge):
            raise TypeError(f"{name} must be None or callable as judge(frames, goal_image) -> bool, got {judge!r}")
    t0 = time.perf_counter()
    results = []
    for name, policy in policies.items():
        dream_eps, real_eps = [], []
        for i in range(episodes):
            options = dict(real_options(i)) if real_options is not None else None
            obs, info = real_env.reset(seed=seed + i, options=options)
            goal = info.get("goal_image")
            if goal is None:
                raise ValueError("the real env's reset info has no 'goal_image' (the goal both worlds are given)")
            start, goal = np.array(obs), np.array(goal)
            real_ep = _play(real_env, policy, obs, goal, real_success, max_frames, i, seed + i)
            obs, _ = dream_env.reset(seed=seed + i, options={"start_frame": start, "goal_image": goal})
            dream_ep = _play(dream_env, policy, obs, goal, dream_success, max_frames, i, seed + i)
            real_eps.append(real_ep)
            dream_eps.append(dream_ep)
            if progress is not None:
                progress(name, i, dream_ep.success, real_ep.success)
        results.append(PolicyResult(name, dream_eps, real_eps))
    dream = np.array([p.rate("dream") for p in results])
    real = np.array([p.rate("real") for p in results])
    outcomes = [([e.success for e in p.dream], [e.success for e in p.real]) for p in results]
    return PolicyEvaluation(
        policies=results,
        correlations=rank_correlations(dream, real, outcomes, n_boot=n_boot, seed=seed),
        mmrv=mmrv(dream, real),
        pairwise_rank_agreement=pairwise_rank_agreement(dream, real),
        episodes=episodes,
        seed=seed,
        max_frames=max_frames,
        wall_s=time.perf_counter() - t0,
    )
