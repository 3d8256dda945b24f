"""``dreamgym serve`` under bad input, limits, auth, disconnects, restarts and shutdown.

Each refusal is a 4xx with a JSON error naming the expected and the received value, and the
server keeps serving. The servers here run ``tiny-random`` (fast to start); a chunk with
``num_steps=1000`` takes about 2.5 s on it, which makes requests slow on purpose."""

import io
import json
import socket
import threading
import time

import httpx
import numpy as np
import pytest
from PIL import Image

from engine import Engine, RemoteEngine
from engine.serving.process import ServerProcess

KEY = "test-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
STRICT = [
    "--model", "tiny-random", "--api-key-env", "DG_TEST_KEY", "--max-candidates", "4", "--max-frames", "16",
    "--max-body-mb", "1", "--max-queue", "1", "--max-sessions", "2", "--request-timeout", "3",
]  # fmt: skip


def png(frame) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="PNG")
    return buf.getvalue()


def npy(arr, allow_pickle=False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


FRAME = np.full((32, 32, 3), 90, np.uint8)
ACTS = np.zeros((8, 2), np.float32)


@pytest.fixture(scope="module")
def strict():
    with ServerProcess(*STRICT, env={"DG_TEST_KEY": KEY}) as server:
        yield server


def post(url, path, *, frame=None, actions=(), data=None, headers=AUTH, **kw):
    files = []
    if frame is not None:
        files.append(("frame", ("f.png", frame, "image/png")))
    files += [("actions", (f"a{i}.npy", a, "application/octet-stream")) for i, a in enumerate(actions)]
    return httpx.post(url + path, files=files or None, data=data, headers=headers, timeout=60, **kw)


def bad_requests():
    big = np.zeros((5000, 5000, 3), np.uint8)
    return [
        ("no api key", dict(headers={}), 401, "API key"),
        ("wrong api key", dict(headers={"Authorization": "Bearer nope-nope-nope"}), 401, "API key"),
        ("not multipart", dict(content=b"{}", headers={**AUTH, "Content-Type": "application/json"}), 415, "multipart"),
        (
            "malformed multipart",
            dict(content=b"--xx\r\ngarbage", headers={**AUTH, "Content-Type": "multipart/form-data; boundary=yy"}),
            400,
            "could not be parsed",
        ),
        ("missing frame", dict(actions=[npy(ACTS)]), 422, "missing the 'frame'"),
        ("not an image", dict(frame=b"GIF89a-nope", actions=[npy(ACTS)]), 422, "not a readable image"),
        ("wrong resolution", dict(frame=png(np.zeros((16, 16, 3), np.uint8)), actions=[npy(ACTS)]), 422, "resolution"),
        ("too many pixels", dict(frame=png(big), actions=[npy(ACTS)]), 413, "more than the limit"),
        ("pickled npy", dict(frame=png(FRAME), actions=[npy(np.array([{}], object), True)]), 422, "pickled"),
        ("T not a chunk multiple", dict(frame=png(FRAME), actions=[npy(ACTS[:5])]), 422, "multiple of chunk_size"),
        ("wrong action_dim", dict(frame=png(FRAME), actions=[npy(np.zeros((8, 3), np.float32))]), 422, "action_dim"),
        ("NaN", dict(frame=png(FRAME), actions=[npy(np.full((8, 2), np.nan, np.float32))]), 422, "finite"),
        ("T over max_frames", dict(frame=png(FRAME), actions=[npy(np.zeros((20, 2), np.float32))]), 422, "max_frames"),
        ("bad seed", dict(frame=png(FRAME), actions=[npy(ACTS)], data={"seed": "abc"}), 422, "seed must be"),
        ("bad num_steps", dict(frame=png(FRAME), actions=[npy(ACTS)], data={"num_steps": "0"}), 422, "num_steps"),
        ("NaN guidance", dict(frame=png(FRAME), actions=[npy(ACTS)], data={"guidance": "nan"}), 422, "guidance"),
        ("body over 1 MiB", dict(frame=png(FRAME), actions=[b"x" * (2 << 20)]), 413, "limit"),
        (
            "seeds on a single predict",
            dict(frame=png(FRAME), actions=[npy(ACTS)], data={"seeds": "[5]"}),
            422,
            "/v1/predict does not take the field(s) ['seeds']",
        ),
        ("misspelt field", dict(frame=png(FRAME), actions=[npy(ACTS)], data={"sed": "3"}), 422, "['sed']"),
        (
            "seed sent twice",
            dict(frame=png(FRAME), actions=[npy(ACTS)], data={"seed": ["0", "7"]}),
            422,
            "the field(s) ['seed'] were sent more than once",
        ),
    ]


@pytest.mark.parametrize("case", bad_requests(), ids=lambda c: c[0])
def test_bad_requests_get_a_clear_4xx_and_the_server_keeps_serving(strict, case):
    _, kw, status, message = case
    r = post(strict.url, "/v1/predict", **kw)
    assert r.status_code == status, r.text
    body = r.json()
    assert message in body["detail"], body
    assert body["error"]["request_id"] == r.headers["X-DreamEngine-Request-Id"]
    ok = post(
        strict.url,
        "/v1/predict",
        frame=png(FRAME),
        actions=[npy(ACTS)],
        headers={**AUTH, "Accept": "application/x-npy"},
    )
    assert ok.status_code == 200 and np.load(io.BytesIO(ok.content)).shape == (9, 32, 32, 3)


def test_engine_step_reads_peek_strictly_and_a_peek_never_advances_the_row(strict):
    frames = io.BytesIO()
    np.save(frames, FRAME[None])
    start = httpx.post(
        strict.url + "/v1/engine/start",
        files={"frames": ("f.npy", frames.getvalue(), "application/octet-stream")},
        data={"seeds": "[0]"},
        headers=AUTH,
    )
    assert start.status_code == 200, start.text
    row = start.json()["rows"][0]

    def step(peek, chunk_index=0):
        return httpx.post(
            strict.url + "/v1/engine/step",
            files={"actions": ("a.npy", npy(ACTS[None, :4]), "application/octet-stream")},  # tiny-random: chunks of 4
            data={"rows": json.dumps([row]), "chunk_index": json.dumps([chunk_index]), "peek": peek},
            headers=AUTH,
        )

    for rows in ([{"a": 1}], [[row]], [5]):
        r = httpx.post(
            strict.url + "/v1/engine/step",
            files={"actions": ("a.npy", npy(ACTS[None, :4]), "application/octet-stream")},
            data={"rows": json.dumps(rows), "chunk_index": "[0]"},
            headers=AUTH,
        )
        assert r.status_code == 422 and "rows must be a JSON list of strings; item 0 is" in r.json()["detail"], r.text
    r = httpx.post(strict.url + "/v1/engine/release", json={"rows": [{"a": 1}]}, headers=AUTH)
    assert r.status_code == 422 and "row ids as strings" in r.json()["detail"]
    bad = step("maybe")
    assert bad.status_code == 422 and "peek must be 1/true or 0/false, got 'maybe'" in bad.json()["detail"]
    assert step("True").status_code == 200  # a peek, in any case: the row stays at chunk 0
    assert step("false").status_code == 200  # advances to chunk 1
    assert step("0", chunk_index=1).status_code == 200
    released = httpx.post(strict.url + "/v1/engine/release", json={"rows": [row]}, headers=AUTH)
    assert released.json() == {"closed": 1}  # the server's session slots are shared by the tests


def test_a_websocket_without_the_key_is_closed_with_code_1008(strict):
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    url = strict.url.replace("http://", "ws://") + "/v1/sessions/nope/stream"
    with connect(url) as ws:
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=10)
    assert info.value.rcvd.code == 1008 and info.value.rcvd.reason == "missing or wrong API key"


