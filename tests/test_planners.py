"""Planners, scorers and the MPC loop."""

import asyncio

import numpy as np
import pytest
import torch

from engine import RolloutBatch, get_spec
from engine.rollout import Rollout
from planners import CEM, MPC, AsyncMPC, Lattice, RandomShooting
from planners.viz import candidate_grid, plot_scores, write_candidate_grid


class ActionLog:
    """A RolloutModel whose frames are blank: for optimiser tests where only the actions
    matter (the scorer reads the actions). It records every action batch it is given."""

    def __init__(self, spec_name="tiny-random"):
        self.spec = get_spec(spec_name)
        self.seen = []

    def predict_batch(self, start_frame, actions, seed=0):
        actions = np.asarray(actions)
        self.seen.append(actions.copy())
        k, t, _ = actions.shape
        frames = np.zeros((k, t, *self.spec.resolution, 3), np.uint8)
        rs = [Rollout(frames[i], start_frame, actions[i], seed, "log", "", 0, 0.0, 10) for i in range(k)]
        return RolloutBatch.from_rollouts(rs, 0.0)


def quadratic(target):
    target = torch.as_tensor(target, dtype=torch.float64)

    def scorer(frames, actions):
        a = torch.as_tensor(np.asarray(actions), dtype=torch.float64)
        return -((a - target) ** 2).sum(dim=(1, 2))

    return scorer


FRAME = np.zeros((32, 32, 3), np.uint8)
H = 8
TARGET_VARYING = np.stack([np.linspace(-0.6, 0.6, H), np.linspace(0.5, -0.3, H)], 1)
TARGET_CONST = np.tile([[0.3, -0.45]], (H, 1))


@pytest.mark.parametrize(
    "make, target, tol",
    [
        (lambda m, s: CEM(m, s, horizon=H, population=64, iterations=12, elites=8, seed=0), TARGET_VARYING, 0.05),
        (
            lambda m, s: CEM(
                m, s, horizon=H, population=64, iterations=12, elites=8, beta=1.0, keep_elites=0.3, seed=0
            ),
            TARGET_VARYING,
            0.08,
        ),
        (
            lambda m, s: RandomShooting(m, s, horizon=H, population=256, iterations=8, std=0.2, seed=0),
            TARGET_VARYING,
            0.3,
        ),
        (lambda m, s: Lattice(m, s, horizon=H, population=24, iterations=10, seed=0), TARGET_CONST, 0.05),
    ],
    ids=["cem", "icem", "random-shooting", "lattice"],
)
def test_planner_reaches_the_optimum_of_a_quadratic(make, target, tol):
    result = make(ActionLog(), quadratic(target)).plan(FRAME)
    assert result.actions.shape == (H, 2) and result.actions.dtype == np.float32
    assert np.abs(result.actions - target).max() < tol
    assert result.score <= 0 and result.model_calls >= 1 and result.rollouts >= result.candidates.shape[0]


@pytest.mark.parametrize("cls", [CEM, RandomShooting, Lattice])
def test_bounds_are_always_respected(cls):
    model = ActionLog()
    result = cls(model, quadratic(np.full((H, 2), 3.0)), horizon=H, population=16, iterations=3, seed=0).plan(FRAME)
    seen = np.concatenate(model.seen)
    assert seen.min() >= -1 and seen.max() <= 1
    assert result.actions.min() >= -1 and result.actions.max() <= 1 and result.actions.mean() > 0.2


@pytest.mark.parametrize("cls", [CEM, RandomShooting, Lattice])
def test_same_seed_gives_the_same_plan(cls):
    kw = dict(horizon=H, population=16, iterations=2)
    a = cls(ActionLog(), quadratic(TARGET_VARYING), seed=3, **kw).plan(FRAME)
    b = cls(ActionLog(), quadratic(TARGET_VARYING), seed=3, **kw).plan(FRAME)
    c = cls(ActionLog(), quadratic(TARGET_VARYING), seed=4, **kw).plan(FRAME)
    assert np.array_equal(a.actions, b.actions) and np.array_equal(a.candidates, b.candidates)
    if cls is not Lattice:  # the lattice itself is deterministic; its random top-up needs population > 19
        assert not np.array_equal(a.candidates, c.candidates)


