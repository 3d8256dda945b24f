"""Sim-to-real policy evaluation: the statistics, the toy world's policy zoo and success judge,
and ``evaluate_policies`` on push-64 against the toy world."""

import json
import math

import gymnasium as gym
import numpy as np
import pytest
from PIL import Image

import dreamgym  # noqa: F401
from dreamgym import ChunkedEnv, DreamEnv, PerStepAdapter
from dreamgym.evaluation import (
    PolicyEvaluation,
    evaluate_policies,
    mmrv,
    pairwise_rank_agreement,
    rank_correlations,
    wilson_interval,
)
from dreamgym.toyworld import render
from dreamgym.toyworld.world import TOY
from dreamgym.toyworld.zoo import FrameSuccess, GoToGoal, PushController, RandomPolicy, policy_zoo


def OPTIONS(i: int) -> dict:  # noqa: N802 - a fixed series of reset options, named like a constant
    return TOY.reset_options(*TOY.task("push", i, "tests"), "push")


# ------------------------------------------------------------------------------- statistics
@pytest.mark.parametrize("k, n", [(0, 10), (5, 10), (10, 10), (47, 50), (1, 3)])
def test_wilson_interval_matches_scipy(k, n):
    from scipy.stats import binomtest

    ref = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(ref.low, abs=1e-12) and hi == pytest.approx(ref.high, abs=1e-12)
    if (k, n) == (5, 10):
        assert (round(lo, 4), round(hi, 4)) == (0.2366, 0.7634)  # the textbook value


def test_wilson_interval_refuses_impossible_counts():
    with pytest.raises(ValueError, match="successes=11, n=10"):
        wilson_interval(11, 10)


def test_correlations_of_a_perfect_and_of_a_constant_ranking():
    x, y = [0.1, 0.4, 0.5, 0.9, 1.0], [0.0, 0.3, 0.6, 0.8, 1.0]
    c = rank_correlations(x, y)
    r = np.corrcoef(x, y)[0, 1]
    assert c["spearman"] == pytest.approx(1.0) and c["pearson"] == pytest.approx(r)
    half = 1.959963984540054 / math.sqrt(5 - 3)  # Fisher z: atanh(r) +/- z / sqrt(n - 3)
    assert c["pearson_ci95"] == pytest.approx((math.tanh(math.atanh(r) - half), math.tanh(math.atanh(r) + half)))
    flat = rank_correlations([0.5, 0.5, 0.5, 0.5], [0.1, 0.2, 0.3, 0.4])
    assert math.isnan(flat["pearson"]) and math.isnan(flat["spearman"])
    with pytest.raises(ValueError, match=r"one rate per policy, shapes \(P,\), got \(3,\) and \(2,\)"):
        rank_correlations([0.1, 0.2, 0.3], [0.1, 0.2])


def test_bootstrap_intervals_are_seeded_and_cover_the_estimate():
    rng = np.random.default_rng(0)
    outcomes = [(rng.random(30) < p, rng.random(30) < p) for p in (0.1, 0.3, 0.5, 0.7, 0.9)]
    dream = [np.mean(d) for d, _ in outcomes]
    real = [np.mean(r) for _, r in outcomes]
    a = rank_correlations(dream, real, outcomes, n_boot=300, seed=1)
    b = rank_correlations(dream, real, outcomes, n_boot=300, seed=1)
    assert a == b
    lo, hi = a["pearson_bootstrap_ci95"]
    assert lo <= a["pearson"] <= hi


def test_mmrv_and_pairwise_agreement_known_values():
    real = [0.9, 0.5, 0.1]
    assert mmrv([0.8, 0.6, 0.0], real) == 0.0 and pairwise_rank_agreement([0.8, 0.6, 0.0], real) == 1.0
    # the dream swaps the first two: each of them violates by |0.9 - 0.5|; the third is fine
    assert mmrv([0.5, 0.8, 0.0], real) == pytest.approx((0.4 + 0.4 + 0.0) / 3)
    assert pairwise_rank_agreement([0.5, 0.8, 0.0], real) == pytest.approx(2 / 3)


# ------------------------------------------------------------------ the toy world's policies
def test_frame_success_reads_the_block_against_the_goal_image():
    judge = FrameSuccess("push")
    goal = render(np.array([[10.0, 32, 30, 32]]))[0]
    near = render(np.array([[10.0, 50, 33, 32], [10.0, 50, 40, 32]]))
    assert judge(near, goal) and not judge(near[1:], goal)
    empty = np.full((1, 64, 64, 3), 235, np.uint8)  # nothing visible: not a success, not an error
    assert not judge(empty, goal)
    with pytest.raises(ValueError, match="task must be one of"):
        FrameSuccess("stack")


def test_the_zoo_is_graded_in_the_real_world():
    real = ChunkedEnv(gym.make("dreamgym/Push-v0", max_episode_steps=10_000), chunk_size=8)
    zoo = policy_zoo()
    assert len(zoo) >= 6

    def rate(policy, episodes=12):
        wins = 0
        for i in range(episodes):
            obs, info = real.reset(seed=i, options=OPTIONS(i))
            for _ in range(4):
                action = policy({"observation": obs, "desired_goal": info["goal_image"]})
                obs, _, terminated, _, info = real.step(action)
                if terminated:
                    break
            wins += info["is_success"]
        return wins / episodes

    assert rate(zoo["push"]) >= 0.75 and rate(zoo["random"]) == 0.0
    assert rate(zoo["push"]) > rate(zoo["push-misaimed60"])