def test_a_binary_websocket_frame_gets_an_error_message_and_the_stream_stays_open(strict):
    from websockets.sync.client import connect

    created = httpx.post(
        strict.url + "/v1/sessions", files={"initial_frame": ("f.png", png(FRAME), "image/png")}, headers=AUTH
    )
    sid = created.json()["id"]
    url = strict.url.replace("http://", "ws://") + f"/v1/sessions/{sid}/stream"
    with connect(url, additional_headers=AUTH) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "session_started"
        ws.send(b"\x00\x01binary")
        err = json.loads(ws.recv(timeout=10))
        assert err["type"] == "error" and "got a binary frame" in err["error"]["message"]
        ws.send(json.dumps({"type": "ping"}))
        assert json.loads(ws.recv(timeout=10)) == {"type": "pong"}
    assert httpx.delete(strict.url + f"/v1/sessions/{sid}", headers=AUTH).status_code == 200


def test_too_many_candidates_and_unknown_endpoints(strict):
    r = post(strict.url, "/v1/predict/batch", frame=png(FRAME), actions=[npy(ACTS)] * 5)
    assert r.status_code == 422 and "max_candidates = 4" in r.json()["detail"]
    r = httpx.get(strict.url + "/v1/nothing", headers=AUTH)
    assert r.status_code == 404 and "no endpoint" in r.json()["detail"]
    assert httpx.get(strict.url + "/healthz").status_code == 200  # liveness needs no key