def test_warm_start_is_the_previous_plan_shifted():
    model = ActionLog()
    planner = CEM(model, quadratic(TARGET_VARYING), horizon=H, population=8, iterations=1, seed=0)
    plan = np.arange(H * 2, dtype=np.float32).reshape(H, 2) / 100
    planner.shift(3, plan)
    want = np.concatenate([plan[3:], np.repeat(plan[-1:], 3, 0)])
    assert np.allclose(planner.base_plan().numpy(), want)
    planner.plan(FRAME)
    assert any(np.allclose(c, want) for c in model.seen[0])  # seeded as a candidate


def test_horizon_must_be_a_multiple_of_the_chunk():
    with pytest.raises(ValueError, match="multiple of chunk_size = 4"):
        CEM(ActionLog(), quadratic(TARGET_VARYING), horizon=6)


@pytest.mark.parametrize(
    "make, exc, msg",
    [
        (lambda m, sc: CEM(object(), sc, horizon=H), TypeError, "model must be a RolloutModel"),
        (lambda m, sc: CEM(m, 3, horizon=H), TypeError, "scorer must be callable"),
        (lambda m, sc: CEM(m, sc, horizon=H, population=0), ValueError, "population must be an int >= 1, got 0"),
        (lambda m, sc: CEM(m, sc, horizon=H, population=4, elites=8), ValueError, r"elites must be an int in \[1, 4\]"),
        (lambda m, sc: CEM(m, sc, horizon=H, init_std=-1.0), ValueError, "init_std must be > 0"),
        (lambda m, sc: CEM(m, sc, horizon=H, init_std=float("nan")), ValueError, "init_std must be a finite number"),
        (lambda m, sc: CEM(m, sc, horizon=H, beta=float("nan")), ValueError, "beta must be a finite number, got nan"),
        (lambda m, sc: CEM(m, sc, horizon=H, momentum=1.0), ValueError, "momentum must be < 1"),
        (lambda m, sc: RandomShooting(m, sc, horizon=H, std=-1.0), ValueError, "std must be >= 0"),
        (lambda m, sc: RandomShooting(m, sc, horizon=H, std=float("nan")), ValueError, "std must be a finite number"),
        (lambda m, sc: Lattice(m, sc, horizon=H, shrink=0), ValueError, "shrink must be > 0"),
        (lambda m, sc: CEM(m, sc, horizon=H, max_batch=0), ValueError, "max_batch must be an int >= 1"),
        (lambda m, sc: CEM(m, sc, horizon=H, population=2.5), ValueError, "population must be an int >= 1, got float"),
        (lambda m, sc: MPC(CEM(m, sc, horizon=H), execute_steps=0), ValueError, "execute_steps must be in"),
        (lambda m, sc: MPC(CEM(m, sc, horizon=H), execute_steps=H + 1), ValueError, "execute_steps must be in"),
        (lambda m, sc: MPC(CEM(m, sc, horizon=H), execute_steps=2.5), ValueError, "execute_steps must be in"),
    ],
)
def test_bad_planner_arguments_are_named(make, exc, msg):
    with pytest.raises(exc, match=msg):
        make(ActionLog(), quadratic(TARGET_VARYING))


def test_numpy_integers_are_accepted_for_sizes():
    p = CEM(ActionLog(), quadratic(TARGET_VARYING), horizon=np.int64(H), population=np.int32(6), elites=np.int64(2))
    assert (p.horizon, p.population, p.n_elites) == (H, 6, 2) and type(p.horizon) is int


def test_nan_in_init_is_named():
    p = CEM(ActionLog(), quadratic(TARGET_VARYING), horizon=H)
    init = np.zeros((H, 2), np.float32)
    init[1, 0] = np.nan
    with pytest.raises(ValueError, match="init must be finite; it holds 1 NaN"):
        p.plan(np.zeros((32, 32, 3), np.uint8), init=init)


def test_a_goal_of_the_wrong_size_is_refused_when_the_planner_is_made():
    from planners.scorers import GoalDistance, Weighted

    model = ActionLog()
    model.seen = None  # any rollout would fail: the check must come first
    with pytest.raises(ValueError, match=r"goal image is \(16, 16\).*predicts \(32, 32\)"):
        CEM(model, GoalDistance(np.zeros((16, 16, 3), np.uint8)), horizon=H)
    with pytest.raises(ValueError, match="goal image is"):
        CEM(model, Weighted([(1.0, GoalDistance(np.zeros((16, 16, 3), np.uint8)))]), horizon=H)
    with pytest.raises(ValueError, match=f"time weights have 3 entries; the plan has horizon = {H}"):
        CEM(model, GoalDistance(np.zeros((32, 32, 3), np.uint8), weighting=[1, 1, 1]), horizon=H)


