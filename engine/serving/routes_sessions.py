"""``/v1/sessions``: the SDK's streaming sessions (create, websocket stream, close)."""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import replace

import numpy as np
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect

from ..batching import Job
from ..codecs import png_bytes
from ..validation import as_actions, as_num_steps, as_seed, check_noise_range
from .codec import WireError
from .forms import check, expect_fields, file_part, int_field, read_form, text_field
from .service import Service


def add_routes(app: FastAPI, svc: Service) -> None:
    config = svc.config

    # --- sessions (SDK streaming) ----------------------------------------------------------
    @app.post("/v1/sessions")
    async def create_session(request: Request):
        form = await read_form(request, max_files=1)
        expect_fields(form, "/v1/sessions", {"initial_frame", "model", "seed", "num_steps", "guidance"})
        png = await file_part(form, "initial_frame")
        frame = svc.frame(png, name="initial_frame")
        slug = text_field(form, "model") or svc.spec.name
        if slug != svc.spec.name:
            raise WireError(
                422, "model_not_active", f"model {slug!r} is not served here; this server serves {svc.spec.name!r}"
            )
        seed = check(as_seed, int_field(text_field(form, "seed"), "seed") or 0)
        ns, g = svc.knobs(text_field(form, "num_steps"), text_field(form, "guidance"))
        svc.sessions.reserve(1)
        state = await svc.run(
            request,
            Job(
                chunks=np.zeros((1, 0, 1, 1), np.float32),
                num_steps=ns,
                guidance=g,
                start_frames=frame[None],
                seeds=[seed],
            ),
        )
        row = svc.sessions.add(state.states[0], initial_frame_png=png_bytes(frame))
        return session_envelope(request, row)

    def session_envelope(request: Request, row) -> dict:
        base = str(request.base_url).rstrip("/")
        ws = "ws" + base[4:] if base.startswith("http") else base
        return {
            "id": row.id,
            "object": "session",
            "model": svc.spec.name,
            "state": "ready",
            "created": int(row.created),
            "seed": row.state.seeds[0],
            "num_steps": row.state.num_steps,
            "chunk_index": row.chunk_index,
            "frames_streamed": row.frames_streamed,
            "idle_ttl_s": config.session_ttl_s,
            "ws_url": f"{ws}/v1/sessions/{row.id}/stream",
        }

    @app.get("/v1/sessions/{sid}")
    async def get_session(request: Request, sid: str):
        return session_envelope(request, svc.sessions.get(sid))

    @app.delete("/v1/sessions/{sid}")
    async def delete_session(sid: str):
        if not svc.sessions.close(sid):
            raise WireError(404, "session_not_found", f"no open session {sid!r} on this server")
        return {"id": sid, "object": "session", "state": "closed"}

    @app.websocket("/v1/sessions/{sid}/stream")
    async def stream(ws: WebSocket, sid: str):
        await ws.accept()
        try:
            row = svc.sessions.get(sid)
        except WireError as e:
            await ws.send_json({"type": "error", "error": {"code": e.code, "message": e.message}})
            await ws.close(code=1008)
            return
        await ws.send_json({"type": "session_started", "session_id": sid, "chunk_index": row.chunk_index})
        try:
            while True:
                raw = await ws.receive()
                if raw["type"] == "websocket.disconnect":
                    return
                if raw.get("text") is None:  # a binary frame: said, not a dropped stream
                    await ws_error(ws, "invalid_message", "messages must be JSON text frames, got a binary frame")
                    continue
                try:
                    msg = json.loads(raw["text"])
                except ValueError:
                    await ws_error(ws, "invalid_message", "messages must be JSON objects")
                    continue
                kind = msg.get("type") if isinstance(msg, dict) else None
                if kind == "ping":
                    await ws.send_json({"type": "pong"})
                elif kind == "control" and msg.get("command") == "stop":
                    await ws.close()
                    return
                elif kind == "submit_actions":
                    await submit(ws, sid, msg)
                else:
                    await ws_error(
                        ws,
                        "invalid_message",
                        f"unknown message type {kind!r}; expected submit_actions, ping or control",
                    )
        except WebSocketDisconnect:
            return

    async def ws_error(ws: WebSocket, code: str, message: str) -> None:
        await ws.send_json({"type": "error", "error": {"code": code, "message": message}})

    async def submit(ws: WebSocket, sid: str, msg: dict) -> None:
        try:
            row = svc.sessions.get(sid)
            if row.busy:
                raise WireError(409, "session_busy", "this session is already running a submission")
            try:
                arr = np.asarray(msg.get("actions"), dtype=np.float32)
            except (TypeError, ValueError):
                raise WireError(422, "invalid_input", "actions must be a (T, action_dim) list of numbers") from None
            if arr.ndim == 2 and arr.shape[0] > config.max_frames:
                raise WireError(
                    422, "too_many_frames", f"actions has T = {arr.shape[0]}, the limit is {config.max_frames}"
                )
            acts = check(as_actions, arr, svc.spec)
            seed = msg.get("seed")
            if seed is not None and int_field(seed, "seed") != row.state.seeds[0]:
                if row.chunk_index > 0:
                    raise WireError(
                        422, "invalid_input", f"seed is fixed once a session has run (it is {row.state.seeds[0]})"
                    )
                row.state = replace(row.state, seeds=[check(as_seed, int(seed))], extra={})
            ns = (
                check(as_num_steps, int_field(msg.get("num_steps"), "num_steps"), svc.spec)
                if msg.get("num_steps") is not None
                else row.state.num_steps
            )
            check(
                check_noise_range,
                svc.spec,
                row.state.seeds,
                [row.chunk_index + acts.shape[0] // svc.spec.chunk_size - 1],
            )
        except WireError as e:
            await ws_error(ws, e.code, e.message)
            return
        row.busy = True
        try:
            if not row.started_stream:
                row.started_stream = True
                await ws.send_json(
                    {"type": "frame", "index": 0, "data": base64.b64encode(row.initial_frame_png).decode()}
                )
                row.frames_streamed += 1
            for chunk in svc.chunks(acts[None])[0]:
                job = Job(chunks=chunk[None, None], num_steps=ns, guidance=row.state.guidance, states=[row.state])
                try:
                    result = await svc.run(None, job)
                except WireError as e:
                    await ws_error(ws, e.code, e.message)
                    return
                row.state = result.states[0]
                for f in result.frames[0]:
                    png = await asyncio.to_thread(png_bytes, f)
                    await ws.send_json(
                        {"type": "frame", "index": row.frames_streamed, "data": base64.b64encode(png).decode()}
                    )
                    row.frames_streamed += 1
            await ws.send_json(
                {
                    "type": "rollout_complete",
                    "frames_streamed_total": row.frames_streamed,
                    "chunk_index": row.chunk_index,
                }
            )
        finally:
            row.busy = False
