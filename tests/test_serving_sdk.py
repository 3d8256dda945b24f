"""The real Dream Engine SDK (``dream-engine`` 0.5.0, unchanged) against ``dreamgym serve``.

Only its base URL points at our server. Its mp4s are compared, byte for byte, with the mp4s
of the same rollouts from a local engine."""

import asyncio
import io

import numpy as np
import pytest
from PIL import Image

dream = pytest.importorskip("dream")


def png(frame) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="PNG")
    return buf.getvalue()


def npy(arr) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


@pytest.fixture(scope="module")
def client(push_server):
    with dream.Client(base_url=push_server.url, timeout_s=120) as c:
        yield c


@pytest.fixture(scope="module")
def plan(push):
    rng = np.random.default_rng(4)
    return rng.uniform(-1, 1, (2 * push.spec.chunk_size, push.spec.action_dim)).astype(np.float32)


def test_status_endpoints_answer_as_the_sdk_reads_them(client):
    assert client.healthz()["status"] == "ok"
    specs = client.specs()
    assert specs["active"] == "push-64"
    assert "push-64" in {s["slug"] for s in specs["specs"]}
    status = client.status()
    assert status["model"] == "push-64" and status["deterministic"] is True


def test_models_catalog_marks_the_served_model_active(client, push):
    handles = {h.slug: h for h in client.models.list()}
    assert handles["push-64"].active and not handles["tiny-random"].active
    h = client.models.get("push-64")
    assert (h.action_dim, h.chunk_size, h.resolution) == (push.spec.action_dim, push.spec.chunk_size, (64, 64))
    with pytest.raises(dream.ModelNotFoundError, match="not found"):
        client.models.get("no-such-model")
    with pytest.raises(dream.ModelNotActiveError):
        handles["tiny-random"].predict(start_frame=np.zeros((32, 32, 3), np.uint8), actions=np.zeros((4, 2)))


def test_client_predict_returns_the_local_engines_mp4_bytes(client, push, plan):
    frame = push.example_frames[3]
    r = client.predict(frame_bytes=png(frame), actions_bytes=npy(plan), seed=11)
    assert r.mp4_bytes == push.predict(frame, plan, seed=11).mp4_bytes()
    assert len(r.request_id) == 32 and r.engine_wall_ms > 0


def test_model_handle_predict_uses_the_rollouts_envelope_and_its_video_link(client, push, plan):
    frame = push.example_frames[4]
    rollout = client.models.get("push-64").predict(start_frame=frame, actions=plan, seed=2)
    assert rollout.id.startswith("rollout_") and rollout.model == "push-64"
    assert rollout.frames == len(plan) + 1 and rollout.resolution == (64, 64) and rollout.seed == 2
    assert rollout.video_url.startswith("http://127.0.0.1:")
    assert rollout.mp4_bytes() == push.predict(frame, plan, seed=2).mp4_bytes()


def test_score_true_rates_a_rollout_against_the_spec_settings_with_the_gates_metrics(client, push, plan):
    """score=True: psnr_db / ssim (and lpips with a local VGG backbone, absent here) of the
    rollout against the same rollout at the spec's own num_steps and guidance, computed by
    engine.metrics.video_metrics, the code behind ``dreamgym gate``."""
    from engine.metrics import video_metrics

    handle = client.models.get("push-64")
    frame = push.example_frames[4]
    same = handle.predict(start_frame=frame, actions=plan, seed=2, score=True)
    assert same.psnr_db == pytest.approx(10 * np.log10(255**2 / 1e-10), abs=1e-3) and same.ssim == 1.0
    assert same.lpips in (None, 0.0)  # None unless this machine holds vgg16-397923af.pth
    fewer = handle.predict(start_frame=frame, actions=plan, seed=2, num_steps=1, score=True)
    fast, base = push.predict(frame, plan, seed=2, num_steps=1), push.predict(frame, plan, seed=2)
    expected = video_metrics(fast.video, base.video)
    assert fewer.psnr_db == pytest.approx(expected["psnr_mean"], abs=1e-3) and fewer.psnr_db < 60
    assert fewer.ssim == pytest.approx(expected["ssim_mean"], abs=1e-5) and fewer.ssim < 1.0
    plain = handle.predict(start_frame=frame, actions=plan, seed=2)
    assert plain.psnr_db is None and plain.ssim is None