def test_nan_scores_are_never_chosen():
    def scorer(frames, actions):
        a = torch.as_tensor(np.asarray(actions))
        s = -(a**2).sum(dim=(1, 2)).double()
        s[a[:, 0, 0] > 0] = float("nan")  # every candidate with a positive first action is NaN
        return s

    result = RandomShooting(ActionLog(), scorer, horizon=H, population=32, seed=0).plan(FRAME)
    assert np.isfinite(result.score) and result.actions[0, 0] <= 0
    assert np.isneginf(result.scores[np.isnan(result.scores) | (result.candidates[:, 0, 0] > 0)]).all()


def test_micro_batching_gives_the_same_plan_on_the_real_engine(tiny):
    from planners.scorers import GoalDistance

    frame = (np.random.default_rng(0).random((32, 32, 3)) * 255).astype(np.uint8)
    goal = frame[::-1].copy()
    kw = dict(horizon=4, population=6, iterations=2, elites=2, seed=1)
    whole = CEM(tiny, GoalDistance(goal), **kw).plan(frame)
    split = CEM(tiny, GoalDistance(goal), max_batch=4, **kw).plan(frame)
    assert np.array_equal(whole.actions, split.actions) and whole.score == split.score
    assert split.model_calls > whole.model_calls


def test_lattice_candidates_can_be_injected_into_cem():
    model = ActionLog()
    lat = Lattice(ActionLog(), quadratic(TARGET_CONST), horizon=H)
    CEM(model, quadratic(TARGET_CONST), horizon=H, population=40, iterations=1, extra_candidates=lat.candidates).plan(
        FRAME
    )
    injected = lat.candidates(np.zeros((H, 2), np.float32))
    assert all(any(np.allclose(c, x) for c in model.seen[0]) for x in injected)


def test_callback_sees_every_iteration():
    calls = []
    CEM(
        ActionLog(),
        quadratic(TARGET_CONST),
        horizon=H,
        population=8,
        iterations=4,
        elites=2,
        callback=lambda i, info: calls.append((i, info["best"])),
    ).plan(FRAME)
    assert [i for i, _ in calls] == [0, 1, 2, 3]
    bests = [b for _, b in calls]
    assert bests == sorted(bests)


def test_cem_can_return_the_best_sample():
    scorer = quadratic(TARGET_VARYING)
    result = CEM(ActionLog(), scorer, horizon=H, population=16, iterations=2, elites=4, return_mean=False).plan(FRAME)
    assert result.score == max(h["best"] for h in result.history)
    assert float(scorer(None, result.actions[None])[0]) == pytest.approx(result.score)


# --- MPC -----------------------------------------------------------------------------------


def test_mpc_executes_one_chunk_and_warm_starts():
    model = ActionLog()
    mpc = MPC(CEM(model, quadratic(TARGET_VARYING), horizon=H, population=8, iterations=1, elites=2))
    first = mpc.act(FRAME)
    assert first.shape == (4, 2)
    plan = mpc.last.actions
    mpc.act(FRAME)
    want = np.concatenate([plan[4:], np.repeat(plan[-1:], 4, 0)])
    assert any(np.allclose(c, want) for c in model.seen[-2])  # the shifted plan was a candidate


def test_async_mpc_matches_sync():
    def make():
        return CEM(ActionLog(), quadratic(TARGET_VARYING), horizon=H, population=8, iterations=2, elites=2, seed=5)

    sync = MPC(make()).act(FRAME)
    amp = AsyncMPC(make())

    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        t = asyncio.create_task(ticker())
        out = await amp.act_async(FRAME)
        t.cancel()
        return out, ticks

    out, ticks = asyncio.run(main())
    amp.close()
    assert np.array_equal(out, sync) and ticks > 0


def toy_reach():
    """A toy-world reach episode and a CEM on the exact model: (env, first obs, planner)."""
    import gymnasium as gym

    import dreamgym
    from planners.scorers import GoalDistance

    env = gym.make("dreamgym/Push-v0", task="reach")
    obs, info = env.reset(seed=0, options={"state": [20, 20, 44, 44], "goal": [34, 16, 44, 44]})
    model, scorer = dreamgym.ToyWorldModel(), GoalDistance(info["goal_image"], blur_sigma=6.0)
    return env, obs, CEM(model, scorer, horizon=16, population=24, iterations=2, elites=4, seed=0)


