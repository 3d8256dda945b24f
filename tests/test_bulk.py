"""Bulk generation: sources, sinks, receipts, resume after SIGKILL, verify, LeRobot v3, cost."""

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from engine import decode_mp4
from engine.bulk import (
    EpisodeDirSource,
    LeRobotDataset,
    LeRobotSource,
    PairDirSource,
    PerturbedSource,
    RolloutSink,
    SourceRow,
    estimate_cost,
    predict_many,
    verify,
)
from engine.codecs import npy_bytes, png_bytes

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def episodes(tmp_path_factory):
    """Three toy-world episodes of 8 actions (one push-64 chunk) in one .npz file."""
    from dreamgym.toyworld.episodes import write_episodes

    d = tmp_path_factory.mktemp("episodes")
    write_episodes(d / "toy.npz", 3, seed=123, length=8)
    return d


def expected_mp4(push, row_frame, actions, seed):
    return push.predict(row_frame, actions, seed=seed).mp4_bytes()


def test_episode_dir_source_yields_one_row_per_episode(episodes):
    src = EpisodeDirSource(episodes)
    rows = list(src)
    assert src.rows_hint == len(rows) == 3
    assert [r.row_id for r in rows] == ["toy-0", "toy-1", "toy-2"]
    assert np.load(io.BytesIO(rows[0].actions_bytes)).shape == (8, 2)
    assert list(src)[1].frame_bytes == rows[1].frame_bytes  # a fresh iterator every time


def test_pair_dir_source_and_its_orphans(tmp_path, push):
    (tmp_path / "a.png").write_bytes(png_bytes(push.example_frames[0]))
    np.save(tmp_path / "a.npy", np.zeros((8, 2), np.float32))
    assert [r.row_id for r in PairDirSource(tmp_path)] == ["a"]
    (tmp_path / "b.png").write_bytes(png_bytes(push.example_frames[1]))
    with pytest.raises(ValueError, match=r"without their pair.*\['b'\]"):
        PairDirSource(tmp_path)
    (tmp_path / "b.png").rename(tmp_path / "B.PNG")  # a camera's upper-case extension pairs too
    np.save(tmp_path / "B.npy", np.zeros((8, 2), np.float32))
    rows = list(PairDirSource(tmp_path))
    assert [r.row_id for r in rows] == ["B", "a"] and rows[0].frame_bytes == png_bytes(push.example_frames[1])


def test_perturbed_source_marks_parents_and_draws_seeded_noise(episodes):
    base = EpisodeDirSource(episodes)
    src = PerturbedSource(base, k=3, scale=0.05, seed=7, low=-1, high=1)
    rows = list(src)
    assert src.rows_hint == len(rows) == 12
    parent, kids = rows[0], rows[1:4]
    assert parent.metadata["variant"] == 0 and parent.metadata["parent_id"] == parent.row_id == "toy-0"
    assert [k.row_id for k in kids] == ["toy-0-p1", "toy-0-p2", "toy-0-p3"]
    assert len({k.metadata["seed"] for k in rows[:4]}) == 4
    a0 = np.load(io.BytesIO(parent.actions_bytes))
    diffs = [np.load(io.BytesIO(k.actions_bytes)) - a0 for k in kids]
    assert all(0.005 < np.abs(d).mean() < 0.1 for d in diffs)
    assert [r.actions_bytes for r in PerturbedSource(base, k=3, scale=0.05, seed=7, low=-1, high=1)] == [
        r.actions_bytes for r in rows
    ]
    smooth = PerturbedSource(base, k=1, scale=1.0, correlation=0.9).noise(0, 1, (4000, 1))[:, 0]
    assert np.corrcoef(smooth[:-1], smooth[1:])[0, 1] > 0.8


def test_predict_many_writes_the_engines_mp4s_with_receipts_and_drift(episodes, push, tmp_path):
    src = PerturbedSource(EpisodeDirSource(episodes), k=2, scale=0.05, seed=1, low=-1, high=1)
    result = predict_many(push, src, RolloutSink.dir(tmp_path / "out"), progress=False)
    assert (result.ok, result.failed, result.skipped) == (9, 0, 0)
    table = pq.read_table(tmp_path / "out" / "metadata.parquet").to_pylist()
    assert sorted(r["row_id"] for r in table) == sorted(r.row_id for r in src)
    by_id = {r.row_id: r for r in src}
    for rec in table:
        row = by_id[rec["row_id"]]
        frame = decode_mp4(tmp_path / "out" / rec["mp4"])[0]
        assert frame.shape == (64, 64, 3)
        acts = np.load(io.BytesIO(row.actions_bytes)).astype(np.float32)
        from engine.codecs import image_from_bytes

        mp4 = expected_mp4(push, image_from_bytes(row.frame_bytes), acts, rec["seed"])
        assert (tmp_path / "out" / rec["mp4"]).read_bytes() == mp4
        assert rec["mp4_sha256"] == hashlib.sha256(mp4).hexdigest()
        assert rec["weights_sha256"] == push.weights_sha256() and rec["spec"] == "push-64"
        assert rec["num_steps"] == push.spec.num_steps and rec["threads"] >= 1 and rec["device"].startswith("cpu")
        assert json.loads(rec["versions"])["torch"]
        if rec["variant"]:
            assert 10 < rec["psnr_vs_parent_db"] < 100 and rec["drift_flag"] in (True, False)
        else:
            assert rec.get("psnr_vs_parent_db") is None


