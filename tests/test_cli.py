"""The ``dreamgym`` command: rollout (mp4 + receipt), info, and exit code 2 on bad input."""

import hashlib
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dreamgym.cli import main
from engine import Engine

ROOT = Path(__file__).resolve().parents[1]


def run_module(*args, cwd=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "dreamgym", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300
    )


def test_python_m_dreamgym_help_lists_the_subcommands(tmp_path):
    proc = run_module("--help", cwd=tmp_path)
    assert proc.returncode == 0 and "rollout" in proc.stdout and "info" in proc.stdout


def test_rollout_help_says_what_it_does_with_an_example(capsys):
    with pytest.raises(SystemExit) as info:
        main(["rollout", "--help"])
    out = capsys.readouterr().out
    assert info.value.code == 0 and "receipt" in out and "example:" in out and "dreamgym rollout --example 0" in out


def test_rollout_writes_the_engines_mp4_and_a_receipt_that_verifies_it(tmp_path):
    actions = np.random.default_rng(0).uniform(-1, 1, (16, 2)).astype(np.float32)
    np.save(tmp_path / "plan.npy", actions)
    out = tmp_path / "out" / "r.mp4"
    assert (
        main(["rollout", "--example", "1", "--actions", str(tmp_path / "plan.npy"), "--seed", "3", "--out", str(out)])
        == 0
    )
    receipt = json.loads(out.with_suffix(".json").read_text())
    data = out.read_bytes()
    assert receipt["mp4_sha256"] == hashlib.sha256(data).hexdigest()
    eng = Engine.load("push-64")
    assert data == eng.predict(eng.example_frames[1], actions, seed=3).mp4_bytes()
    assert receipt["seed"] == 3 and receipt["model"] == "push-64" and receipt["frames"] == [16, 64, 64, 3]
    assert receipt["actions_sha256"] == hashlib.sha256(actions.tobytes()).hexdigest()


