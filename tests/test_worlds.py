"""The world protocol's conformance suite (dreamgym.worlds): every world — the toy world and PushT
— provides the same things and keeps the same promises, so that the demo, the evaluator and
the benchmarks can run on either by name."""

import numpy as np
import pytest

import dreamgym  # noqa: F401 - registers the env ids
from dreamgym import seeds
from dreamgym.evaluation import evaluate_in_world
from dreamgym.worlds import WORLDS, World, get_world
from dreamgym.wrappers import ChunkedEnv
from engine import get_spec
from engine.training.trainer import check_training_data

# how close the frame-only reader gets on a rendered task state (state units), by world
READ_TOLERANCE = {"toy": 0.5, "pusht": 8.0}


@pytest.fixture(scope="module", params=sorted(WORLDS))
def world(request) -> World:
    return get_world(request.param)


def test_a_world_satisfies_the_protocol_and_names_what_it_is(world):
    assert isinstance(world, World)
    assert world.name in WORLDS and world.tasks and world.state_dim >= 4
    get_spec(world.learned_model)  # its learned model has a catalog spec
    for task in world.tasks:
        assert world.budget(task) > 0 and world.criterion(task)


def test_unknown_world_is_refused_with_the_known_names():
    with pytest.raises(ValueError, match=r"world must be one of \['pusht', 'toy'\], got 'mujoco'"):
        get_world("mujoco")


def test_tasks_are_a_pure_function_of_task_index_and_purpose(world):
    for task in world.tasks:
        a = world.task(task, 3, "tests")
        b = world.task(task, 3, "tests")
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)
        other = world.task(task, 3, "evaluation")
        assert not np.array_equal(a[0], other[0])  # another purpose, another episode
        assert a[0].shape == a[1].shape == (world.state_dim,)


def test_the_env_resets_exactly_to_a_task_and_shows_its_rendered_frame(world):
    task = world.tasks[0]
    start, goal = world.task(task, 0, "tests")
    env = world.make_env(task)
    obs, info = env.reset(seed=0, options=world.reset_options(start, goal, task))
    np.testing.assert_array_equal(info["state"], start)
    np.testing.assert_array_equal(obs, world.render(start[None])[0])
    np.testing.assert_array_equal(info["goal_image"], world.render(goal[None])[0])


def test_tasks_need_work_and_the_goal_state_is_a_success(world):
    for task in world.tasks:
        for i in range(3):
            start, goal = world.task(task, i, "tests")
            assert world.is_success(goal, goal, task)
            assert not world.is_success(start, goal, task)
            errors = world.errors(start, goal, task)
            assert errors and all(np.isfinite(v) for v in errors.values())


def test_the_frame_reader_recovers_the_state_and_the_frame_judge_agrees(world):
    task = world.tasks[0]
    for i in range(3):
        start, goal = world.task(task, i, "tests")
        frames = world.render(np.stack([start, goal]))
        read = world.read_state(frames)
        assert read.shape == (2, world.state_dim)
        np.testing.assert_allclose(read[:, :4], np.stack([start, goal])[:, :4], atol=READ_TOLERANCE[world.name])
        judge = world.frame_success(task)
        assert judge(frames[1:], frames[1]) and not judge(frames[:1], frames[1])


def test_the_exact_model_equals_stepping_the_real_env(world):
    """PushT's model replays the episode a frame came from: the same bytes. The toy world's
    simulates from the state it reads off the start frame (< 0.1 px off): the same states."""
    task = world.tasks[0]
    start, goal = world.task(task, 1, "tests")
    env = world.make_env(task)
    obs, _ = env.reset(options=world.reset_options(start, goal, task))
    model = world.exact_model()
    actions = np.random.default_rng(0).uniform(-1, 1, (2 * model.spec.chunk_size, 2)).astype(np.float32)
    predicted = model.predict(obs, actions).frames
    real = np.stack([env.step(a)[0] for a in actions])
    if world.name == "pusht":
        np.testing.assert_array_equal(predicted, real)
    else:
        np.testing.assert_allclose(world.read_state(predicted), world.read_state(real), atol=0.2)


