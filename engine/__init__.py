"""engine: the world-model runtime (specs, networks, sampler, rollouts, video, checkpoints).

The ``as_*`` validators are public: code that takes frames, actions or seeds on the engine's
behalf (envs, planners, servers) checks them the same way and with the same messages.
"""

from .checkpoints import load_checkpoint, save_checkpoint
from .engine import Engine, EngineState
from .reference import import_reference_checkpoint
from .rollout import Rollout, RolloutBatch
from .specs import CATALOG, ModelSpec, get_spec, list_specs, register_spec
from .validation import as_actions, as_frame, as_frames, as_guidance, as_num_steps, as_seed, as_seeds
from .video import decode_mp4, encode_mp4, write_mp4


def __getattr__(name: str):
    # the serving wing is imported on first use only (the engine core never imports it)
    if name in ("RemoteEngine", "RemoteState"):
        from . import serving

        return getattr(serving, name)
    raise AttributeError(f"module 'engine' has no attribute {name!r}")


__all__ = [
    "RemoteEngine",
    "RemoteState",
    "as_actions",
    "as_frame",
    "as_frames",
    "as_guidance",
    "as_num_steps",
    "as_seed",
    "as_seeds",
    "CATALOG",
    "Engine",
    "EngineState",
    "ModelSpec",
    "Rollout",
    "RolloutBatch",
    "decode_mp4",
    "encode_mp4",
    "get_spec",
    "import_reference_checkpoint",
    "list_specs",
    "load_checkpoint",
    "register_spec",
    "save_checkpoint",
    "write_mp4",
]