def test_mpc_reaches_a_goal_in_the_toy_world():
    from dreamgym import toyworld as tw

    env, obs, planner = toy_reach()
    trace = MPC(planner).run(env, max_steps=32, obs=obs)
    assert trace.success
    assert trace.frames.shape[0] == trace.actions.shape[0] + 1
    assert np.linalg.norm(tw.locate(trace.frames[-1])[:2] - [34, 16]) < 3


def test_background_planning_plans_each_chunk_from_the_predicted_frame_and_reaches_the_goal():
    """With ``background=True`` every plan after the first starts from the model's frame at
    the end of the chunk then executing (made while it executed), not from the real frame."""
    env, obs, planner = toy_reach()
    seen = []
    plan = planner.plan

    def spying_plan(frame, init=None):
        seen.append(np.array(frame))
        return plan(frame, init)

    planner.plan = spying_plan
    mpc = MPC(planner)
    trace = mpc.run(env, max_steps=32, obs=obs, background=True)
    assert trace.success and len(seen) >= 2
    np.testing.assert_array_equal(seen[0], obs)
    expected = mpc.predicted_frame(trace.frames[0], trace.plans[0].actions)  # a fresh rollout of the plan
    np.testing.assert_array_equal(seen[1], expected)
    assert trace.plans[0].plan_frames.shape == (16, 64, 64, 3)  # CEM's own rollout of its plan, reused
    np.testing.assert_array_equal(trace.plans[0].plan_frames[7], expected)
    assert not np.array_equal(seen[1], trace.frames[0])


# --- visual output -------------------------------------------------------------------------


def test_candidate_grid_and_score_plot(tmp_path):
    frames = np.random.default_rng(0).integers(0, 255, (5, 4, 16, 16, 3), dtype=np.uint8)
    grid = candidate_grid(frames, np.array([0.1, 0.5, np.nan, -1, 0.3]), scale=2)
    assert grid.shape[0] == 4 and grid.shape[1] % 2 == 0 and grid.shape[2] % 2 == 0
    # best first: the tile of candidate 1 sits at the top-left
    assert np.array_equal(grid[:, 12 + 2 : 12 + 30, 2:30], frames[1].repeat(2, 1).repeat(2, 2)[:, 2:30, 2:30])
    path = write_candidate_grid(tmp_path / "grid.mp4", frames, np.arange(5.0))
    assert path.stat().st_size > 0
    result = CEM(ActionLog(), quadratic(TARGET_CONST), horizon=H, population=8, iterations=3, elites=2).plan(FRAME)
    png = plot_scores(tmp_path / "scores.png", [result, result])
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_engine_satisfies_the_rollout_model_protocol(tiny):
    from planners import RolloutModel

    assert isinstance(tiny, RolloutModel)


def test_a_lattice_cem_replan_encodes_the_start_frame_once():
    """Three predict_batch calls from one frame: one start encode (cached), and a handoff
    encode only between chunks (none after the last): 1 + 3 x 1 = 4 VAE encodes, not 9."""
    from engine import Engine
    from planners import lattice_cem
    from planners.scorers import GoalDistance

    eng = Engine.load("push-64")
    calls = []
    encode = eng.tokenizer.encode
    eng.tokenizer.encode = lambda frames: calls.append(len(frames)) or encode(frames)
    planner = lattice_cem(eng, GoalDistance(eng.example_frames[1], blur_sigma=6), horizon=16)
    planner.plan(eng.example_frames[0])
    assert len(calls) == 4


def test_a_solver_supplies_only_propose_and_the_base_runs_the_search():
    """The base class owns the loop (evaluate, record, history, PlanResult); a solver that only
    proposes candidates is a working planner."""
    from planners import TrajectoryOptimizer

    class Grid(TrajectoryOptimizer):
        def propose(self, state, iteration, best):
            levels = torch.linspace(self.low, self.high, self.population)
            return levels[:, None, None].expand(-1, self.horizon, self.action_dim).clone()

    model = ActionLog()
    h = model.spec.chunk_size
    result = Grid(
        model, quadratic(np.full((h, model.spec.action_dim), 0.5)), horizon=h, population=5, iterations=2
    ).plan(np.zeros((*model.spec.resolution, 3), np.uint8))
    np.testing.assert_allclose(result.actions, 0.5)
    assert result.score == pytest.approx(0.0) and len(result.history) == 2
    assert result.candidates.shape == (5, h, model.spec.action_dim) and result.model_calls == 2
