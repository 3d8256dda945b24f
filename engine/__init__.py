"""engine: the world-model runtime (specs, networks, sampler, rollouts, video, checkpoints).

    import engine
    eng = engine.open("push-64")          # a spec name, a checkpoint path, a server URL or an engine
    r = eng.predict(frame, actions, seed=0)

Every caller codes against one contract (:mod:`engine.protocol`), implemented by
:class:`Engine` (local), :class:`RemoteEngine` (a ``dreamgym serve`` server) and each world's
exact model. Validators live in :mod:`engine.validation`, byte codecs in :mod:`engine.codecs`,
metrics in :mod:`engine.metrics`. The wings (:mod:`engine.training`, :mod:`engine.serving`,
:mod:`engine.bulk`) are imported on use; the core never imports them (docs/architecture.md).
"""

from .checkpoints import load_checkpoint, save_checkpoint
from .engine import Engine, EngineState
from .protocol import RolloutModel, WorldModel
from .reference import import_reference_checkpoint
from .remote import RemoteEngine, RemoteEngineError, RemoteState
from .resolve import open_engine
from .rollout import Rollout, RolloutBatch
from .specs import CATALOG, ModelSpec, get_spec, list_specs, register_spec
from .video import decode_mp4, encode_mp4, write_mp4

open = open_engine  # noqa: A001 - ``engine.open(model)``, the one resolver

__all__ = [
    "CATALOG",
    "Engine",
    "EngineState",
    "ModelSpec",
    "RemoteEngine",
    "RemoteEngineError",
    "RemoteState",
    "Rollout",
    "RolloutBatch",
    "RolloutModel",
    "WorldModel",
    "decode_mp4",
    "encode_mp4",
    "get_spec",
    "import_reference_checkpoint",
    "list_specs",
    "load_checkpoint",
    "open",
    "open_engine",
    "register_spec",
    "save_checkpoint",
    "write_mp4",
]
