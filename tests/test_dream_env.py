"""DreamEnv and DreamVectorEnv (on the tiny random model; the embedded model in test_push_model)."""

import gymnasium as gym
import numpy as np
import pytest
from conftest import smooth_frame
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

import dreamgym  # noqa: F401  (registers the ids)
from dreamgym import ChunkedEnv, DreamEnv, PerStepAdapter, RecordMP4
from engine import decode_mp4, encode_mp4


@pytest.fixture(scope="module")
def starts():
    return np.stack([smooth_frame(32, 32, i) for i in range(4)])


def make(starts, **kw):
    return gym.make("dreamgym/Dream-v0", engine="tiny-random", start_frames=starts, **kw)


def chunk(env, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)


def test_check_env_passes(starts):
    check_env(make(starts).unwrapped)


def test_spaces_follow_the_spec(starts):
    env = make(starts)
    assert env.observation_space.shape == (32, 32, 3) and env.observation_space.dtype == np.uint8
    assert env.action_space.shape == (4, 2) and env.action_space.dtype == np.float32
    assert np.all(env.action_space.low == -1) and np.all(env.action_space.high == 1)


def test_same_seed_same_episode(starts):
    a, b = make(starts), make(starts)
    oa, ia = a.reset(seed=3)
    ob, ib = b.reset(seed=3)
    assert np.array_equal(oa, ob) and ia["engine_seed"] == ib["engine_seed"]
    for t in range(3):
        ra, rb = a.step(chunk(a, t)), b.step(chunk(b, t))
        assert np.array_equal(ra[0], rb[0]) and np.array_equal(ra[4]["frames"], rb[4]["frames"])


def test_different_seeds_differ(starts):
    env = make(starts)
    env.reset(seed=1)
    f1 = env.step(chunk(env))[4]["frames"]
    env.reset(seed=2)
    f2 = env.step(chunk(env))[4]["frames"]
    assert not np.array_equal(f1, f2)


def test_episode_equals_engine_predict(starts):
    env = make(starts)
    obs, info = env.reset(seed=5)
    actions = [chunk(env, t) for t in range(3)]
    frames = [env.step(a)[4]["frames"] for a in actions]
    eng = env.unwrapped.engine
    whole = eng.predict(obs, np.concatenate(actions), seed=info["engine_seed"])
    assert np.array_equal(np.concatenate(frames), whole.frames)


def test_observation_is_last_frame_of_chunk(starts):
    env = make(starts)
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(chunk(env))
    assert np.array_equal(obs, info["frames"][-1]) and info["frames"].shape == (4, 32, 32, 3)
    assert type(reward) is float and type(terminated) is bool and type(truncated) is bool


def test_start_frame_option(starts):
    env = make(starts)
    frame = smooth_frame(32, 32, 99)
    obs, _ = env.reset(seed=0, options={"start_frame": frame})
    assert np.array_equal(obs, frame)


def test_start_frames_from_a_directory(tmp_path, starts):
    from PIL import Image

    for i, f in enumerate(starts[:2]):
        Image.fromarray(f).save(tmp_path / f"{i}.png")
    np.savez(tmp_path / "eps.npz", frames=np.stack([np.stack([starts[2]] * 3)]))
    env = gym.make("dreamgym/Dream-v0", engine="tiny-random", start_frames=str(tmp_path))
    assert len(env.unwrapped.start_frames) == 3


def test_reset_without_any_start_frame_explains(tiny):
    from engine import Engine

    bare = Engine(tiny.spec, tiny.vae, tiny.dit)  # no example frames
    env = DreamEnv(engine=bare)
    with pytest.raises(ValueError, match="start_frame"):
        env.reset(seed=0)


def test_scorer_gives_reward_and_success_fn_terminates(starts):
    calls = []

    def scorer(frames, actions):
        calls.append((frames.shape, actions.shape))
        return -np.abs(frames.astype(float) - 128).mean(axis=(1, 2, 3, 4))

    env = make(starts, scorer=scorer, success_fn=lambda frames: True)
    env.reset(seed=0)
    _, reward, terminated, _, info = env.step(chunk(env))
    assert calls == [((1, 4, 32, 32, 3), (1, 4, 2))] and reward < 0
    assert terminated is True and info["is_success"] is True


def test_a_nan_score_is_the_worst_finite_reward_with_a_warning(starts):
    """One NaN policy (engine.scoring): planners rank NaN as -inf; an env, whose rewards go to
    RL code, gets the worst finite reward, and says so."""
    env = make(starts, scorer=lambda frames, actions: np.full(len(frames), np.nan))
    env.reset(seed=0)
    with pytest.warns(RuntimeWarning, match="non-finite score"):
        _, reward, _, _, _ = env.step(chunk(env))
    assert reward == -1e9


