"""Loading policy: which modules a model name means, and the device and dtype they run in.

* :func:`load_modules` — a spec name, a :class:`ModelSpec` or a checkpoint directory (plus
  ``weights=`` for specs without built-in weights) to (spec, VAE, DiT, example frames).
* :func:`resolve_device`, :func:`resolve_dtype` — CUDA + bf16 when present, CPU + fp32
  otherwise, unless told.
* :func:`prepare_modules` — move, freeze and lay out the modules for inference (channels-last
  Conv3d weights on CPU; the reference's fp32 islands under bf16/fp16).

Nothing here touches the network: weights come from local paths or the package.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from . import checkpoints
from .networks import ActionConditionedDiT
from .reference import import_reference_checkpoint
from .specs import CATALOG, DEFAULT_SPEC, ModelSpec, get_spec

ASSETS_DIR = Path(__file__).parent / "assets"
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def _unknown_model(name: str) -> Exception:
    """The error for a name that is neither a catalog spec nor a checkpoint directory."""
    expected = f"a spec name (one of {sorted(CATALOG)}) or a checkpoint directory (holding {checkpoints.SPEC_FILE})"
    path = Path(name)
    if path.is_dir():
        return FileNotFoundError(f"{name!r} is a directory without {checkpoints.SPEC_FILE}; expected {expected}")
    if path.exists():
        return ValueError(f"{name!r} is a file, not a checkpoint directory; expected {expected}")
    if os.sep in name or name.startswith("."):
        return FileNotFoundError(f"no checkpoint directory at {name!r}; expected {expected}")
    return ValueError(f"unknown model {name!r}; expected {expected}")


def resolve_device(device) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r} ({e})") from None
    if dev.type == "cuda":
        if torch.version.cuda is None:
            raise ValueError(
                f"device {device!r} asked for CUDA, but this torch ({torch.__version__}) is a CPU-only build; "
                "install a CUDA build of torch, or use device='cpu'"
            )
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} asked for CUDA, but no CUDA GPU is visible to torch")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif dev.type != "cpu":
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    return dev


def resolve_dtype(spec: ModelSpec, device: torch.device, dtype) -> torch.dtype:
    if dtype is not None:
        if isinstance(dtype, torch.dtype):
            return dtype
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)} or a torch.dtype, got {dtype!r}")
        return DTYPES[dtype]
    if spec.dtype != "auto":
        return DTYPES[spec.dtype] if device.type == "cuda" else torch.float32
    return torch.bfloat16 if device.type == "cuda" else torch.float32


def _move(module, device: torch.device, dtype: torch.dtype):
    module = module.to(device)
    if next(module.parameters()).dtype != dtype:
        # diffusers warns on every dtype cast of a model with fp32-only modules; the Wan VAE
        # lists none ("should be kept in float32: []"), so the warning says nothing here
        from diffusers.utils import logging as diffusers_logging

        level = diffusers_logging.get_verbosity()
        diffusers_logging.set_verbosity_error()
        try:
            module = module.to(dtype)
        finally:
            diffusers_logging.set_verbosity(level)
    return module.eval().requires_grad_(False)


def _channels_last_conv_weights(module: torch.nn.Module) -> None:
    """Store every Conv3d weight channels-last (NDHWC strides, same values). On CPU, oneDNN
    then skips a weight reorder per call: about 10% of a push-64 decode. Results stay
    deterministic and independent of a row's position in its batch (tested)."""
    for m in module.modules():
        if isinstance(m, torch.nn.Conv3d):
            m.weight.data = m.weight.data.contiguous(memory_format=torch.channels_last_3d)


def prepare_modules(vae, dit: ActionConditionedDiT, device: torch.device, dtype: torch.dtype):
    """(vae, dit) on ``device`` in ``dtype``, in eval mode, frozen. On CPU the Conv3d weights are
    stored channels-last; under bf16/fp16 the DiT's time embedding, modulations and final
    layer go back to fp32 (weights already rounded to the model dtype, as the reference's)."""
    vae = _move(vae, device, dtype)
    if device.type == "cpu":
        _channels_last_conv_weights(vae)
    dit = _move(dit, device, dtype)
    if dtype != torch.float32:
        for module in dit.fp32_submodules():
            module.float()
    return vae, dit


def synthetic_frames(spec: ModelSpec, n: int = 4) -> np.ndarray:
    """(n, H, W, 3) uint8 example frames for a model with random weights (it has no data):
    smooth colour gradients with a disc, drawn from ``spec.init_seed``, so envs on such a
    model reset without being given start frames."""
    h, w = spec.resolution
    rng = np.random.default_rng([spec.init_seed, 7])
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    out = np.empty((n, h, w, 3), np.uint8)
    for i in range(n):
        c = rng.uniform(0.2, 0.8, 3)
        img = np.stack([c[0] + 0.3 * xx, c[1] + 0.3 * yy, c[2] - 0.2 * xx * yy], -1)
        cy, cx = rng.uniform(0.3, 0.7, 2)
        img[((yy - cy) ** 2 + (xx - cx) ** 2) < 0.03] = [0.9, 0.2, 0.2]
        out[i] = (np.clip(img, 0, 1) * 255).astype(np.uint8)
    return out


def load_modules(
    name: str | os.PathLike | ModelSpec | None = None,
    *,
    weights: str | os.PathLike | None = None,
    vae_weights: str | os.PathLike | None = None,
    context: torch.Tensor | None = None,
):
    """(spec, vae, dit, example_frames or None) for a model name; see :meth:`Engine.load`."""
    if name is None:
        name = DEFAULT_SPEC
    if isinstance(name, os.PathLike) or (isinstance(name, str) and checkpoints.is_checkpoint_dir(name)):
        spec, vae, dit = checkpoints.load_checkpoint(name)
        return spec, vae, dit, checkpoints.read_example_frames(name)
    if isinstance(name, str) and name not in CATALOG:
        raise _unknown_model(name)
    spec = name if isinstance(name, ModelSpec) else get_spec(name)
    if weights is not None:
        if checkpoints.is_checkpoint_dir(weights):
            _, vae, dit = checkpoints.load_checkpoint(weights, spec)
            return spec, vae, dit, checkpoints.read_example_frames(weights)
        else:
            vae, dit = import_reference_checkpoint(weights, spec, vae_weights=vae_weights, context=context)
        return spec, vae, dit, None
    if spec.weights == "random":
        vae, dit = checkpoints.random_modules(spec)
        return spec, vae, dit, synthetic_frames(spec)
    if spec.weights and spec.weights.startswith("package:"):
        path = ASSETS_DIR / spec.weights.removeprefix("package:")
        if not checkpoints.is_checkpoint_dir(path):
            raise FileNotFoundError(
                f"the packaged weights of spec {spec.name!r} are missing: expected a checkpoint directory at "
                f"{path} (reinstall the package, or train them with `dreamgym train --spec {spec.name} ... --install`)"
            )
        _, vae, dit = checkpoints.load_checkpoint(path, spec)
        return spec, vae, dit, checkpoints.read_example_frames(path)
    raise FileNotFoundError(
        f"spec {spec.name!r} has no built-in weights: pass weights=PATH, either a dreamgym checkpoint "
        f"directory (holding {checkpoints.SPEC_FILE}, {checkpoints.DIT_FILE}, ...) or the reference "
        f"DreamDojo checkpoint file (.pt/.safetensors) with vae_weights=WAN_VAE_DIR and context=TENSOR"
    )
