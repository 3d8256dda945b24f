"""Each scorer on hand-made frames."""

import numpy as np
import pytest
import torch

from engine.metrics import ssim
from planners.scorers import DinoLatent, GoalDistance, RewardModel, Weighted


def disc(cx, cy, size=32, r=3, color=(255, 0, 0)):
    img = np.full((size, size, 3), 255, np.uint8)
    yy, xx = np.mgrid[0:size, 0:size]
    img[(xx - cx) ** 2 + (yy - cy) ** 2 <= r * r] = color
    return img


def video(*frames):
    return np.stack(frames)[None]  # (1, T, H, W, 3)


GOAL = disc(16, 16)


def test_goal_distance_is_zero_at_the_goal_and_negative_elsewhere():
    s = GoalDistance(GOAL)(np.concatenate([video(GOAL), video(disc(5, 5))]))
    assert s[0] == 0 and s[1] < 0 and s.shape == (2,)


def test_blur_ranks_a_nearer_miss_higher():
    near, far = video(disc(24, 16)), video(disc(26, 26))
    plain = GoalDistance(GOAL)(np.concatenate([near, far]))
    blurred = GoalDistance(GOAL, blur_sigma=4)(np.concatenate([near, far]))
    assert plain[0] == pytest.approx(float(plain[1]), rel=1e-6)  # no overlap: plain L2 cannot tell
    assert blurred[0] > blurred[1]


def test_last_frame_weighting_ignores_earlier_frames():
    a = video(disc(5, 5), GOAL)
    b = video(GOAL, GOAL)
    last = GoalDistance(GOAL)(np.concatenate([a, b]))
    uniform = GoalDistance(GOAL, weighting="uniform")(np.concatenate([a, b]))
    assert last[0] == last[1] == 0 and uniform[0] < uniform[1]


def test_ssim_metric():
    x = torch.rand(2, 3, 16, 16)
    assert torch.allclose(ssim(x, x), torch.ones(2))
    s = GoalDistance(GOAL, metric="ssim")(np.concatenate([video(GOAL), video(disc(5, 5))]))
    assert s[0] == pytest.approx(0.0, abs=1e-6) and s[1] < 0


def test_goal_distance_rejects_a_mismatched_goal():
    with pytest.raises(ValueError, match="goal image"):
        GoalDistance(GOAL)(np.zeros((1, 2, 16, 16, 3), np.uint8))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        GoalDistance(np.zeros((8, 8), np.uint8))


def test_goal_distance_rejects_unknown_options_when_built():
    with pytest.raises(ValueError, match="metric must be"):
        GoalDistance(GOAL, metric="l1")
    with pytest.raises(ValueError, match="weighting must be"):
        GoalDistance(GOAL, weighting="exp")
    with pytest.raises(ValueError, match="blur_sigma must be a finite number >= 0"):
        GoalDistance(GOAL, blur_sigma=-1)


@pytest.fixture(scope="module")
def dino_dir(tmp_path_factory):
    from transformers import Dinov2Config, Dinov2Model

    torch.manual_seed(0)
    cfg = Dinov2Config(
        image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64
    )
    path = tmp_path_factory.mktemp("dino")
    Dinov2Model(cfg).save_pretrained(path)
    return path


def test_dino_latent_loads_locally_and_ranks_the_goal_first(dino_dir):
    scorer = DinoLatent(GOAL, model_dir=dino_dir)
    s = scorer(np.concatenate([video(GOAL), video(disc(5, 5)), video(disc(20, 20, color=(0, 0, 255)))]))
    assert s[0] == pytest.approx(0.0, abs=1e-6) and (s[1:] < 0).all()


def test_dino_latent_without_weights_says_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        DinoLatent(GOAL, model_dir=tmp_path / "nope")


class Redness(torch.nn.Module):
    def forward(self, frames):  # (K, T, 3, H, W) -> (K, T)
        return frames[:, :, 0].mean(dim=(-1, -2)) - frames[:, :, 2].mean(dim=(-1, -2))


def test_reward_model_reduces_per_frame_rewards():
    blue = disc(16, 16, color=(0, 0, 255))
    frames = np.concatenate([video(GOAL, GOAL), video(blue, blue)])
    s_sum = RewardModel(Redness())(frames)
    s_last = RewardModel(Redness(), reduce="last")(frames)
    assert s_sum[0] > s_sum[1] and torch.allclose(s_sum, 2 * s_last)


def test_reward_model_with_actions_and_bad_output():
    class UsesActions(torch.nn.Module):
        def forward(self, frames, actions):
            return -actions.abs().sum(dim=(1, 2))

    acts = np.array([[[0.0, 0.0]], [[1.0, -1.0]]], np.float32)
    s = RewardModel(UsesActions(), use_actions=True)(np.zeros((2, 1, 8, 8, 3), np.uint8), acts)
    assert s.tolist() == [0.0, -2.0]

    class Wrong(torch.nn.Module):
        def forward(self, frames):
            return torch.zeros(3)

    with pytest.raises(ValueError, match=r"\(K,\) or \(K, T\)"):
        RewardModel(Wrong())(np.zeros((2, 1, 8, 8, 3), np.uint8))