def test_the_sdks_own_source_objects_work_unchanged(push, tmp_path):
    dream_io = pytest.importorskip("dream.io")

    class Rows(dream_io.IterableSource):
        rows_hint = 2

        def __iter__(self):
            for i in range(2):
                yield dream_io.SourceRow(
                    f"sdk{i}", png_bytes(push.example_frames[i]), npy_bytes(np.zeros((8, 2), np.float32)), {"k": i}
                )

    result = predict_many(push, Rows(), tmp_path / "o", seed=4, progress=False)
    assert result.ok == 2
    assert (tmp_path / "o" / "videos" / "sdk1.mp4").read_bytes() == expected_mp4(
        push, push.example_frames[1], np.zeros((8, 2), np.float32), 4
    )


def bad_rows(push):
    good = npy_bytes(np.zeros((8, 2), np.float32))
    frame = png_bytes(push.example_frames[0])
    return [
        SourceRow("good0", frame, good),
        SourceRow("badpng", b"not a png", good),
        SourceRow("shape", frame, npy_bytes(np.zeros((5, 2), np.float32))),
        SourceRow("nan", frame, npy_bytes(np.full((8, 2), np.nan, np.float32))),
        SourceRow("../evil", frame, good),
        SourceRow("evilD\n", frame, good),
        SourceRow("good1", frame, good, {"seed": 9}),
        SourceRow("good1", frame, good, {"seed": 3}),
    ]


def test_bad_rows_are_recorded_with_their_reason_and_the_rest_complete(push, tmp_path):
    result = predict_many(push, bad_rows(push), tmp_path / "o", progress=False, concurrency=1)
    assert (result.ok, result.failed) == (2, 6)
    reasons = {f.row_id: f.error for f in result.failures}
    assert "row_id must be" in reasons["evilD\n"] and not list((tmp_path / "o" / "videos").glob("evil*"))
    assert [f.error for f in result.failures if f.row_id == "good1"] == [
        "row_id appears twice in the source (each row's video is its id)"
    ]
    assert "not a readable image" in reasons["badpng"]
    assert "multiple of chunk_size" in reasons["shape"]
    assert "finite" in reasons["nan"]
    assert "row_id must be" in reasons["../evil"]
    table = {r["row_id"]: r for r in pq.read_table(tmp_path / "o" / "metadata.parquet").to_pylist()}
    assert table["nan"]["status"] == "failed" and "finite" in table["nan"]["error"]
    assert table["good1"]["status"] == "ok" and table["good1"]["seed"] == 9
    assert not (tmp_path / "evil.mp4").exists() and not (tmp_path / "o" / "videos" / "..").joinpath("evil.mp4").exists()


