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


def test_bulk_docs_block_runs_as_pasted(tmp_path, monkeypatch, capsys):
    (block,) = python_blocks(ROOT / "docs" / "bulk.md")
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(block, "docs/bulk.md", "exec"), scope)
    assert scope["result"].ok == 10 and scope["result"].failed == 0  # 2 episodes x (parent + 4 variants)
    assert (tmp_path / "out" / "metadata.parquet").is_file()
    assert capsys.readouterr().out.strip().endswith("True")  # verify re-ran 10 rows and matched


def test_env_docs_lerobot_block_runs_as_pasted():
    (block,) = [b for b in python_blocks(ROOT / "docs" / "env.md") if "dreamgym.lerobot" in b]
    scope: dict = {}
    exec(compile(block, "docs/env.md", "exec"), scope)
    envs = scope["envs"]
    try:
        assert envs.num_envs == 4
    finally:
        envs.close()


# every ```python block in docs/ and the README: run by a test here (page, first line -> test),
# or marked as a fragment on its first line, naming where its inputs come from
RUN_BY = {
    ("README.md", None): "test_readme_code_runs",
    ("docs/quickstart.md", None): "test_quickstart_code_runs",
    ("docs/quickstart.md", "import torch"): "test_quickstart_full_size_block_names_everything_it_uses",
    ("docs/worlds.md", None): "test_worlds_doc_code_runs",
    ("docs/serving.md", None): "test_serving_docs_client_blocks_run_as_pasted_against_a_real_server",
    ("docs/env.md", "from stable_baselines3 import PPO"): "test_env_docs_sb3_block_runs_as_pasted",
    ("docs/env.md", "from dreamgym.lerobot import make_env"): "test_env_docs_lerobot_block_runs_as_pasted",
    ("docs/bulk.md", None): "test_bulk_docs_block_runs_as_pasted",
}


def test_every_python_block_in_the_docs_runs_in_a_test_or_says_it_is_a_fragment():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    unaccounted = []
    for page in pages:
        rel = str(page.relative_to(ROOT))
        for block in python_blocks(page):
            first = block.splitlines()[0]
            if first.startswith("# fragment"):
                head = " ".join(block.splitlines()[:2])
                assert ".md" in head or "below" in head, f"{rel}: a fragment names where its inputs come from: {head}"
                continue
            test = RUN_BY.get((rel, first), RUN_BY.get((rel, None)))
            if test is None or test not in globals():
                unaccounted.append(f"{rel}: {first}")
    assert not unaccounted, f"blocks neither run by a test nor marked '# fragment': {unaccounted}"


def shell_commands(page: Path) -> list[str]:
    """The commands of a page's ```bash blocks (and its plain ``` blocks' ``$ `` lines), with
    continuation lines joined and comments dropped."""
    text = page.read_text()
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        lines += block.replace("\\\n", " ").splitlines()
    for block in re.findall(r"```\n(.*?)```", text, re.S):
        lines += [line[2:] for line in block.splitlines() if line.startswith("$ ")]
    out = []
    for line in lines:
        cmd = line.split("  #")[0].split(" # ")[0].strip()
        if cmd and not cmd.startswith("#"):
            out.append(cmd)
    return out


def test_every_shell_command_in_the_docs_names_a_real_command_and_its_real_flags():
    """dreamgym lines parse with the real parser; ``python -m`` modules and scripts exist and
    offer every flag used; make targets exist. Usage synopses (with ``[``) are not commands."""
    import shlex
    import subprocess
    import sys

    from dreamgym.cli import build_parser

    make_targets = set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.M))
    helps: dict[tuple, str] = {}
    bad, checked = [], 0
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for cmd in shell_commands(page):
            words = [w for w in shlex.split(cmd.replace("~", "/home/user")) if "=" not in w or w.startswith("-")]
            if not words or "[" in cmd or words[0] in ("pip", "source", "cd", "export", "curl", "uv"):
                continue
            where = f"{page.relative_to(ROOT)}: {cmd}"
            checked += 1
            if words[0] == "make":
                target = next((w for w in words[1:] if not w.startswith("-")), "all")
                if target not in make_targets:
                    bad.append(f"{where} (no make target {target!r})")
            elif words[0] == "dreamgym":
                try:
                    build_parser().parse_args(words[1:])
                except SystemExit:
                    bad.append(f"{where} (dreamgym's parser refuses it)")
            elif words[0] == "python":
                if words[1] == "-m":
                    runner, rest = ("-m", words[2]), words[3:]
                    import importlib.util

                    if importlib.util.find_spec(words[2]) is None:
                        bad.append(f"{where} (no module {words[2]})")
                        continue
                else:
                    runner, rest = (words[1],), words[2:]
                    if not (ROOT / words[1]).is_file():
                        bad.append(f"{where} (no file {words[1]})")
                        continue
                flags = {w.split("=")[0] for w in rest if w.startswith("--")}
                if flags and runner not in helps:
                    helps[runner] = subprocess.run(
                        [sys.executable, *runner, "--help"], capture_output=True, text=True, cwd=ROOT, timeout=120
                    ).stdout
                missing = sorted(f for f in flags if f not in helps.get(runner, ""))
                if missing:
                    bad.append(f"{where} (its --help has no {missing})")
            else:
                bad.append(f"{where} (not a command this test knows how to check)")
    assert checked > 20
    assert not bad, "\n".join(bad)