def test_model_handle_predict_batch_unpacks_k_mp4s_in_order(client, push, plan):
    frame = push.example_frames[5]
    cands = np.stack([plan, -plan, 0.5 * plan])
    batch = client.models.get("push-64").predict_batch(start_frame=frame, actions=cands, seed=7)
    local = push.predict_batch(frame, cands, seed=7)
    assert batch.batch_size == 3 and len(batch) == 3
    assert [r.mp4_bytes() for r in batch] == [r.mp4_bytes() for r in local]


def test_idempotency_key_replays_the_stored_rollout_without_running_it_again(client, push, plan):
    handle = client.models.get("push-64")
    frame = push.example_frames[6]
    a = handle.predict(start_frame=frame, actions=plan, seed=1, idempotency_key="key-1")
    b = handle.predict(start_frame=frame, actions=plan, seed=1, idempotency_key="key-1")
    assert a.id == b.id and a.mp4_bytes() == b.mp4_bytes()
    with pytest.raises(dream.ValidationError, match="different request"):
        handle.predict(start_frame=frame, actions=plan, seed=2, idempotency_key="key-1")


def test_async_mode_queues_and_the_rollout_can_be_polled(client, push, plan):
    import time

    import httpx

    handle = client.models.get("push-64")
    frame = push.example_frames[7]
    queued = handle.predict(start_frame=frame, actions=plan, seed=3, mode="async")
    url = f"{client.base_url}/v1/rollouts/{queued.id}"
    for _ in range(200):
        env = httpx.get(url).json()
        if env["status"] == "succeeded":
            break
        time.sleep(0.1)
    assert env["status"] == "succeeded" and env["frames"] == len(plan) + 1
    assert httpx.get(env["video_url"]).content == push.predict(frame, plan, seed=3).mp4_bytes()


def test_predict_many_with_the_sdks_own_source_and_sink(client, push, plan, tmp_path):
    from dream.io import RolloutSink, frames_from_dir

    src_dir = tmp_path / "rows"
    src_dir.mkdir()
    for i in range(3):
        (src_dir / f"row{i}.png").write_bytes(png(push.example_frames[i]))
        np.save(src_dir / f"row{i}.npy", plan * (i + 1) / 3)
    src = frames_from_dir(src_dir)
    est = client.estimate_cost(src, spec="push-64")
    assert est.rows == 3 and est.frames_per_row == len(plan) + 1 and est.total_usd == 0.0
    result = client.predict_many(src, RolloutSink.dir(tmp_path / "out"), spec="push-64", seed=5, progress=False)
    assert (result.ok, result.failed) == (3, 0)
    for i in range(3):
        got = (tmp_path / "out" / "videos" / f"row{i}.mp4").read_bytes()
        assert got == push.predict(push.example_frames[i], plan * (i + 1) / 3, seed=5).mp4_bytes()
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "out" / "metadata.parquet")
    assert table.num_rows == 3 and "request_id" in table.column_names


def test_sync_session_streams_the_start_frame_then_each_predicted_frame(client, push, plan):
    frame = push.example_frames[8]
    session = client.sessions.create(model="push-64", initial_frame=frame, seed=9)
    try:
        cs = push.spec.chunk_size
        first = list(session.submit_actions(plan[:cs]))
        second = list(session.submit_actions(plan[cs:]))
    finally:
        session.close()
    assert len(first) == cs + 1 and len(second) == cs
    np.testing.assert_array_equal(np.stack(first + second), push.predict(frame, plan, seed=9).video)


def test_async_client_predicts_concurrently(push_server, push, plan):
    frame = push.example_frames[9]

    async def main():
        async with dream.AsyncClient(base_url=push_server.url, timeout_s=120) as ac:
            handle = await ac.models.get("push-64")
            return await asyncio.gather(*[handle.predict(start_frame=frame, actions=plan, seed=s) for s in range(3)])

    rollouts = asyncio.run(main())
    assert [r.mp4_bytes() for r in rollouts] == [push.predict(frame, plan, seed=s).mp4_bytes() for s in range(3)]


def test_billing_is_refused_with_a_clear_non_retried_error(client):
    with pytest.raises(dream.ServerError, match="billing is not offered") as info:
        client.billing.balance()
    assert info.value.status_code == 501 and info.value.attempts_made == 1