def test_rollout_from_an_image_file(tmp_path):
    eng = Engine.load("push-64")
    Image.fromarray(eng.example_frames[2]).save(tmp_path / "start.png")
    np.save(tmp_path / "plan.npy", np.zeros((8, 2), np.float32))
    out = tmp_path / "r.mp4"
    assert (
        main(
            [
                "rollout",
                "--frame",
                str(tmp_path / "start.png"),
                "--actions",
                str(tmp_path / "plan.npy"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert out.read_bytes() == eng.predict(eng.example_frames[2], np.zeros((8, 2), np.float32), seed=0).mp4_bytes()


def _bad_inputs(tmp_path):
    np.save(tmp_path / "ok.npy", np.zeros((8, 2), np.float32))
    np.save(tmp_path / "short.npy", np.zeros((5, 2), np.float32))
    np.save(tmp_path / "wide.npy", np.zeros((8, 3), np.float32))
    np.save(tmp_path / "far.npy", np.full((8, 2), 50.0, np.float32))
    (tmp_path / "pickle.npy").write_bytes(pickle.dumps({"a": 1}))
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "bad.png").write_bytes(b"not an image")
    Image.new("RGB", (32, 32)).save(tmp_path / "small.png")
    Image.new("F", (64, 64)).save(tmp_path / "float.tiff")
    (tmp_path / "dir.mp4").mkdir()
    ok, out = str(tmp_path / "ok.npy"), str(tmp_path / "r.mp4")
    return [
        (["--example", "0", "--actions", str(tmp_path / "missing.npy"), "--out", out], "no file at"),
        (["--example", "0", "--actions", str(tmp_path / "pickle.npy"), "--out", out], "pickled .npy data is refused"),
        (["--example", "0", "--actions", str(tmp_path / "obj.npy"), "--out", out], "pickled .npy data is refused"),
        (["--example", "0", "--actions", str(tmp_path / "short.npy"), "--out", out], "multiple of chunk_size"),
        (["--example", "0", "--actions", str(tmp_path / "wide.npy"), "--out", out], "action_dim"),
        (["--example", "0", "--actions", str(tmp_path / "far.npy"), "--out", out], "bounds"),
        (["--example", "99", "--actions", ok, "--out", out], "--example must be in \\[0, "),
        (["--example", "0", "--frame", str(tmp_path / "small.png"), "--actions", ok, "--out", out], "exactly one"),
        (["--actions", ok, "--out", out], "exactly one"),
        (["--frame", str(tmp_path / "bad.png"), "--actions", ok, "--out", out], "not a readable image"),
        (["--frame", str(tmp_path / "small.png"), "--actions", ok, "--out", out], "resolution"),
        (["--frame", str(tmp_path / "float.tiff"), "--actions", ok, "--out", out], "image mode 'F'"),
        (["--example", "0", "--actions", ok, "--out", str(tmp_path / "r.gif")], "must end in .mp4"),
        (["--model", "push-65", "--example", "0", "--actions", ok, "--out", out], "unknown model 'push-65'"),
        (["--example", "0", "--actions", ok, "--num-steps", "0", "--out", out], "num_steps must be in"),
        (["--example", "0", "--actions", ok, "--seed", "-1", "--out", out], "seed must be a non-negative"),
        (["--example", "0", "--actions", ok, "--out", str(tmp_path / "dir.mp4")], "--out: .*is a directory"),
        (
            ["--example", "0", "--actions", ok, "--out", out, "--receipt", str(tmp_path / "ok.npy" / "r.json")],
            "--receipt: cannot write .*ok.npy is a file, not a folder",
        ),
    ]


def test_bad_input_exits_2_with_a_message_and_writes_nothing(tmp_path, capsys):
    import re

    cases = _bad_inputs(tmp_path)
    for args, message in cases:
        assert main(["rollout", *args]) == 2, args
        err = capsys.readouterr().err
        assert err.startswith("dreamgym rollout: error:") and re.search(message, err), (args, err)
    assert not list(tmp_path.glob("r.*"))


def test_info_lists_specs_devices_and_versions(capsys):
    assert main(["info", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"push-64", "tiny-random", "dreamdojo-2b-gr1"} <= set(data["specs"])
    assert data["devices"]["cpu_count"] >= 1 and data["versions"]["torch"]
    assert main(["info"]) == 0 and "push-64" in capsys.readouterr().out


def test_serve_help_says_what_it_does_with_an_example(capsys):
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = capsys.readouterr().out
    assert "Dream Engine SDK" in out and "--api-key-env" in out and "examples:" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--api-key-env", "DREAMGYM_SURELY_UNSET_VAR"], "DREAMGYM_SURELY_UNSET_VAR is unset"),
        (["--port", "70000"], "--port must be in"),
        (["--max-candidates", "0"], "max_candidates must be a positive int"),
        (["--batch-wait-ms", "-1"], "batch_wait_ms must be in"),
        (["--model", "no-such-model"], "--model:"),
    ],
)
def test_serve_bad_arguments_exit_2_before_loading_or_listening(args, message, capsys):
    assert main(["serve", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dreamgym serve: error:") and message in err, err


def test_every_server_limit_is_a_serve_flag_derived_from_its_config(capsys):
    """`dreamgym serve` declares no limit of its own: each ServerConfig field made with `flag`
    is a flag, with its default, and the value reaches the config (scaled: MiB -> bytes)."""
    import dataclasses

    from engine.serving.cli import _config_from
    from engine.serving.config import ServerConfig

    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = capsys.readouterr().out
    flagged = [f for f in dataclasses.fields(ServerConfig) if "flag" in f.metadata]
    assert len(flagged) >= 10 and all(f.metadata["flag"] in out for f in flagged)
    from dreamgym.cli import build_parser

    args = build_parser().parse_args(["serve", "--max-body-mb", "2", "--no-batching", "--session-ttl", "5"])
    config = _config_from(args, api_key=None)
    assert config.max_body_bytes == 2 * 1024 * 1024 and config.batching is False and config.session_ttl_s == 5.0
    assert config.max_candidates == ServerConfig().max_candidates


def test_one_command_holds_every_wings_subcommands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("rollout", "info", "serve", "predict-many", "augment", "verify", "train", "gate"):
        assert command in out
    assert main(["train", "--data", "/no/such.npz", "--out", "/tmp/never"]) == 2
    assert "data file /no/such.npz not found" in capsys.readouterr().err
