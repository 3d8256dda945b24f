"""``RemoteEngine`` against a real server: the same bits as a local engine for predict,
predict_batch, env episodes and planners; many clients at once; a server killed and
restarted under load."""

import threading

import gymnasium as gym
import numpy as np
import pytest

import dreamgym  # noqa: F401 - registers the env ids
from engine import RemoteEngine


@pytest.fixture(scope="module")
def remote(push_server):
    eng = RemoteEngine(push_server.url)
    yield eng
    eng.close()


def plan(spec, seed, chunks=2):
    rng = np.random.default_rng(seed)
    return rng.uniform(spec.action_low, spec.action_high, (chunks * spec.chunk_size, spec.action_dim)).astype(
        np.float32
    )


def test_remote_engine_has_the_served_spec_and_example_frames(remote, push):
    assert remote.spec == push.spec
    np.testing.assert_array_equal(remote.example_frames, push.example_frames)
    assert remote.deterministic


def test_predict_and_predict_batch_equal_the_local_engine_bit_for_bit(remote, push):
    frame = push.example_frames[10]
    a = plan(push.spec, 0)
    r, l = remote.predict(frame, a, seed=4), push.predict(frame, a, seed=4)
    np.testing.assert_array_equal(r.frames, l.frames)
    assert r.mp4_bytes() == l.mp4_bytes() and (r.seed, r.num_steps, r.guidance) == (l.seed, l.num_steps, l.guidance)
    cands = np.stack([plan(push.spec, s) for s in range(5)])
    rb, lb = (
        remote.predict_batch(frame, cands, seed=[1, 2, 3, 4, 5]),
        push.predict_batch(frame, cands, seed=[1, 2, 3, 4, 5]),
    )
    np.testing.assert_array_equal(rb.frames, lb.frames)
    assert rb.seeds == lb.seeds and len(set(rb.request_ids)) == 1


def test_bad_input_is_refused_locally_with_the_engines_message(remote):
    with pytest.raises(ValueError, match="multiple of chunk_size"):
        remote.predict(remote.example_frames[0], np.zeros((5, 2), np.float32))
    with pytest.raises(ValueError, match="resolution"):
        remote.predict(np.zeros((32, 32, 3), np.uint8), np.zeros((8, 2), np.float32))


def test_an_env_episode_on_the_server_equals_the_local_one(push_server):
    env_r = gym.make("dreamgym/Dream-v0", engine=push_server.url)
    env_l = gym.make("dreamgym/Dream-v0", engine="push-64")
    o_r, _ = env_r.reset(seed=21)
    o_l, _ = env_l.reset(seed=21)
    np.testing.assert_array_equal(o_r, o_l)
    rng = np.random.default_rng(0)
    for _ in range(3):
        act = rng.uniform(-1, 1, env_l.action_space.shape).astype(np.float32)
        *out_r, info_r = env_r.step(act)
        *out_l, info_l = env_l.step(act)
        np.testing.assert_array_equal(info_r["frames"], info_l["frames"])
        assert out_r[1:] == out_l[1:]


def test_a_vector_env_with_partial_resets_on_the_server_equals_the_local_one(push_server):
    v_r = gym.make_vec("dreamgym/Dream-v0", num_envs=3, engine=push_server.url, max_episode_steps=2)
    v_l = gym.make_vec("dreamgym/Dream-v0", num_envs=3, engine="push-64", max_episode_steps=2)
    o_r, _ = v_r.reset(seed=5)
    o_l, _ = v_l.reset(seed=5)
    rng = np.random.default_rng(1)
    for _ in range(5):  # crosses an autoreset
        act = rng.uniform(-1, 1, v_l.action_space.shape).astype(np.float32)
        o_r, *_ = v_r.step(act)
        o_l, *_ = v_l.step(act)
        np.testing.assert_array_equal(o_r, o_l)


def test_a_planner_on_the_remote_engine_plans_what_it_plans_locally(remote, push):
    from planners import CEM
    from planners.scorers import GoalDistance

    frame, goal = push.example_frames[0], push.example_frames[1]
    kw = dict(horizon=push.spec.chunk_size, population=6, iterations=2, elites=2, seed=3)
    r = CEM(remote, GoalDistance(goal), **kw).plan(frame)
    l = CEM(push, GoalDistance(goal), **kw).plan(frame)
    np.testing.assert_array_equal(r.actions, l.actions)
    assert r.score == l.score


def test_sixteen_clients_at_once_all_get_their_own_correct_result(push_server, push):
    frames = push.example_frames
    results, errors = {}, []

    def client(i):
        try:
            with RemoteEngine(push_server.url) as eng:
                results[i] = eng.predict(frames[i % len(frames)], plan(push.spec, 100 + i, chunks=1), seed=i)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors and len(results) == 16
    expected = push.predict_batch(frames[0], plan(push.spec, 100, chunks=1)[None], seed=0)  # client 0 alone
    np.testing.assert_array_equal(results[0].frames, expected.frames[0])
    for i, r in results.items():
        np.testing.assert_array_equal(
            r.frames, push.predict(frames[i % len(frames)], plan(push.spec, 100 + i, chunks=1), seed=i).frames
        )


def test_concurrent_requests_share_engine_steps(push_server, push):
    import httpx

    before = _metric(httpx.get(push_server.url + "/metrics").text, "dreamgym_batch_requests_sum")
    steps_before = _metric(httpx.get(push_server.url + "/metrics").text, "dreamgym_batch_requests_count")
    barrier = threading.Barrier(8)

    def client(i):
        with RemoteEngine(push_server.url) as eng:
            barrier.wait()
            eng.predict(push.example_frames[i], plan(push.spec, i, chunks=1), seed=i)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    text = httpx.get(push_server.url + "/metrics").text
    requests = _metric(text, "dreamgym_batch_requests_sum") - before
    steps = _metric(text, "dreamgym_batch_requests_count") - steps_before
    assert steps < 8, f"8 one-chunk requests took {steps} engine steps: no batching happened"
    assert requests >= 8


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"metric {name} not in /metrics")