# --------------------------------------------------------------------- evaluate_policies
@pytest.fixture(scope="module")
def small_eval(push):
    policies = {"push": PushController(), "go-to-goal": GoToGoal(), "random": RandomPolicy(seed=0)}
    real = ChunkedEnv(gym.make("dreamgym/Push-v0", max_episode_steps=10_000), chunk_size=8)
    run = lambda: evaluate_policies(  # noqa: E731
        policies,
        DreamEnv(engine=push),
        real,
        episodes=3,
        seed=0,
        max_frames=16,
        real_options=OPTIONS,
        dream_success=FrameSuccess("push"),
        n_boot=200,
    )
    return run(), run()


def test_evaluate_policies_pairs_episodes_and_reports(small_eval, tmp_path):
    ev, again = small_eval
    assert [p.name for p in ev.policies] == ["push", "go-to-goal", "random"]
    for p in ev.policies:
        assert [e.index for e in p.dream] == [e.index for e in p.real] == [0, 1, 2]
        assert all(e.frames <= 16 and e.frames % 8 == 0 for e in p.dream + p.real)
    assert ev.policies[2].rate("real") == 0.0
    assert ev.eval_info()["policies"] == again.eval_info()["policies"]  # deterministic, episode for episode
    paths = ev.write(tmp_path)
    info = json.loads(paths["eval_info"].read_text())
    real = info["policies"]["push"]["real"]
    assert set(real) == {"per_episode", "aggregated"}
    assert {"episode_ix", "sum_reward", "max_reward", "success", "seed"} <= set(real["per_episode"][0])
    assert {"pc_success", "avg_sum_reward", "avg_max_reward"} <= set(real["aggregated"])
    assert {"pearson", "spearman", "mmrv", "pairwise_rank_agreement"} <= set(info["sim_to_real"])
    table = paths["report"].read_text()
    assert "| push |" in table and "Pearson r =" in table and "MMRV" in table
    with Image.open(paths["scatter"]) as im:
        assert im.format == "PNG" and im.size[0] > 300
    reloaded = PolicyEvaluation.from_eval_info(info)
    assert reloaded.markdown() == ev.markdown() and reloaded.eval_info() == json.loads(json.dumps(ev.eval_info()))


def test_per_step_policies_run_through_the_adapter(push):
    """A per-step policy (one action per step) in a per-step dream env and the per-step toy world."""

    def towards_goal(obs):
        from dreamgym.toyworld import locate

        p = locate(obs["observation"])[:2]
        g = locate(obs["desired_goal"])[2:]
        return np.clip(0.5 * (g - p), -1, 1).astype(np.float32) if np.isfinite(p).all() else np.zeros(2, np.float32)

    ev = evaluate_policies(
        {"towards": towards_goal},
        PerStepAdapter(DreamEnv(engine=push), mode="open_loop"),
        gym.make("dreamgym/Push-v0", max_episode_steps=10_000),
        episodes=1,
        seed=0,
        max_frames=16,
        real_options=OPTIONS,
        dream_success=FrameSuccess("push"),
        n_boot=10,
    )
    assert ev.policies[0].dream[0].frames <= 16 and ev.policies[0].real[0].frames <= 16


def test_without_a_frame_budget_episodes_end_where_the_envs_end_them(push):
    """max_frames=None: the envs' time limits end the episodes (3 steps of Push-v0, 2 chunks
    of Dream-v0)."""
    ev = evaluate_policies(
        {"random": RandomPolicy()},
        gym.make("dreamgym/Dream-v0", engine=push, max_episode_steps=2),
        ChunkedEnv(gym.make("dreamgym/Push-v0", max_episode_steps=3), chunk_size=8),
        episodes=1,
        seed=0,
        real_options=OPTIONS,
        dream_success=FrameSuccess("push"),
        n_boot=10,
    )
    assert ev.policies[0].real[0].frames == 8  # truncated inside the first chunk, padded to 8
    assert ev.policies[0].dream[0].frames == 16
    assert "until each env ended the episode" in ev.markdown()


def test_evaluate_policies_refuses_bad_arguments(push):
    real = ChunkedEnv(gym.make("dreamgym/Push-v0", max_episode_steps=10_000), chunk_size=8)
    dream = DreamEnv(engine=push)
    kw = dict(episodes=1, seed=0, max_frames=8)
    with pytest.raises(ValueError, match="non-empty mapping"):
        evaluate_policies({}, dream, real, **kw)
    with pytest.raises(TypeError, match="policy 'x' must be callable"):
        evaluate_policies({"x": 3}, dream, real, **kw)
    with pytest.raises(ValueError, match="episodes must be an int >= 1, got 0"):
        evaluate_policies({"r": RandomPolicy()}, dream, real, episodes=0, seed=0, max_frames=8)
    with pytest.raises(ValueError, match="max_frames must be None or an int >= 1, got 0"):
        evaluate_policies({"r": RandomPolicy()}, dream, real, episodes=1, seed=0, max_frames=0)
    with pytest.raises(ValueError, match="multiple of dream_env's chunk of 8 .*would run 8.*got 5"):
        evaluate_policies({"r": RandomPolicy()}, dream, real, episodes=1, seed=0, max_frames=5)
    no_goal = DreamEnv(engine=push)  # resets from its example frames, with no goal
    with pytest.raises(ValueError, match="no 'goal_image'"):
        evaluate_policies({"r": RandomPolicy()}, dream, no_goal, **kw)