def test_the_scorer_prefers_the_goal_to_the_start(world):
    for task in world.tasks:
        start, goal = world.task(task, 2, "tests")
        frames = world.render(np.stack([start, goal]))
        scorer = world.scorer(task, frames[1])
        scores = np.asarray(scorer(frames[:, None]), dtype=np.float64)
        assert scores[1] > scores[0]


def test_zoo_policies_answer_a_chunk_of_bounded_actions_from_frames(world):
    task = world.tasks[0]
    start, goal = world.task(task, 0, "tests")
    frames = world.render(np.stack([start, goal]))
    zoo = world.policy_zoo(chunk_size=8, seed=0)
    assert len(zoo) >= 5 and list(zoo)[-1] == "random"
    for name, policy in zoo.items():
        if hasattr(policy, "reset"):
            policy.reset(seed=0)
        a = policy({"observation": frames[0], "desired_goal": frames[1]})
        assert a.shape == (8, 2) and a.dtype == np.float32, name
        assert np.isfinite(a).all() and np.abs(a).max() <= 1.0, name


def test_the_zoos_best_policy_solves_a_task_its_random_one_does_not(world):
    task = world.tasks[0]
    zoo = world.policy_zoo(chunk_size=8, seed=0)
    env = ChunkedEnv(world.make_env(task), 8)
    outcomes = {}
    for name in (next(iter(zoo)), "random"):
        wins = 0
        for i in range(4):
            obs, info = env.reset(options=world.reset_options(*world.task(task, i, "tests"), task))
            zoo[name].reset(seed=i)
            for _ in range(world.budget(task) // 8):  # whole chunks within the budget
                obs, _, terminated, _, info = env.step(
                    zoo[name]({"observation": obs, "desired_goal": info["goal_image"]})
                )
                if terminated:
                    break
            wins += bool(info["is_success"])
        outcomes[name] = wins
    assert outcomes[next(iter(zoo))] >= 3 and outcomes["random"] <= 1, outcomes


def test_the_dataset_writer_writes_what_the_trainer_reads_from_the_training_range(world, tmp_path):
    path = world.write_episodes(tmp_path / "d.npz", 2, purpose="training", length=8)
    with np.load(path) as d:
        check_training_data(d["frames"], d["actions"], get_spec(world.learned_model))
        assert d["frames"].shape[:2] == (2, 9) and d["states"].shape == (2, 9, world.state_dim)
        assert [seeds.purpose_of(int(s)) for s in d["seeds"]] == ["training", "training"]


def test_an_evaluation_with_the_exact_model_as_the_dream_agrees_episode_by_episode(world):
    task = world.tasks[0]
    zoo = world.policy_zoo(chunk_size=8, seed=0)
    best = next(iter(zoo))
    ev = evaluate_in_world(world, {best: zoo[best]}, world.exact_model(), episodes=2, task=task, n_boot=10)
    (result,) = ev.policies
    assert [e.success for e in result.dream] == [e.success for e in result.real]


def test_a_worlds_episodes_become_a_lerobot_v3_dataset_that_reads_back(world, tmp_path):
    from engine.bulk import LeRobotDataset, episodes_to_lerobot
    from engine.metrics import psnr

    path = world.write_episodes(tmp_path / "d.npz", 2, purpose="tests", length=8)
    root = episodes_to_lerobot(path, tmp_path / "lerobot", task="a task", fps=10, prefix=world.name)
    ds = LeRobotDataset(root)
    assert ds.info["codebase_version"] == "v3.0" and ds.info["total_episodes"] == 2
    with np.load(path) as d:
        for i, ep in enumerate(ds.episodes):
            assert ep["length"] == 9
            actions = np.stack(ds.data(ep)["action"].to_numpy(zero_copy_only=False))
            np.testing.assert_array_equal(actions[:8], d["actions"][i])
            assert psnr(ds.frames(ep), d["frames"][i]).min() > 28  # h.264, as LeRobot stores video
    again = episodes_to_lerobot(path, tmp_path / "lerobot", task="a task", fps=10, prefix=world.name)
    assert LeRobotDataset(again).info["total_episodes"] == 2  # a re-run adds nothing
