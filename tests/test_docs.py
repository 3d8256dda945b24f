"""The code in the README and the quickstart runs as written (except the full-size model, which
needs its weights)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def python_blocks(doc: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", doc.read_text(), re.S)


def test_quickstart_code_runs(tmp_path, monkeypatch, capsys):
    blocks = [b for b in python_blocks(ROOT / "docs" / "quickstart.md") if "dreamdojo-2b-gr1" not in b]
    assert len(blocks) == 3  # a rollout, an environment, a plan
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    for block in blocks:
        exec(compile(block, "docs/quickstart.md", "exec"), scope)
    assert (tmp_path / "right.mp4").stat().st_size > 0
    assert scope["batch"].frames.shape == (2, 16, 64, 64, 3)
    assert scope["trace"].success  # reach episode 0 of Push-v0, planned on push-64
    assert capsys.readouterr().out.startswith("(64, 64) 8 2")


def test_readme_code_runs(tmp_path, monkeypatch):
    (block,) = python_blocks(ROOT / "README.md")
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(block, "README.md", "exec"), scope)
    assert (tmp_path / "rollout.mp4").stat().st_size > 0
    assert scope["plan"].actions.shape == (16, 2)
    assert scope["venv"].num_envs == 8


def test_quickstart_full_size_block_names_everything_it_uses(tmp_path, monkeypatch):
    """Run without the weights it fails on the first missing file, not on an undefined name."""
    import pytest

    (block,) = [b for b in python_blocks(ROOT / "docs" / "quickstart.md") if "dreamdojo-2b-gr1" in b]
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="empty_prompt_context.pt"):
        exec(compile(block, "docs/quickstart.md", "exec"), {})


def test_docs_state_push64s_sampler_steps():
    from engine import get_spec

    steps = get_spec("push-64").num_steps
    row = next(line for line in (ROOT / "docs" / "engine.md").read_text().splitlines() if "`push-64` (default)" in line)
    assert row.split("|")[5].strip() == str(steps)


def test_worlds_doc_code_runs():
    (block,) = python_blocks(ROOT / "docs" / "worlds.md")
    scope: dict = {}
    exec(compile(block, "docs/worlds.md", "exec"), scope)
    assert scope["obs"].shape == (64, 64, 3) and list(scope["zoo"])[0] == "expert"
    assert scope["model"].predict(
        scope["obs"], scope["zoo"]["expert"]({"observation": scope["obs"], "desired_goal": scope["info"]["goal_image"]})
    ).frames.shape == (8, 64, 64, 3)


def test_serving_docs_client_blocks_run_as_pasted_against_a_real_server(push_server, tmp_path, monkeypatch):
    """docs/serving.md's SDK and RemoteEngine blocks, with only the server's address changed."""
    sdk, remote = [b for b in python_blocks(ROOT / "docs" / "serving.md") if "127.0.0.1:8000" in b]
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(sdk.replace("http://127.0.0.1:8000", push_server.url), "docs/serving.md", "exec"), scope)
    assert (tmp_path / "rollout.mp4").stat().st_size > 0 and scope["result"].ok == 1
    assert len(scope["frames"]) == 9
    scope = {}
    exec(compile(remote.replace("http://127.0.0.1:8000", push_server.url), "docs/serving.md", "exec"), scope)
    assert scope["plan"].actions.shape == (16, 2) and scope["b"].frames.shape == (2, 16, 64, 64, 3)


@pytest.mark.slow
def test_env_docs_sb3_block_runs_as_pasted(tmp_path, monkeypatch):
    pytest.importorskip("stable_baselines3")
    (block,) = [b for b in python_blocks(ROOT / "docs" / "env.md") if "stable_baselines3" in b]
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(block, "docs/env.md", "exec"), scope)
    assert scope["model"].num_timesteps >= 256
    episodes = scope["model"].ep_info_buffer  # what VecMonitor logged: episode return and length
    assert len(episodes) >= 8 and all(e["l"] == 4 for e in episodes) and any(e["r"] != 0 for e in episodes)