def test_an_episode_file_with_frames_that_are_not_rgb_is_refused_naming_it(tmp_path):
    np.savez(tmp_path / "rgba.npz", start_frame=np.zeros((64, 64, 4), np.uint8), actions=np.zeros((8, 2), np.float32))
    with pytest.raises(
        ValueError, match=r"rgba.npz: 'start_frame' must be \(H, W, 3\) uint8 \(RGB\), got \(64, 64, 4\)"
    ):
        EpisodeDirSource(tmp_path)
    (tmp_path / "rgba.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="rgba.npz: not a readable .npz file"):
        EpisodeDirSource(tmp_path)


def test_on_error_halt_stops_and_raises(push, tmp_path):
    with pytest.raises(RuntimeError, match="badpng"):
        predict_many(push, bad_rows(push)[:2], tmp_path / "o", on_error="halt", progress=False, concurrency=1)
    assert (tmp_path / "o" / "metadata.parquet").exists()


def test_a_rerun_resumes_without_duplicates(episodes, push, tmp_path):
    src = PerturbedSource(EpisodeDirSource(episodes), k=1, scale=0.05, low=-1, high=1)
    rows = list(src)
    first = predict_many(push, rows[:3], tmp_path / "o", progress=False)
    second = predict_many(push, src, tmp_path / "o", progress=False)
    assert (first.ok, second.ok, second.skipped) == (3, 3, 3)
    ids = [r["row_id"] for r in pq.read_table(tmp_path / "o" / "metadata.parquet").to_pylist()]
    assert sorted(ids) == sorted(r.row_id for r in rows)


def test_a_run_killed_with_sigkill_resumes_to_a_complete_uncorrupted_set(tmp_path):
    from dreamgym.toyworld.episodes import write_episodes

    write_episodes(tmp_path / "eps" / "toy.npz", 6, seed=5, length=8)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "dreamgym", "predict-many", str(tmp_path / "eps"), str(out), "--k", "3",
           "--concurrency", "2", "--no-progress"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = out / "metadata.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and journal.read_bytes().count(b"\n") >= 5:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    done_before = journal.read_bytes().count(b"\n")
    assert 5 <= done_before < 24
    rerun = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    table = pq.read_table(out / "metadata.parquet").to_pylist()
    ids = [r["row_id"] for r in table]
    assert len(ids) == len(set(ids)) == 24 and all(r["status"] == "ok" for r in table)
    for r in table:
        assert decode_mp4(out / r["mp4"]).shape == (9, 64, 64, 3)
    assert not list(out.rglob("*.tmp")) and not [p for p in out.rglob(".*") if p.is_file()]
    assert verify(out, sample=4).ok


def test_verify_catches_a_tampered_mp4(push, tmp_path):
    rows = [
        SourceRow(f"r{i}", png_bytes(push.example_frames[i]), npy_bytes(np.full((8, 2), 0.2 * i, np.float32)))
        for i in range(3)
    ]
    predict_many(push, rows, tmp_path / "o", progress=False)
    report = verify(tmp_path / "o", push)
    assert (report.checked, report.matched, report.mismatches) == (3, 3, [])
    mp4 = tmp_path / "o" / "videos" / "r1.mp4"
    data = bytearray(mp4.read_bytes())
    data[-20] ^= 0xFF
    mp4.write_bytes(bytes(data))
    report = verify(tmp_path / "o", push)
    assert report.matched == 2 and report.mismatches == [
        ("r1", "the mp4 on disk does not match its receipt (altered after the run)")
    ]


def test_verify_never_reads_an_mp4_path_that_leaves_the_sink(push, tmp_path):
    import pyarrow as pa

    rows = [SourceRow("r0", png_bytes(push.example_frames[0]), npy_bytes(np.zeros((8, 2), np.float32)))]
    predict_many(push, rows, tmp_path / "o", progress=False)
    outside = tmp_path / "outside.mp4"
    outside.write_bytes(b"a file the receipt must not reach")
    table = pq.read_table(tmp_path / "o" / "metadata.parquet")
    table = table.set_column(table.schema.get_field_index("mp4"), "mp4", pa.array(["../outside.mp4"]))
    pq.write_table(table, tmp_path / "o" / "metadata.parquet")
    report = verify(tmp_path / "o", push)
    ((rid, why),) = report.mismatches
    assert rid == "r0" and why.startswith("the receipt's mp4 path '../outside.mp4' leaves ")
    assert why.endswith("(points outside the sink)")


def test_lerobot_v3_written_and_read_back_with_matching_totals(episodes, push, tmp_path):
    src = PerturbedSource(EpisodeDirSource(episodes), k=1, scale=0.05, low=-1, high=1)
    result = predict_many(push, src, RolloutSink.lerobot(tmp_path / "lr", task="push the block"), progress=False)
    assert result.ok == 6
    ds = LeRobotDataset(tmp_path / "lr")
    info = ds.info
    assert info["codebase_version"] == "v3.0" and info["fps"] == push.spec.fps
    assert info["total_episodes"] == len(ds.episodes) == 6
    assert info["total_frames"] == sum(e["length"] for e in ds.episodes) == 6 * 9
    assert info["features"]["action"]["shape"] == [2]
    ep = ds.episodes[2]
    frames, data = ds.frames(ep), ds.data(ep)
    assert frames.shape == (9, 64, 64, 3) and data.num_rows == 9
    assert data["index"].to_pylist() == list(range(ep["dataset_from_index"], ep["dataset_to_index"]))
    assert pq.read_table(tmp_path / "lr" / "meta" / "tasks.parquet").to_pylist() == [
        {"task_index": 0, "task": "push the block"}
    ]
    stats = json.loads((tmp_path / "lr" / "meta" / "stats.json").read_text())
    assert stats["action"]["count"] == [54] and len(stats["observation.images.main"]["mean"]) == 3
    # and it is a source again: the start frames and actions come back out
    again = list(LeRobotSource(tmp_path / "lr", chunk_size=push.spec.chunk_size))
    assert len(again) == 6 and np.load(io.BytesIO(again[0].actions_bytes)).shape == (8, 2)


def test_estimate_cost_counts_frames_and_prices_them(episodes, push):
    src = PerturbedSource(EpisodeDirSource(episodes), k=4)
    est = estimate_cost(src, push, price_per_frame=0.0005)
    assert (est.rows, est.frames_per_row, est.total_frames) == (15, 9, 135)
    assert est.usd == pytest.approx(135 * 0.0005)
    assert est.engine_seconds > 0 and est.measured_flops_per_s > 0
    hourly = estimate_cost(src, push, price_per_gpu_hour=2.0)
    assert hourly.usd == pytest.approx(hourly.engine_seconds / 3600 * 2.0)
    with pytest.raises(ValueError, match="not both"):
        estimate_cost(src, push, price_per_frame=1, price_per_gpu_hour=1)


def test_gr1_pricing_bills_49_frames_per_48_action_rollout():
    """A spec alone prices a run (no weights needed without a probe)."""
    from engine import get_spec

    spec = get_spec("dreamdojo-2b-gr1")
    rows = [SourceRow("a", b"", npy_bytes(np.zeros((48, spec.action_dim), np.float32)))]
    est = estimate_cost(rows, spec, price_per_frame=0.0005)
    assert est.frames_per_row == 49 and est.usd == pytest.approx(49 * 0.0005)
    assert est.engine_seconds is None and est.flops_per_row > 1e12


def test_predict_many_through_a_server_equals_the_local_run(push_server, push, episodes, tmp_path):
    from engine import RemoteEngine

    src = EpisodeDirSource(episodes)
    local = predict_many(push, src, tmp_path / "local", progress=False)
    with RemoteEngine(push_server.url) as remote:
        remote_run = predict_many(remote, src, tmp_path / "remote", progress=False)
    assert local.ok == remote_run.ok == 3
    for r in src:
        a = (tmp_path / "local" / "videos" / f"{r.row_id}.mp4").read_bytes()
        assert a == (tmp_path / "remote" / "videos" / f"{r.row_id}.mp4").read_bytes()


def test_the_ray_backend_writes_what_the_local_backend_writes(episodes, push, tmp_path):
    pytest.importorskip("ray")
    src = EpisodeDirSource(episodes)
    local = predict_many(push, src, tmp_path / "local", progress=False)
    on_ray = predict_many("push-64", src, tmp_path / "ray", backend="ray", ray_actors=2, progress=False)
    assert local.ok == on_ray.ok == 3
    for r in src:
        assert (tmp_path / "local" / "videos" / f"{r.row_id}.mp4").read_bytes() == (
            tmp_path / "ray" / "videos" / f"{r.row_id}.mp4"
        ).read_bytes()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--k", "2", "--low", "1", "--high", "-1"], "--low/--high: low must be below high"),
        (["--low", "-0.5"], "--low/--high clip the noisy actions of --k variants"),
        (["--horizon", "8"], "--horizon applies to episode (.npz) and LeRobot sources"),
    ],
)
def test_predict_many_refuses_flags_it_would_ignore_or_misapply(tmp_path, capsys, extra, message):
    from dreamgym.cli import main

    src = tmp_path / "pairs"
    src.mkdir()
    (src / "a.png").write_bytes(png_bytes(np.zeros((64, 64, 3), np.uint8)))
    np.save(src / "a.npy", np.zeros((8, 2), np.float32))
    code = main(["predict-many", str(src), str(tmp_path / "out"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert not (tmp_path / "out").exists()


def test_a_corrupt_lerobot_dataset_is_named_file_by_file(episodes, push, tmp_path):
    src = PerturbedSource(EpisodeDirSource(episodes), k=1, scale=0.05, low=-1, high=1)
    predict_many(push, src, RolloutSink.lerobot(tmp_path / "lr", task="push"), progress=False)
    info = tmp_path / "lr" / "meta" / "info.json"
    good = info.read_text()
    info.write_text(good[: len(good) // 2])
    with pytest.raises(ValueError, match="info.json is not valid JSON"):
        LeRobotDataset(tmp_path / "lr")
    info.write_text(good)
    (part,) = (tmp_path / "lr" / "meta" / "episodes").glob("chunk-*/file-*.parquet")
    part.write_bytes(b"PAR1 not really")
    with pytest.raises(ValueError, match="file-000.parquet is not a readable parquet file"):
        LeRobotDataset(tmp_path / "lr")
