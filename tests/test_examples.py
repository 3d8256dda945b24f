"""The examples run (small settings) and write what they promise."""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mpc_demo_writes_video_grid_plot_and_summary(tmp_path, capsys):
    summary = load("mpc_demo").main(["--out", str(tmp_path), "--task", "reach", "--model", "exact"])
    for name in ("executed.mp4", "candidates.mp4", "scores.png", "summary.json"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert json.loads((tmp_path / "summary.json").read_text())["replans"] == summary["replans"] >= 1
    out = capsys.readouterr().out
    # the score printed per re-plan is the returned plan's, the one plotted and labelled in the video
    assert f"re-plan 1: plan score {summary['plan_scores'][0]:.2f}," in out
    from engine import decode_mp4

    executed = decode_mp4(tmp_path / "executed.mp4")
    assert len(executed) == summary["steps"] + 1  # one labelled frame per step, the start included
    candidates = decode_mp4(tmp_path / "candidates.mp4")
    assert len(candidates) == (2 * 2 + 2) * 16  # 2 CEM iterations and the executed plan, each shown twice


def test_random_policy_recording(tmp_path, capsys):
    load("random_policy_record").main(["--out", str(tmp_path), "--episodes", "1", "--engine", "push-64"])
    assert (tmp_path / "episode-0.mp4").stat().st_size > 0


def test_vector_env_loop(capsys):
    load("vector_env_loop").main(["--num-envs", "2", "--steps", "5"])
    out = capsys.readouterr().out
    assert "DreamVectorEnv" in out and "rows predicted []" in out  # step 4: both rows auto-reset


def test_sim_to_real_eval_ranks_policies_in_both_worlds(capsys, tmp_path):
    ev = load("sim_to_real_eval").main(["--episodes", "2", "--policies", "push,random", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "| push |" in out and "| random |" in out and "Pearson r =" in out
    push, random = ev.policies
    assert push.rate("real") == 1.0 and random.rate("real") == 0.0 and random.rate("dream") == 0.0
    assert {p.name for p in tmp_path.iterdir()} == {"eval_info.json", "report.md", "scatter.png"}


def test_augment_estimates_runs_checks_and_verifies_then_resumes(tmp_path, capsys):
    argv = ["--out", str(tmp_path), "--episodes", "2", "--k", "2"]
    load("augment").main(argv)
    out = capsys.readouterr().out
    assert "estimate: 6 rows x 17 frames" in out and "$0.05 ($0.0005 per frame" in out
    assert "6 rollouts, 0 failed, 0 already done" in out
    assert "PSNR of the 4 variants against their parents" in out
    assert "verify: 5 re-run, 5 identical, 0 mismatched" in out
    load("augment").main(argv)
    assert "0 rollouts, 0 failed, 6 already done" in capsys.readouterr().out
