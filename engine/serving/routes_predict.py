"""``/v1/predict``, ``/v1/predict/batch`` and ``/v1/rollouts``: rollouts as the SDK asks for them."""

from __future__ import annotations

import asyncio
import hmac
import json
import time
import uuid

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import Response

from ..batching import Job
from ..codecs import npy_bytes
from ..validation import as_actions, as_seed, as_seeds, check_noise_range
from ..video import encode_mp4
from ..wire import MEDIA_MP4, MEDIA_NPY, MEDIA_TAR
from .codec import WireError, parse_json_list, tar_of_mp4s, wants_npy
from .forms import check, digest, expect_fields, fields_of, file_part, file_parts, int_field, read_form, text_field
from .service import Service
from .stores import Stored, StoredRollout

REPEAT_ACTIONS = frozenset({"actions"})  # /v1/predict counts them itself (one, or use the batch route)


def add_routes(app: FastAPI, svc: Service) -> None:
    config = svc.config

    # --- predict ---------------------------------------------------------------------------
    async def predict_common(request: Request, frame_b: bytes, actions_list: list[bytes], fields: dict, batch: bool):
        frame = svc.frame(frame_b)
        if not actions_list:
            raise WireError(422, "missing_field", "missing the 'actions' file part")
        svc.candidates(len(actions_list))
        arrays = [svc.actions(a, name=f"actions[{i}]" if batch else "actions") for i, a in enumerate(actions_list)]
        if batch and len(arrays) == 1 and arrays[0].ndim == 3:
            acts = check(as_actions, arrays[0], svc.spec, batched=True)
        else:
            checked = [
                check(as_actions, a, svc.spec, name=f"actions[{i}]" if batch else "actions")
                for i, a in enumerate(arrays)
            ]
            if len({a.shape for a in checked}) > 1:
                raise WireError(
                    422,
                    "invalid_input",
                    f"all actions of a batch must have one shape, got {[a.shape for a in checked]}",
                )
            acts = np.stack(checked)
        svc.candidates(acts.shape[0])
        ns, g = svc.knobs(fields.get("num_steps"), fields.get("guidance"))
        seeds_raw = fields.get("seeds")
        if seeds_raw is not None:
            seeds = check(
                as_seeds,
                [int_field(s, "seeds[]") for s in parse_json_list(seeds_raw, name="seeds")],
                acts.shape[0],
                name="seeds",
            )
        else:
            seed = int_field(fields.get("seed"), "seed")
            seeds = check(as_seeds, 0 if seed is None else seed, acts.shape[0])
        check(check_noise_range, svc.spec, seeds, [acts.shape[1] // svc.spec.chunk_size - 1] * len(seeds))
        npy = wants_npy(request.headers.get("accept"))
        fingerprint = digest(request.url.path, frame.tobytes(), acts.tobytes(), acts.shape, seeds, ns, g, npy)

        async def compute() -> Stored:
            job = Job(
                chunks=svc.chunks(acts),
                num_steps=ns,
                guidance=g,
                start_frames=np.broadcast_to(frame, (acts.shape[0], *frame.shape)).copy(),
                seeds=seeds,
            )
            result = await svc.run(request, job)
            videos = svc.videos(frame, result.frames)
            headers = svc.headers(svc.request_id(request), result, acts.shape[0], videos.shape[1], seeds, ns, g)
            if npy:
                body = npy_bytes(videos if batch else videos[0])
                return Stored(200, body, MEDIA_NPY, headers)
            mp4s = await asyncio.to_thread(lambda: [encode_mp4(v, svc.spec.fps) for v in videos])
            if batch:
                return Stored(200, tar_of_mp4s(mp4s), MEDIA_TAR, headers)
            return Stored(200, mp4s[0], MEDIA_MP4, headers)

        return await svc.respond(request, fingerprint, compute)

    @app.post("/v1/predict")
    async def predict(request: Request):
        form = await read_form(request, max_files=2)
        expect_fields(form, "/v1/predict", {"frame", "actions", "seed", "num_steps", "guidance"}, REPEAT_ACTIONS)
        frame_b = await file_part(form, "frame")
        acts = await file_parts(form, "actions")
        if len(acts) > 1:
            raise WireError(
                422, "invalid_input", f"/v1/predict takes one 'actions' part, got {len(acts)}; use /v1/predict/batch"
            )
        return await predict_common(request, frame_b, acts, fields_of(form, "seed", "num_steps", "guidance"), False)

    @app.post("/v1/predict/batch")
    async def predict_batch(request: Request):
        form = await read_form(request, max_files=config.max_candidates + 2)  # one over the limit gets the clear 422
        allowed = {"frame", "actions", "seed", "seeds", "num_steps", "guidance"}
        expect_fields(form, "/v1/predict/batch", allowed, REPEAT_ACTIONS)
        frame_b = await file_part(form, "frame")
        acts = await file_parts(form, "actions")
        fields = fields_of(form, "seed", "seeds", "num_steps", "guidance")
        return await predict_common(request, frame_b, acts, fields, True)

    # --- /v1/rollouts (the SDK's JSON envelope) ----------------------------------------------
    @app.post("/v1/rollouts")
    async def rollouts(request: Request):
        form = await read_form(request, max_files=2)
        expect_fields(form, "/v1/rollouts", {"start_frame", "actions", "params"})
        frame = svc.frame(await file_part(form, "start_frame"), name="start_frame")
        raw = text_field(form, "params") or "{}"
        try:
            params = json.loads(raw)
        except ValueError:
            raise WireError(422, "invalid_field", f"params must be a JSON object, got {raw[:80]!r}") from None
        if not isinstance(params, dict):
            raise WireError(422, "invalid_field", f"params must be a JSON object, got {type(params).__name__}")
        known = {"model", "seed", "num_steps", "guidance", "score", "mode", "webhook_url"}
        unknown = sorted(set(params) - known)
        if unknown:
            raise WireError(422, "invalid_field", f"unknown params {unknown}; expected some of {sorted(known)}")
        slug = params.get("model", svc.spec.name)
        if slug != svc.spec.name:
            raise WireError(
                422, "model_not_active", f"model {slug!r} is not served here; this server serves {svc.spec.name!r}"
            )
        score = params.get("score", False)
        if not isinstance(score, bool):
            raise WireError(422, "invalid_field", f"score must be true or false, got {score!r}")
        if params.get("webhook_url") is not None:
            raise WireError(422, "not_offered", "webhook_url is not offered: poll GET /v1/rollouts/{id} instead")
        mode = params.get("mode", "sync")
        if mode not in ("sync", "async"):
            raise WireError(422, "invalid_field", f"mode must be 'sync' or 'async', got {mode!r}")
        acts = check(as_actions, svc.actions(await file_part(form, "actions")), svc.spec)
        ns, g = svc.knobs(params.get("num_steps"), params.get("guidance"))
        seed = check(as_seed, int_field(params.get("seed", 0), "seed"))
        check(check_noise_range, svc.spec, [seed], [acts.shape[0] // svc.spec.chunk_size - 1])
        base = str(request.base_url).rstrip("/")
        rid = "rollout_" + uuid.uuid4().hex
        fingerprint = digest("/v1/rollouts", frame.tobytes(), acts.tobytes(), acts.shape, seed, ns, g, mode, score)

        async def work() -> StoredRollout:
            job = Job(chunks=svc.chunks(acts[None]), num_steps=ns, guidance=g, start_frames=frame[None], seeds=[seed])
            result = await svc.run(request if mode == "sync" else None, job)
            video = svc.videos(frame, result.frames)[0]
            mp4 = await asyncio.to_thread(encode_mp4, video, svc.spec.fps)
            expires = int(time.time()) + 3600
            wall = result.wall_s
            quality = {}
            if score:  # against the same rollout with the spec's own settings ("the base spec")
                base_ns, base_g = svc.knobs(None, None)
                base_video = video
                if (ns, g) != (base_ns, base_g):
                    base_job = Job(
                        chunks=svc.chunks(acts[None]),
                        num_steps=base_ns,
                        guidance=base_g,
                        start_frames=frame[None],
                        seeds=[seed],
                    )
                    base_result = await svc.run(request if mode == "sync" else None, base_job)
                    base_video = svc.videos(frame, base_result.frames)[0]
                    wall += base_result.wall_s
                quality = await asyncio.to_thread(svc.quality, video, base_video)
            env = envelope(rid, seed, len(video), base, expires, wall * 1000, "succeeded")
            env.update(quality)
            return StoredRollout(env, mp4)

        def envelope(rid, seed, frames, base, expires, wall_ms, state) -> dict:
            url = (
                f"{base}/v1/rollouts/{rid}/video?expires={expires}&signature={svc.sign(rid, expires)}" if frames else ""
            )
            return {
                "id": rid,
                "object": "rollout",
                "model": svc.spec.name,
                "created": int(time.time()),
                "status": state,
                "frames": frames,
                "resolution": [svc.spec.height, svc.spec.width],
                "engine_wall_ms": round(wall_ms, 1),
                "cost_usd": frames * config.price_per_frame_usd,
                "video_url": url,
                "video_url_expires_at": expires if frames else 0,
                "seed": seed,
                "num_steps": ns,
                "guidance": g,
            }

        async def compute() -> Stored:
            if mode == "sync":
                item = await work()
                svc.rollouts.put(rid, item)
                return Stored(200, json.dumps(item.envelope).encode(), "application/json", {})
            queued = StoredRollout(envelope(rid, seed, 0, base, 0, 0.0, "queued"), None)
            svc.rollouts.put(rid, queued)

            async def background():
                try:
                    item = await work()
                except WireError as e:
                    queued.envelope = {**queued.envelope, "status": "failed", "error": e.body()["error"]}
                    return
                svc.rollouts.put(rid, item)

            queued.done = asyncio.ensure_future(background())
            return Stored(202, json.dumps(queued.envelope).encode(), "application/json", {})

        return await svc.respond(request, fingerprint, compute)

    @app.get("/v1/rollouts/{rid}")
    async def rollout(rid: str):
        return svc.rollouts.get(rid).envelope

    @app.get("/v1/rollouts/{rid}/video")
    async def rollout_video(rid: str, expires: int = 0, signature: str = ""):
        if not hmac.compare_digest(signature, svc.sign(rid, expires)):
            raise WireError(403, "bad_signature", "this video link is not valid (wrong signature)")
        if time.time() > expires:
            raise WireError(403, "link_expired", "this video link has expired; GET /v1/rollouts/{id} for a fresh one")
        item = svc.rollouts.get(rid)
        if item.mp4 is None:
            raise WireError(404, "not_ready", f"rollout {rid} has no video yet (status {item.envelope.get('status')})")
        return Response(item.mp4, media_type=MEDIA_MP4)