def test_truncation_after_max_episode_steps(starts):
    env = make(starts, max_episode_steps=2)
    env.reset(seed=0)
    assert env.step(chunk(env))[3] is False
    assert env.step(chunk(env))[3] is True


@pytest.mark.parametrize(
    "kw, exc, msg",
    [
        (dict(scorer=3), TypeError, "scorer must be None or callable"),
        (dict(success_fn="done"), TypeError, "success_fn must be None or callable"),
        (dict(num_steps=0), ValueError, "num_steps"),
        (dict(guidance=float("nan")), ValueError, "guidance"),
    ],
)
@pytest.mark.parametrize("vector", [False, True])
def test_bad_env_options_are_named_when_the_env_is_made(starts, kw, exc, msg, vector):
    with pytest.raises(exc, match=msg):
        if vector:
            gym.make_vec("dreamgym/Dream-v0", num_envs=2, engine="tiny-random", start_frames=starts, **kw)
        else:
            make(starts, **kw)


def test_engine_is_shared_between_envs(starts):
    assert make(starts).unwrapped.engine is make(starts).unwrapped.engine


def test_engine_argument_takes_a_spec_name_a_checkpoint_path_or_an_engine(starts, tmp_path):
    tiny = make(starts).unwrapped.engine
    tiny.save(tmp_path / "ckpt")
    by_engine = gym.make("dreamgym/Dream-v0", engine=tiny, start_frames=starts)
    by_path = gym.make("dreamgym/Dream-v0", engine=tmp_path / "ckpt", start_frames=starts)
    by_str = gym.make("dreamgym/Dream-v0", engine=str(tmp_path / "ckpt"), start_frames=starts)
    assert by_engine.unwrapped.engine is tiny
    assert by_path.unwrapped.engine is not tiny and by_str.unwrapped.engine.spec.name == tiny.spec.name
    outs = []
    for env in (make(starts), by_engine, by_path, by_str):
        env.reset(seed=5)
        outs.append(env.step(chunk(env))[0])
    assert all(np.array_equal(outs[0], o) for o in outs[1:])  # same weights, same seed, same frame
    with pytest.raises(TypeError, match="spec name, a checkpoint path, a server URL, an Engine or a RemoteEngine"):
        gym.make("dreamgym/Dream-v0", engine=3, start_frames=starts)


@pytest.mark.parametrize(
    "bad, exc, msg",
    [
        (np.zeros((4, 3), np.float32), ValueError, "action_dim = 2"),
        (np.zeros((8, 2), np.float32), ValueError, "one chunk"),
        (np.zeros(2, np.float32), ValueError, r"\(T, action_dim\)"),
        (np.full((4, 2), np.nan, np.float32), ValueError, "finite"),
        (np.full((4, 2), 2.0, np.float32), ValueError, "bounds"),
        (np.zeros((4, 2), bool), TypeError, "real numbers"),
    ],
)
def test_bad_actions_raise(starts, bad, exc, msg):
    env = make(starts)
    env.reset(seed=0)
    with pytest.raises(exc, match=msg):
        env.step(bad)


@pytest.mark.parametrize(
    "frame, exc, msg",
    [
        (np.zeros((16, 32, 3), np.uint8), ValueError, "expects"),
        (np.zeros((32, 32, 3), np.float32), TypeError, "uint8"),
        (np.zeros((32, 32), np.uint8), ValueError, "H, W, 3"),
    ],
)
def test_bad_start_frames_raise(starts, frame, exc, msg):
    env = make(starts)
    with pytest.raises(exc, match=msg):
        env.reset(seed=0, options={"start_frame": frame})


# --- vector env ---------------------------------------------------------------------------


def _success(frames):
    return bool(int(frames[-1].sum()) % 3 == 0)


def _run(venv, n, steps, seed=0):
    rng = np.random.default_rng(seed)
    out = [venv.reset(seed=10)]
    for _ in range(steps):
        a = rng.uniform(-1, 1, (n, 4, 2)).astype(np.float32)
        out.append(venv.step(a))
    return out


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_vector_env_matches_sequential_reference(starts, mode):
    n, kw = 3, dict(engine="tiny-random", start_frames=starts, success_fn=_success, max_episode_steps=3)
    batched = gym.make_vec("dreamgym/Dream-v0", num_envs=n, vector_kwargs={}, autoreset_mode=mode, **kw)
    assert type(batched.unwrapped).__name__ == "DreamVectorEnv"
    ref = gym.make_vec(
        "dreamgym/Dream-v0", num_envs=n, vectorization_mode="sync", vector_kwargs={"autoreset_mode": mode}, **kw
    )
    got, want = _run(batched, n, 7), _run(ref, n, 7)
    ended = 0
    for g, w in zip(got[1:], want[1:], strict=True):
        for a, b in zip(g[:4], w[:4], strict=True):
            assert np.array_equal(a, b)
        ended += int(np.sum(g[2] | g[3]))
        if mode == AutoresetMode.SAME_STEP and "final_obs" in w[4]:
            for i in np.flatnonzero(w[4]["_final_obs"]):
                assert np.array_equal(g[4]["final_obs"][i], w[4]["final_obs"][i])
    assert ended >= 2  # the run really exercised autoreset