def test_the_sdk_maps_a_wrong_key_to_its_auth_error(strict):
    import dream

    with pytest.raises(dream.AuthError):
        dream.Client(base_url=strict.url, api_key="wrong-key-123").models.list()
    handles = dream.Client(base_url=strict.url, api_key=KEY).models.list()
    assert any(h.active for h in handles)


def test_a_full_queue_answers_429_with_retry_after(strict):
    slow = dict(frame=png(FRAME), actions=[npy(ACTS[:4])], data={"num_steps": "1000"})
    codes = []
    threads = [threading.Thread(target=lambda: codes.append(post(strict.url, "/v1/predict", **slow).status_code))]
    threads[0].start()
    time.sleep(0.8)  # the first one is running; the next waits in the queue (max_queue = 1)
    threads.append(threading.Thread(target=lambda: codes.append(post(strict.url, "/v1/predict", **slow).status_code)))
    threads[1].start()
    time.sleep(0.5)
    r = post(strict.url, "/v1/predict", **slow)
    for t in threads:
        t.join(60)
    assert r.status_code == 429 and "max_queue = 1" in r.json()["detail"]
    assert int(r.headers["Retry-After"]) >= 1
    assert set(codes) <= {200, 504}  # the two admitted ones ran (or hit the 3 s timeout)


def test_a_request_past_the_timeout_gets_504(strict):
    r = post(
        strict.url,
        "/v1/predict",
        frame=png(FRAME),
        actions=[npy(np.zeros((12, 2), np.float32))],
        data={"num_steps": "1000"},
    )
    assert r.status_code == 504 and "request_timeout_s = 3" in r.json()["detail"]


def test_session_cap(strict):
    def create():
        return httpx.post(
            strict.url + "/v1/sessions", files={"initial_frame": ("f.png", png(FRAME), "image/png")}, headers=AUTH
        )

    a, b = create(), create()
    assert a.status_code == b.status_code == 200
    c = create()
    assert c.status_code == 429 and "limit 2" in c.json()["detail"]
    assert httpx.delete(strict.url + f"/v1/sessions/{a.json()['id']}", headers=AUTH).status_code == 200
    d = create()
    assert d.status_code == 200
    for s in (b, d):
        httpx.delete(strict.url + f"/v1/sessions/{s.json()['id']}", headers=AUTH)