def test_weighted_sum_and_nan_is_worst():
    def one(frames, actions):
        return torch.tensor([1.0, float("nan")])

    def two(frames, actions):
        return torch.tensor([2.0, 3.0])

    s = Weighted([(0.5, one), (2.0, two)])(np.zeros((2, 1, 8, 8, 3), np.uint8))
    assert s[0] == pytest.approx(4.5) and s[1] == float("-inf")


def test_keypoint_scorer_prefers_the_block_nearer_its_goal():
    from dreamgym import toyworld as tw
    from dreamgym.toyworld import KeypointScorer

    goal = tw.render(np.array([20.0, 20.0, 40.0, 30.0]))[0]
    near = tw.render(np.array([[10.0, 30.0, 36.0, 30.0]]))
    far = tw.render(np.array([[10.0, 30.0, 20.0, 30.0]]))
    s = KeypointScorer(goal, "push")(np.stack([near, far]))
    assert s[0] > s[1]
    r = KeypointScorer(goal, "reach")(np.stack([tw.render(np.array([[20.0, 21, 50, 50]])), near]))
    assert r[0] > r[1]


def test_keypoint_scorer_weighting_is_checked_and_a_lost_object_is_worst_not_nan():
    from dreamgym import toyworld as tw
    from dreamgym.toyworld import KeypointScorer

    goal = tw.render(np.array([20.0, 20.0, 40.0, 30.0]))[0]
    with pytest.raises(ValueError, match="weighting must be one of"):
        KeypointScorer(goal, "reach", weighting="uniformly")
    a = tw.render(np.array([[20.0, 30.0, 40.0, 30.0]]))[0]  # pusher 10 px from its goal
    b = tw.render(np.array([[20.0, 24.0, 40.0, 30.0]]))[0]  # 4 px
    blank = np.full_like(a, a[0, 0])  # nothing found
    clips = np.stack([np.stack([a, b]), np.stack([a, blank]), np.stack([blank, b])])
    uniform = KeypointScorer(goal, "reach", weighting="uniform")(clips).numpy()
    last = KeypointScorer(goal, "reach", weighting="last")(clips).numpy()
    assert uniform[0] == pytest.approx(-7.0, abs=0.6) and last[0] == pytest.approx(-4.0, abs=0.6)
    assert uniform[1] == uniform[2] == last[1] == float("-inf")  # lost in a frame that counts: worst, not NaN
    assert last[2] == pytest.approx(-4.0, abs=0.6)  # "last" only looks at the last frame
    assert not np.isnan(KeypointScorer(goal, "push")(clips).numpy()).any()


def test_float_and_int16_images_are_rescaled_or_refused_not_mis_scored():
    goal = np.full((8, 8, 3), 200, np.uint8)
    frames = np.full((2, 1, 8, 8, 3), 100, np.uint8)
    frames[1] = 200
    ref = GoalDistance(goal)(frames)
    np.testing.assert_allclose(GoalDistance(goal.astype(np.int16))(frames), ref)
    np.testing.assert_allclose(GoalDistance(goal.astype(np.float32) / 255)(frames), ref, atol=1e-6)
    with pytest.raises(
        ValueError, match=r"float \(torch.float32\) so must lie in \[0, 1\], got values in \[200, 200\]"
    ):
        GoalDistance(goal.astype(np.float32))
    with pytest.raises(ValueError, match=r"integer \(torch.int16\) so must lie in 0..255, got values in \[-1, 300\]"):
        GoalDistance(np.array([[[-1, 300, 0]]], np.int16))
    with pytest.raises(ValueError, match="frames is float"):
        GoalDistance(goal)(frames.astype(np.float32))


@pytest.mark.parametrize(
    "make, msg",
    [
        (lambda g: GoalDistance(g, weighting=[1.0, float("nan")]), "weighting array must be finite"),
        (lambda g: GoalDistance(g, weighting=[0.0, 0.0]), "positive sum"),
        (lambda g: GoalDistance(g, blur_sigma=float("nan")), "blur_sigma must be a finite number"),
        (lambda g: Weighted([(float("nan"), GoalDistance(g))]), "weight 0 must be a finite number, got nan"),
        (lambda g: Weighted([(0.0, GoalDistance(g)), (0, GoalDistance(g))]), "at least one non-zero weight"),
        (lambda g: Weighted([(1.0, "not a scorer")]), "scorer 0 must be callable"),
    ],
)
def test_bad_scorer_arguments_raise_at_construction(make, msg):
    with pytest.raises((ValueError, TypeError), match=msg):
        make(np.zeros((8, 8, 3), np.uint8))


def test_the_world_scorers_say_what_a_score_means():
    from dreamgym.pusht import PUSHT, PoseScorer
    from dreamgym.toyworld import TOY, KeypointScorer

    start, goal = TOY.task("push", 0)
    toy = KeypointScorer(TOY.render(goal[None])[0], "reach", weighting="last")
    assert toy.units == "minus the pusher's distance to its goal, px of the 64 x 64 frame, on the last frame"
    start, goal = PUSHT.task("pose", 0)
    assert PoseScorer(PUSHT.render(goal[None])[0]).units.startswith(
        "minus the pose error in tolerances (pusher and T px / 20"
    )