def test_vector_env_disabled_mode_with_reset_mask(starts):
    n, kw = 3, dict(engine="tiny-random", start_frames=starts, max_episode_steps=2)
    batched = gym.make_vec("dreamgym/Dream-v0", num_envs=n, autoreset_mode=AutoresetMode.DISABLED, **kw)
    ref = gym.make_vec(
        "dreamgym/Dream-v0",
        num_envs=n,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": AutoresetMode.DISABLED},
        **kw,
    )
    rng = np.random.default_rng(0)
    for env in (batched, ref):
        env.reset(seed=4)
    acts = [rng.uniform(-1, 1, (n, 4, 2)).astype(np.float32) for _ in range(2)]
    for a in acts:
        g, w = batched.step(a), ref.step(a)
        assert all(np.array_equal(x, y) for x, y in zip(g[:4], w[:4], strict=True))
    assert g[3].all()
    mask = np.array([True, False, True])
    g, w = batched.reset(options={"reset_mask": mask}), ref.reset(options={"reset_mask": mask})
    assert np.array_equal(g[0][mask], w[0][mask])


def test_vector_env_does_not_compute_finished_rows(starts):
    venv = gym.make_vec(
        "dreamgym/Dream-v0",
        num_envs=3,
        engine="tiny-random",
        start_frames=starts,
        max_episode_steps=1,
        autoreset_mode=AutoresetMode.DISABLED,
    )
    venv.reset(seed=0)
    eng = venv.unwrapped.engine
    seen = []
    real_step = eng.step

    def spy(state, chunks):
        seen.append(len(state))
        return real_step(state, chunks)

    eng.step = spy
    try:
        a = np.zeros((3, 4, 2), np.float32)
        venv.step(a)  # all three finish (max 1 step)
        venv.reset(options={"reset_mask": np.array([True, False, False])})
        venv.step(a)
    finally:
        del eng.step
    assert seen == [3, 1]


def test_vector_env_different_start_frames_per_row(starts):
    venv = gym.make_vec("dreamgym/Dream-v0", num_envs=3, engine="tiny-random")
    obs, _ = venv.reset(seed=0, options={"start_frames": starts[:3]})
    assert np.array_equal(obs, starts[:3])


def test_vector_env_attributes(starts):
    venv = gym.make_vec("dreamgym/Dream-v0", num_envs=2, engine="tiny-random", start_frames=starts).unwrapped
    venv.reset(seed=1)
    seeds = venv.get_attr("engine_seed")
    assert len(seeds) == 2 and seeds[0] != seeds[1]
    venv.set_attr("elapsed_steps", [5, 6])
    assert venv.get_attr("elapsed_steps") == (5, 6)
    assert venv.get_attr("spec_model")[0].name == "tiny-random"
    assert len(venv.call("render")) == 2


# --- wrappers -----------------------------------------------------------------------------


def test_recorder_writes_every_predicted_frame(starts, tmp_path):
    env = RecordMP4(make(starts, max_episode_steps=2), tmp_path)
    obs0, _ = env.reset(seed=0)
    frames = [obs0[None]]
    done = False
    while not done:
        _, _, term, trunc, info = env.step(chunk(env))
        frames.append(info["frames"])
        done = term or trunc
    env.close()
    (path,) = env.paths
    # Every frame in order: each decoded frame is nearest to the same frame put through the codec.
    want = decode_mp4(encode_mp4(np.concatenate(frames), fps=10)).astype(np.float64)
    got = decode_mp4(path).astype(np.float64)
    assert got.shape == want.shape == (1 + 2 * 4, 32, 32, 3)
    err = np.abs(got[:, None] - want[None]).mean(axis=(2, 3, 4))  # (recorded, reference)
    assert np.array_equal(err.argmin(axis=1), np.arange(len(want)))
    assert np.diag(err).max() < 1.0


