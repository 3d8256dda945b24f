"""The quality gate (``dreamgym gate``): pass, fail with exit 1, bad input with exit 2, and the
push-64 golden set, so that an engine change that moves outputs beyond the tolerance fails CI
with a readable per-video report.

Regenerate the golden set (only for an intended change of the model's outputs, say so in the
commit): ``python tests/test_gate.py --write-golden``.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from dreamgym import seeds
from dreamgym.cli import main
from dreamgym.toyworld import render, task_episode
from engine import Engine, write_mp4
from engine.bulk.sinks import RolloutRecord, RolloutSink

GOLDEN = Path(__file__).resolve().parent / "golden" / "push64"
GOLDEN_EPISODES = 4
TOLERANCE = ["--min-psnr", "45", "--min-ssim", "0.995"]  # another noise seed gives 26.8-39.7 dB


def golden_inputs(i: int):
    """(start frame, actions (16, 2) float32, seed) of golden video i."""
    start, _ = task_episode("push", i, seeds.base("tests"))
    rng = np.random.default_rng(seeds.seed("tests", i))
    actions = np.clip(np.cumsum(rng.normal(0, 0.35, (16, 2)), axis=0), -1, 1).astype(np.float32)
    return render(start[None])[0], actions, i


def render_videos(engine: Engine, out: Path, seed_offset: int = 0) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    for i in range(GOLDEN_EPISODES):
        frame, actions, seed = golden_inputs(i)
        write_mp4(out / f"ep{i}.mp4", engine.predict(frame, actions, seed=seed + seed_offset).video, fps=10)
    return out


def gate(capsys, *args) -> tuple[int, str, str]:
    code = main(["gate", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def current(push, tmp_path_factory):
    return render_videos(push, tmp_path_factory.mktemp("current"))


def test_push64_matches_its_golden_set(current, capsys, tmp_path):
    code, out, err = gate(capsys, current, GOLDEN, *TOLERANCE, "--report", tmp_path / "gate.json")
    assert code == 0, f"push-64's outputs moved beyond the tolerance of the golden set:\n{out}{err}"
    report = json.loads((tmp_path / "gate.json").read_text())
    assert report["ok"] and report["passed"] == GOLDEN_EPISODES and report["failed"] == 0
    assert [v["name"] for v in report["videos"]] == [f"ep{i}" for i in range(GOLDEN_EPISODES)]
    assert all(v["frames"] == 16 and v["psnr"] >= 45 for v in report["videos"])
    assert "4 videos: 4 passed, 0 failed (min PSNR 45, min SSIM 0.995)" in out


def test_a_changed_model_output_fails_with_exit_1_and_says_why(push, capsys, tmp_path):
    changed = render_videos(push, tmp_path / "changed", seed_offset=100)  # other noise: other videos
    code, out, _ = gate(capsys, changed, GOLDEN, *TOLERANCE, "--report", tmp_path / "gate.json")
    assert code == 1
    assert out.count("FAIL PSNR") == GOLDEN_EPISODES and "0 passed, 4 failed" in out
    report = json.loads((tmp_path / "gate.json").read_text())
    assert not report["ok"] and all(v["failures"] for v in report["videos"])


def test_a_video_of_another_length_fails_as_that_video(current, capsys, tmp_path):
    cand = tmp_path / "cand"
    cand.mkdir()
    for f in current.glob("*.mp4"):
        (cand / f.name).write_bytes(f.read_bytes())
    short = render_videos(Engine.load("push-64"), tmp_path / "short")  # same inputs, cut to one chunk
    from engine import decode_mp4

    write_mp4(cand / "ep2.mp4", decode_mp4(short / "ep2.mp4")[:9], fps=10)
    code, out, _ = gate(capsys, cand, GOLDEN, *TOLERANCE)
    assert code == 1 and "FAIL shape (9, 64, 64, 3) != reference (17, 64, 64, 3)" in out
    assert "3 passed, 1 failed" in out


def test_a_sink_is_gated_by_row_id(current, capsys, tmp_path):
    sink = RolloutSink.dir(tmp_path / "sink")
    for f in sorted(current.glob("*.mp4")):
        sink.write(RolloutRecord(row_id=f.stem, mp4_bytes=f.read_bytes(), metadata={}))
    sink.finalize()
    code, out, _ = gate(capsys, tmp_path / "sink", GOLDEN, *TOLERANCE)
    assert code == 0 and "4 passed" in out
    code, out, _ = gate(capsys, tmp_path / "sink" / "metadata.parquet", GOLDEN, *TOLERANCE)
    assert code == 0


def test_lpips_is_reported_with_its_weights_labelled(current, capsys):
    code, out, _ = gate(capsys, current, GOLDEN, "--max-lpips", "0.05", "--lpips-weights", "random")
    assert code == 0 and "LPIPS weights: RANDOM backbone" in out


@pytest.mark.parametrize(
    "make, args, message",
    [
        (lambda d: None, ["nowhere", "{golden}"], "CANDIDATES: nowhere is not a folder of .mp4 files"),
        (lambda d: d.mkdir(), ["{d}", "{golden}"], "holds no .mp4 files"),
        (
            lambda d: (d.mkdir(), (d / "ep0.mp4").write_bytes((GOLDEN / "ep0.mp4").read_bytes())),
            ["{d}", "{golden}"],
            "no candidate for 3 reference(s): ep1, ep2, ep3",
        ),
        (
            lambda d: (d.mkdir(), [(d / f"ep{i}.mp4").write_bytes(b"not a video") for i in range(4)]),
            ["{d}", "{golden}"],
            "is not a readable mp4",
        ),
        (lambda d: None, ["{golden}", "{golden}", "--min-ssim", "nan"], "--min-ssim must be a finite number"),
        (lambda d: None, ["{golden}", "{golden}", "--min-ssim", "2"], "--min-ssim must be <= 1.0, got 2.0"),
        (lambda d: None, ["{golden}", "{golden}", "--max-lpips", "-0.1"], "--max-lpips must be >= 0.0, got -0.1"),
    ],
)
def test_bad_input_exits_2_with_a_message(make, args, message, capsys, tmp_path):
    d = tmp_path / "c"
    make(d)
    code, out, err = gate(capsys, *[a.format(d=d, golden=GOLDEN) for a in args])
    assert code == 2 and message in err and err.startswith("dreamgym gate: error:"), err


def test_an_lpips_threshold_without_local_weights_exits_2_naming_the_file(capsys, tmp_path, monkeypatch):
    import torch

    monkeypatch.setenv("DREAMGYM_LPIPS_DIR", str(tmp_path))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    code, _, err = gate(capsys, GOLDEN, GOLDEN, "--max-lpips", "0.1")
    assert code == 2 and "vgg16-397923af.pth" in err


if __name__ == "__main__" and "--write-golden" in sys.argv:
    render_videos(Engine.load("push-64"), GOLDEN)
    print(f"wrote {GOLDEN_EPISODES} golden videos to {GOLDEN}")


def test_rows_come_in_natural_order_and_a_sink_pairs_with_a_folder_of_row_ids(tmp_path):
    from dreamgym.evaluation.gate import pair_videos

    folder = tmp_path / "f"
    folder.mkdir()
    for name in ("toy-10", "toy-2", "toy-1"):
        (folder / f"{name}.mp4").write_bytes((GOLDEN / "ep0.mp4").read_bytes())
    assert [n for n, _, _ in pair_videos(folder, folder)] == ["toy-1", "toy-2", "toy-10"]
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = tmp_path / "sink"
    (sink / "videos").mkdir(parents=True)
    rows = []
    for name in ("toy-1", "toy-2", "toy-10"):
        (sink / "videos" / f"{name}.mp4").write_bytes((GOLDEN / "ep0.mp4").read_bytes())
        rows.append({"row_id": name, "status": "ok", "mp4": f"videos/{name}.mp4"})
    pq.write_table(pa.Table.from_pylist(rows), sink / "metadata.parquet")
    assert [n for n, _, _ in pair_videos(sink, folder)] == ["toy-1", "toy-2", "toy-10"]
