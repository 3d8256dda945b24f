"""``/v1/engine/*``: the chunk-by-chunk protocol of :class:`~engine.serving.RemoteEngine`."""

from __future__ import annotations

import json

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import Response

from ..batching import Job
from ..codecs import array_from_npy_bytes, npy_bytes
from ..validation import as_actions, as_frames, as_seeds
from ..wire import MEDIA_NPY
from .codec import WireError, parse_json_list
from .forms import bool_field, check, digest, expect_fields, file_part, int_field, read_form, text_field
from .service import Service
from .stores import Stored


def add_routes(app: FastAPI, svc: Service) -> None:
    config, engine = svc.config, svc.engine

    # --- the RemoteEngine protocol ----------------------------------------------------------
    @app.get("/v1/engine")
    async def engine_info():
        return {
            "spec": svc.spec.to_dict(),
            "deterministic": engine.deterministic,
            "threads": engine.threads,
            "weights_sha256": engine.weights_sha256(),
            "device": str(engine.device),
            "example_frames": 0 if engine.example_frames is None else int(len(engine.example_frames)),
            "limits": {
                "max_candidates": config.max_candidates,
                "max_frames": config.max_frames,
                "max_body_bytes": config.max_body_bytes,
            },
        }

    @app.get("/v1/engine/example_frames")
    async def example_frames():
        if engine.example_frames is None:
            raise WireError(404, "no_example_frames", f"model {svc.spec.name!r} ships no example frames")
        return Response(npy_bytes(engine.example_frames), media_type=MEDIA_NPY)

    @app.post("/v1/engine/start")
    async def engine_start(request: Request):
        """Open B session rows: ``frames`` .npy (B, H, W, 3) uint8, ``seeds`` JSON list,
        optional ``num_steps``, ``guidance``, and ``history`` .npy (B, n * chunk_size, A) of
        actions already run (a client rebuilding rows the server lost). JSON back: row ids."""
        form = await read_form(request, max_files=2)
        expect_fields(form, "/v1/engine/start", {"frames", "seeds", "num_steps", "guidance", "history"})
        frames = check(
            as_frames,
            check(array_from_npy_bytes, await file_part(form, "frames"), name="frames"),
            svc.spec,
            name="frames",
        )
        svc.candidates(frames.shape[0])
        seeds = check(
            as_seeds,
            [int_field(s, "seeds[]") for s in parse_json_list(text_field(form, "seeds") or "[]", name="seeds")],
            frames.shape[0],
            name="seeds",
        )
        ns, g = svc.knobs(text_field(form, "num_steps"), text_field(form, "guidance"))
        hist_b = await file_part(form, "history", required=False)
        if hist_b is not None:
            hist = check(as_actions, svc.actions(hist_b, name="history"), svc.spec, batched=True, name="history")
            if hist.shape[0] != frames.shape[0]:
                raise WireError(
                    422,
                    "invalid_input",
                    f"history must have one row per frame ({frames.shape[0]}), got {hist.shape[0]}",
                )
            chunks = svc.chunks(hist)
        else:
            chunks = np.zeros((frames.shape[0], 0, svc.spec.chunk_size, svc.spec.action_dim), np.float32)
        fingerprint = digest("/v1/engine/start", frames.tobytes(), seeds, ns, g, chunks.tobytes(), chunks.shape)

        async def compute() -> Stored:
            svc.sessions.reserve(frames.shape[0])
            job = Job(chunks=chunks, num_steps=ns, guidance=g, start_frames=frames, seeds=seeds, discard_frames=True)
            result = await svc.run(request, job)
            rows = [svc.sessions.add(st) for st in result.states]
            body = {"rows": [r.id for r in rows], "chunk_index": [r.chunk_index for r in rows], "last_frames": None}
            return Stored(200, json.dumps(body).encode(), "application/json", {})

        return await svc.respond(request, fingerprint, compute)

    @app.post("/v1/engine/step")
    async def engine_step(request: Request):
        """Advance session rows by one chunk: ``rows`` JSON list of ids, ``chunk_index`` JSON
        list (where the client believes each row is; a mismatch is a 409), ``actions`` .npy
        (B, chunk_size, A); ``peek=1`` predicts without advancing the rows. Returns the frames
        (B, chunk_size, H, W, 3) as .npy."""
        form = await read_form(request, max_files=1)
        expect_fields(form, "/v1/engine/step", {"rows", "chunk_index", "actions", "peek"})
        ids = parse_json_list(text_field(form, "rows") or "[]", name="rows", items=str)
        expect = parse_json_list(text_field(form, "chunk_index") or "[]", name="chunk_index", items=int)
        if not ids or len(ids) != len(expect) or len(set(ids)) != len(ids):
            raise WireError(
                422,
                "invalid_input",
                f"rows must be distinct ids with one chunk_index each, got {len(ids)} ids and {len(expect)} indices",
            )
        svc.candidates(len(ids))
        acts = check(
            as_actions,
            svc.actions(await file_part(form, "actions"), name="actions"),
            svc.spec,
            batched=True,
            name="actions",
        )
        if acts.shape[0] != len(ids) or acts.shape[1] != svc.spec.chunk_size:
            raise WireError(
                422,
                "invalid_input",
                f"actions must have shape ({len(ids)}, {svc.spec.chunk_size}, {svc.spec.action_dim}), got {acts.shape}",
            )
        peek = bool_field(text_field(form, "peek"), "peek")
        fingerprint = digest("/v1/engine/step", json.dumps(ids), json.dumps(expect), acts.tobytes(), peek)

        async def compute() -> Stored:
            rows = [svc.sessions.get(str(i)) for i in ids]
            for row, want in zip(rows, expect, strict=True):
                if row.busy:
                    raise WireError(409, "session_busy", f"row {row.id} is being stepped by another request")
                if row.chunk_index != int_field(want, "chunk_index[]"):
                    raise WireError(
                        409,
                        "stale_state",
                        f"row {row.id} is at chunk {row.chunk_index}, the request expected {want}: "
                        "step the newest state",
                    )
            for row in rows:
                row.busy = True
            try:
                states = [r.state for r in rows]
                job = Job(
                    chunks=acts[:, None], num_steps=states[0].num_steps, guidance=states[0].guidance, states=states
                )
                if len({(s.num_steps, s.guidance) for s in states}) > 1:
                    raise WireError(422, "invalid_input", "rows of one step must share num_steps and guidance")
                result = await svc.run(request, job)
            finally:
                for row in rows:
                    row.busy = False
            if not peek:  # a peek predicts the chunk and leaves the rows where they were
                for row, st in zip(rows, result.states, strict=True):
                    row.state = st
            headers = {
                "X-DreamEngine-Engine-Wall-Ms": f"{result.wall_s * 1000:.1f}",
                "X-DreamEngine-Batched-Rows": str(result.batch_rows),
            }
            return Stored(200, npy_bytes(result.frames), MEDIA_NPY, headers)

        return await svc.respond(request, fingerprint, compute)

    @app.post("/v1/engine/release")
    async def engine_release(request: Request):
        """Close session rows: JSON ``{"rows": [...]}``; unknown ids are ignored."""
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        ids = body.get("rows") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise WireError(422, "invalid_input", 'expected a JSON body {"rows": [row ids as strings]}')
        closed = sum(svc.sessions.close(str(i)) for i in ids)
        return {"closed": closed}