def test_per_step_adapter_replays_chunk_frames_one_per_step(starts):
    inner = make(starts)
    env = PerStepAdapter(inner)
    assert env.action_space.shape == (2,)
    obs0, _ = env.reset(seed=0)
    acts = np.random.default_rng(0).uniform(-1, 1, (12, 2)).astype(np.float32)
    observations = [env.step(a)[0] for a in acts]
    assert all(np.array_equal(o, obs0) for o in observations[:4])  # nothing predicted yet
    ref = make(starts)
    o, info = ref.reset(seed=0)
    f1 = ref.step(acts[:4])[4]["frames"]
    f2 = ref.step(acts[4:8])[4]["frames"]
    assert all(np.array_equal(observations[4 + i], f1[i]) for i in range(4))
    assert all(np.array_equal(observations[8 + i], f2[i]) for i in range(4))


def test_chunked_push_env_shares_the_dream_env_conventions():
    push = ChunkedEnv(gym.make("dreamgym/Push-v0"), chunk_size=8)
    dream_spec = dreamgym.ToyWorldModel().spec
    assert push.action_space.shape == (dream_spec.chunk_size, dream_spec.action_dim)
    obs, _ = push.reset(seed=0)
    assert obs.shape == (*dream_spec.resolution, 3)
    obs, _, _, _, info = push.step(np.zeros((8, 2), np.float32))
    assert info["frames"].shape == (8, 64, 64, 3)


def test_vector_env_truncates_at_the_time_limit_even_when_the_step_also_succeeds(starts):
    kw = dict(engine="tiny-random", start_frames=starts, success_fn=lambda frames: True, max_episode_steps=1)
    for mode in ("vector_entry_point", "sync"):
        venv = gym.make_vec("dreamgym/Dream-v0", num_envs=2, vectorization_mode=mode, **kw)
        venv.reset(seed=0)
        _, _, term, trunc, _ = venv.step(np.zeros((2, 4, 2), np.float32))
        assert term.all() and trunc.all(), mode


def test_per_step_adapter_passes_gymnasiums_env_checker(starts):
    from gymnasium.utils.env_checker import check_env

    check_env(PerStepAdapter(make(starts)), skip_render_check=True)


def test_per_step_adapter_returns_fresh_arrays(starts):
    env = PerStepAdapter(make(starts))
    obs0, _ = env.reset(seed=0)
    obs1 = env.step(np.zeros(2, np.float32))[0]
    obs0[:] = 0
    assert obs1.any(), "zeroing one observation changed another"


def test_per_step_adapter_refuses_a_bad_action_at_once_and_steps_before_reset(starts):
    env = PerStepAdapter(make(starts))
    with pytest.raises(RuntimeError, match="call reset\\(\\) before step\\(\\)"):
        env.step(np.zeros(2, np.float32))
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"outside the bounds \[-1.0, 1.0\]"):
        env.step(np.array([3.0, 0.0], np.float32))
    with pytest.raises(ValueError, match="finite"):
        env.step(np.array([np.nan, 0.0], np.float32))
    for _ in range(8):  # still usable after the refusals
        env.step(np.zeros(2, np.float32))


def test_per_step_adapter_ends_on_the_step_the_inner_limit_allows_and_says_so(starts):
    env = PerStepAdapter(make(starts, max_episode_steps=2))
    assert env.spec.max_episode_steps == 8 == env.max_episode_steps  # 2 chunks of 4
    env.reset(seed=0)
    ends = [env.step(np.zeros(2, np.float32))[3] for _ in range(8)]
    assert ends == [False] * 7 + [True]
    with pytest.raises(RuntimeError, match="episode ended"):
        env.step(np.zeros(2, np.float32))
    short = PerStepAdapter(make(starts), max_episode_steps=5)
    short.reset(seed=0)
    out = [short.step(np.full(2, 0.5, np.float32)) for _ in range(5)]
    assert [o[3] for o in out] == [False] * 4 + [True]
    assert out[-1][4]["frames"].shape == (4, 32, 32, 3)  # the partial chunk was predicted, held action padded


def test_per_step_adapter_keeps_frames_and_engine_seed_in_info(starts):
    env = PerStepAdapter(make(starts))
    _, info0 = env.reset(seed=3)
    infos = [env.step(np.zeros(2, np.float32))[4] for _ in range(4)]
    assert all(i["engine_seed"] == info0["engine_seed"] for i in infos)
    assert "frames" not in infos[0] and infos[3]["frames"].shape == (4, 32, 32, 3)


