"""bf16 on CPU (dtype="bfloat16"): the invariants of docs/engine.md hold as in fp32 on a given
machine — batch = single, thread count, concurrent callers, local = remote — and receipts and
``dreamgym info`` say the precision and the CPU's ISA class (bytes may differ between ISA
classes, not within one)."""

import json
import threading

import numpy as np
import pytest
from test_engine_determinism import _run_hash_script, noise_frame, random_actions

from engine import Engine, RemoteEngine
from engine.hardware import isa_class
from engine.serving.process import ServerProcess


@pytest.fixture(scope="module")
def push_bf16():
    return Engine.load("push-64", dtype="bfloat16")


def test_bf16_is_a_different_rollout_close_to_fp32(push, push_bf16):
    frame, acts = push.example_frames[0], random_actions(push.spec, 2, seed=3)
    a, b = push.predict_batch(frame, acts, seed=1).frames, push_bf16.predict_batch(frame, acts, seed=1).frames
    assert not np.array_equal(a, b)
    mse = np.mean((a.astype(float) - b.astype(float)) ** 2)
    assert 10 * np.log10(255**2 / mse) > 35  # measured 49 dB on 33 rollouts of 16 frames


@pytest.mark.parametrize("k", [3, 8])
def test_bf16_batch_equals_single(push_bf16, k):
    frame, acts = noise_frame(push_bf16.spec), random_actions(push_bf16.spec, k)
    batch = push_bf16.predict_batch(frame, acts, seed=4)
    for i in (0, k - 1):
        np.testing.assert_array_equal(batch[i].frames, push_bf16.predict(frame, acts[i], seed=4).frames)


def test_bf16_same_bytes_at_1_and_2_threads_in_fresh_processes():
    runs = {t: _run_hash_script(t, dtype="bfloat16") for t in (1, 2)}
    for name in ("tiny-random", "push-64"):
        assert runs[1][name]["batch_equals_single"], name
        assert runs[1][name]["frames"] == runs[2][name]["frames"], name


def test_bf16_concurrent_callers_get_what_sequential_calls_get(push_bf16):
    spec = push_bf16.spec
    jobs = [(noise_frame(spec, i), random_actions(spec, 1 + i % 2, seed=i), i) for i in range(4)]
    expected = [push_bf16.predict_batch(f, a, seed=s).frames for f, a, s in jobs]
    got = {}

    def worker(i):
        f, a, s = jobs[i]
        got[i] = push_bf16.predict_batch(f, a, seed=s).frames

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(got[i], expected[i]) for i in range(4))


def test_bf16_local_equals_remote(push_bf16):
    frame, acts = push_bf16.example_frames[1], random_actions(push_bf16.spec, 2, seed=6)
    with ServerProcess("--model", "push-64", "--dtype", "bfloat16") as server:
        remote = RemoteEngine(server.url)
        np.testing.assert_array_equal(
            remote.predict_batch(frame, acts, seed=2).frames, push_bf16.predict_batch(frame, acts, seed=2).frames
        )


def test_receipts_and_info_name_the_precision_and_the_isa_class(tmp_path):
    from dreamgym.cli import main

    np.save(tmp_path / "plan.npy", np.zeros((8, 2), np.float32))
    out = tmp_path / "r.mp4"
    args = ["rollout", "--example", "0", "--actions", str(tmp_path / "plan.npy"), "--out", str(out)]
    assert main([*args, "--dtype", "bfloat16"]) == 0
    receipt = json.loads(out.with_suffix(".json").read_text())
    assert receipt["dtype"] == "bfloat16" and receipt["isa"] == isa_class()
    assert main(args) == 0
    assert json.loads(out.with_suffix(".json").read_text())["dtype"] == "float32"
    from engine.cli import info

    devices = info()["devices"]
    assert devices["isa_class"] == isa_class() and devices["bf16_matrix_units"] == (isa_class() == "amx-bf16")


def test_dtype_for_a_server_url_is_refused_with_the_reason(tmp_path, capsys):
    from dreamgym.cli import main

    np.save(tmp_path / "plan.npy", np.zeros((8, 2), np.float32))
    url = ["--model", "http://127.0.0.1:9", "--dtype", "bfloat16"]
    code = main(
        ["rollout", *url, "--example", "0", "--actions", str(tmp_path / "plan.npy"), "--out", str(tmp_path / "x.mp4")]
    )
    assert code == 2 and "--dtype applies to a local model" in capsys.readouterr().err