def test_a_client_that_disconnects_mid_request_stops_its_work(strict):
    status = lambda: httpx.get(strict.url + "/v1/status", headers=AUTH).json()  # noqa: E731
    steps0 = status()["engine_steps"]
    boundary = "b0undary"
    parts = [
        (f'--{boundary}\r\nContent-Disposition: form-data; name="frame"; filename="f.png"\r\n'
         "Content-Type: image/png\r\n\r\n").encode() + png(FRAME) + b"\r\n",
        (f'--{boundary}\r\nContent-Disposition: form-data; name="actions"; filename="a.npy"\r\n'
         "Content-Type: application/octet-stream\r\n\r\n").encode() + npy(np.zeros((16, 2), np.float32)) + b"\r\n",
        f'--{boundary}\r\nContent-Disposition: form-data; name="num_steps"\r\n\r\n1000\r\n--{boundary}--\r\n'.encode(),
    ]  # fmt: skip
    body = b"".join(parts)
    host, port = strict.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as s:
        head = (
            f"POST /v1/predict HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {KEY}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        s.sendall(head.encode() + body)
        time.sleep(1.0)
    for _ in range(300):  # the server notices, drops the job at a chunk boundary
        st = status()
        if st["active_rows"] == 0 and st["queue_depth"] == 0:
            break
        time.sleep(0.1)
    assert st["engine_steps"] - steps0 < 4, "all 4 chunks ran for a client that had gone"
    metrics = httpx.get(strict.url + "/metrics", headers=AUTH).text
    assert "dreamgym_client_disconnects_total 1.0" in metrics
    assert post(strict.url, "/v1/predict", frame=png(FRAME), actions=[npy(ACTS)]).status_code == 200


def test_an_idempotent_retry_never_runs_twice(strict):
    def rollouts():
        text = httpx.get(strict.url + "/metrics", headers=AUTH).text
        return float(next(ln.split()[1] for ln in text.splitlines() if ln.startswith("dreamgym_rollouts_total ")))

    before = rollouts()
    kw = dict(frame=png(FRAME), actions=[npy(ACTS)], data={"seed": "3"})
    out = []
    threads = [
        threading.Thread(
            target=lambda: out.append(post(strict.url, "/v1/predict", headers={**AUTH, "Idempotency-Key": "k1"}, **kw))
        )
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    again = post(strict.url, "/v1/predict", headers={**AUTH, "Idempotency-Key": "k1"}, **kw)
    assert [r.status_code for r in out] == [200, 200] and again.status_code == 200
    assert out[0].content == out[1].content == again.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert rollouts() - before == 1


def test_metrics_are_prometheus_text(strict):
    text = httpx.get(strict.url + "/metrics", headers=AUTH).text
    for name in (
        "dreamgym_queue_depth",
        "dreamgym_batch_rows_bucket",
        "dreamgym_request_latency_seconds_bucket",
        'dreamgym_errors_total{code="422"',
        "dreamgym_open_sessions",
    ):
        assert name in text, name


# --- process lifecycle: idle sessions expire, SIGTERM drains, SIGKILL + restart under load --------
def test_idle_sessions_expire_after_their_ttl():
    with ServerProcess("--model", "tiny-random", "--session-ttl", "1") as server:
        r = httpx.post(server.url + "/v1/sessions", files={"initial_frame": ("f.png", png(FRAME), "image/png")})
        sid = r.json()["id"]
        assert httpx.get(server.url + f"/v1/sessions/{sid}").status_code == 200
        time.sleep(1.5)
        gone = httpx.get(server.url + f"/v1/sessions/{sid}")
        assert gone.status_code == 404 and "expired" in gone.json()["detail"]


def test_sigterm_finishes_the_requests_in_flight_then_exits_cleanly():
    server = ServerProcess("--model", "tiny-random")
    try:
        got = {}

        def slow():
            got["r"] = post(
                server.url, "/v1/predict", frame=png(FRAME), actions=[npy(ACTS)], data={"num_steps": "1000"}
            )

        t = threading.Thread(target=slow)
        t.start()
        time.sleep(1.0)
        rc = server.terminate()
        t.join(60)
        assert got["r"].status_code == 200 and got["r"].content[4:8] == b"ftyp"
        assert rc == 0, server.output()
        with pytest.raises(httpx.ConnectError):
            httpx.get(server.url + "/healthz")
    finally:
        server.kill()


def test_a_server_killed_under_load_and_restarted_loses_and_duplicates_nothing():
    tiny = Engine.load("tiny-random")
    rng = np.random.default_rng(0)
    jobs = [(i, rng.uniform(-1, 1, (8, 2)).astype(np.float32)) for i in range(16)]
    server = ServerProcess("--model", "tiny-random")
    port = server.port
    results: dict[int, list] = {i: [] for i, _ in jobs}
    errors = []

    def client(chunk):
        with RemoteEngine(server.url, retries=12, max_backoff_s=2.0) as eng:
            for i, acts in chunk:
                try:
                    results[i].append(eng.predict(FRAME, acts, seed=i, num_steps=100).frames)
                except Exception as e:  # noqa: BLE001
                    errors.append(e)

    # an env episode that spans the restart: its session rows are rebuilt on the new server
    import gymnasium as gym

    import dreamgym  # noqa: F401

    env = gym.make(
        "dreamgym/Dream-v0", engine=RemoteEngine(server.url, retries=12, max_backoff_s=2.0), start_frames=FRAME
    )
    ref = gym.make("dreamgym/Dream-v0", engine=tiny, start_frames=FRAME)
    env.reset(seed=1)
    ref.reset(seed=1)
    act = np.full(ref.action_space.shape, 0.3, np.float32)
    np.testing.assert_array_equal(env.step(act)[0], ref.step(act)[0])

    threads = [threading.Thread(target=client, args=(jobs[k::4],)) for k in range(4)]
    for t in threads:
        t.start()
    while sum(len(v) for v in results.values()) < 3:
        time.sleep(0.05)
    server.kill()  # SIGKILL, mid-load
    server = ServerProcess("--model", "tiny-random", port=port)
    try:
        for t in threads:
            t.join(300)
        np.testing.assert_array_equal(env.step(act)[0], ref.step(act)[0])
    finally:
        server.kill()
    assert not errors, errors
    for i, acts in jobs:
        assert len(results[i]) == 1
        np.testing.assert_array_equal(results[i][0], tiny.predict(FRAME, acts, seed=i, num_steps=100).frames)