def test_closed_loop_shows_the_frame_each_action_produced(starts):
    rng = np.random.default_rng(1)
    acts = rng.uniform(-1, 1, (8, 2)).astype(np.float32)
    env = PerStepAdapter(make(starts), mode="closed_loop")
    env.reset(seed=0)
    seen = [env.step(a)[0] for a in acts]
    ref = make(starts)
    ref.reset(seed=0)
    # step j of a chunk: the chunk so far, padded by holding action j, predicted from the same state
    held = np.concatenate([acts[:2], np.repeat(acts[1:2], 2, 0)])
    np.testing.assert_array_equal(seen[1], ref.unwrapped.peek(held)[1])
    f1 = ref.step(acts[:4])[4]["frames"]
    np.testing.assert_array_equal(seen[3], f1[3])  # the chunk's last step commits it
    f2 = ref.step(acts[4:])[4]["frames"]
    np.testing.assert_array_equal(seen[7], f2[3])
    with pytest.raises(TypeError, match="peek"):
        PerStepAdapter(ChunkedEnv(gym.make("dreamgym/Push-v0"), chunk_size=8), mode="closed_loop")


def test_goal_image_at_reset_makes_a_goal_conditioned_episode(starts):
    from planners.scorers import GoalDistance

    env = make(starts, scorer=GoalDistance(starts[0]))
    act = np.zeros((4, 2), np.float32)
    env.reset(seed=0, options={"goal_image": starts[1]})
    _, r_goal1, *_, info = env.step(act)
    np.testing.assert_array_equal(info["goal_image"], starts[1])
    env.reset(seed=0, options={"goal_image": starts[2]})
    _, r_goal2, *_ = env.step(act)
    env.reset(seed=0)
    _, r_fixed, *_, info = env.step(act)
    assert "goal_image" not in info
    assert len({r_goal1, r_goal2, r_fixed}) == 3  # the goal given at reset is the one scored
    plain = make(starts)  # no scorer: minus the pixel MSE of the last frame to the goal
    plain.reset(seed=0, options={"goal_image": starts[1]})
    _, r, *_, info = plain.step(act)
    want = -((info["frames"][-1] / 255.0 - starts[1] / 255.0) ** 2).mean()
    assert r == pytest.approx(want)
    with pytest.raises(ValueError, match="goal_image"):
        plain.reset(options={"goal_image": np.zeros((8, 8, 3), np.uint8)})


def test_goal_observation_wrapper_follows_the_dict_convention(starts):
    from gymnasium.utils.env_checker import check_env

    from dreamgym import GoalObservation

    env = GoalObservation(make(starts).unwrapped, goals=starts[2:])
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=1, options={"goal_image": starts[3]})
    assert set(obs) == {"observation", "achieved_goal", "desired_goal"}
    np.testing.assert_array_equal(obs["desired_goal"], starts[3])
    obs, *_ = env.step(np.zeros((4, 2), np.float32))
    np.testing.assert_array_equal(obs["achieved_goal"], obs["observation"])


def test_check_env_passes_on_tiny_random_without_start_frames():
    from gymnasium.utils.env_checker import check_env

    check_env(gym.make("dreamgym/Dream-v0", engine="tiny-random").unwrapped, skip_render_check=True)


@pytest.mark.parametrize("mode", ["closed_loop", "open_loop"])
def test_per_step_vector_adapter_equals_per_step_adapters_row_by_row(starts, mode):
    from gymnasium.vector import AutoresetMode

    from dreamgym import DreamVectorEnv, PerStepVectorAdapter

    venv = PerStepVectorAdapter(
        DreamVectorEnv(2, engine="tiny-random", start_frames=starts, max_episode_steps=2,
                       autoreset_mode=AutoresetMode.SAME_STEP),
        mode=mode,
    )  # fmt: skip
    singles = [PerStepAdapter(make(starts, max_episode_steps=2), mode=mode) for _ in range(2)]
    obs, _ = venv.reset(seed=10)
    for i, env in enumerate(singles):
        o, _ = env.reset(seed=10 + i)
        np.testing.assert_array_equal(obs[i], o)
    rng = np.random.default_rng(2)
    for t in range(8):  # two chunks of 4: the second ends both episodes (and resets them)
        acts = rng.uniform(-1, 1, (2, 2)).astype(np.float32)
        obs, _, term, trunc, info = venv.step(acts)
        for i, env in enumerate(singles):
            o, _, t_i, tr_i, _ = env.step(acts[i])
            if t < 7:
                np.testing.assert_array_equal(obs[i], o)
            else:
                assert tr_i and trunc[i]
                np.testing.assert_array_equal(info["final_obs"][i], env.unwrapped._obs)
    with pytest.raises(ValueError, match="within"):
        venv.step(np.full((2, 2), 5.0, np.float32))
