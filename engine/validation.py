"""Input checks at the engine boundary. Each raises before any model work, with a message
that names what was expected and what was received."""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

from .specs import ModelSpec

PIL_MODES = ("RGB", "RGBA", "RGBX", "L", "P", "LA", "PA")  # 8 bits per channel; alpha is dropped
MAX_NUM_STEPS = 1000
MAX_FRAMES = 4096  # per rollout: 410 s of video at 10 fps
MAX_CANDIDATES = 4096  # per predict_batch call (split larger searches across calls)
MAX_GUIDANCE = 100.0


def as_int(value, name: str, *, low: int | None = None, high: int | None = None, high_open: bool = False) -> int:
    """An integer argument (Python or numpy integer, never a bool) in [low, high] (or
    [low, high) with ``high_open``), or a ValueError that names it, the range and what came."""
    if low is not None and high is not None:
        bound = f" in [{low}, {high}{')' if high_open else ']'}"
    elif low is not None:
        bound = f" >= {low}"
    elif high is not None:
        bound = f" {'<' if high_open else '<='} {high}"
    else:
        bound = ""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an int{bound}, got {type(value).__name__} {value!r}")
    v = int(value)
    if (low is not None and v < low) or (high is not None and (v >= high if high_open else v > high)):
        raise ValueError(f"{name} must be an int{bound}, got {v}")
    return v


def as_real(
    value, name: str, *, low: float | None = None, high: float | None = None, open_low=False, open_high=False
) -> float:
    """A finite real argument (never a bool) within the given bounds, or a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    v = float(value)
    if low is not None and (v < low or (open_low and v == low)):
        raise ValueError(f"{name} must be {'>' if open_low else '>='} {low}, got {v}")
    if high is not None and (v > high or (open_high and v == high)):
        raise ValueError(f"{name} must be {'<' if open_high else '<='} {high}, got {v}")
    return v


def as_frame(frame, spec: ModelSpec, *, name: str = "start_frame") -> np.ndarray:
    """A start frame as (H, W, 3) uint8. Accepts a numpy array or a PIL image."""
    try:
        from PIL import Image

        if isinstance(frame, Image.Image):
            if frame.mode not in PIL_MODES:
                raise TypeError(
                    f"{name}: PIL image mode must be one of {PIL_MODES} (8-bit colour or grey), got {frame.mode!r}; "
                    "convert it to 8-bit RGB yourself so the intended scaling is explicit"
                )
            frame = np.asarray(frame.convert("RGB"))
    except ImportError:  # pragma: no cover
        pass
    if isinstance(frame, torch.Tensor):
        frame = frame.detach().cpu().numpy()
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"{name} must be a numpy array or PIL image, got {type(frame).__name__}")
    h, w = spec.resolution
    if frame.ndim != 3 or frame.shape[-1] != 3:
        raise ValueError(f"{name} must have shape (H, W, 3) = ({h}, {w}, 3), got {frame.shape}")
    if frame.dtype != np.uint8:
        raise TypeError(f"{name} must be uint8 (values 0..255), got dtype {frame.dtype}")
    if frame.shape[:2] != (h, w):
        raise ValueError(f"{name} has resolution {frame.shape[:2]}, spec {spec.name!r} expects (H, W) = ({h}, {w})")
    return np.ascontiguousarray(frame)


def as_frames(frames, spec: ModelSpec, *, name: str = "start_frames") -> np.ndarray:
    """A batch of start frames as (B, H, W, 3) uint8."""
    if isinstance(frames, list | tuple):
        if not frames:
            raise ValueError(f"{name} must hold at least one frame")
        return np.stack([as_frame(f, spec, name=f"{name}[{i}]") for i, f in enumerate(frames)])
    if isinstance(frames, torch.Tensor):
        frames = frames.detach().cpu().numpy()
    if not isinstance(frames, np.ndarray):
        raise TypeError(f"{name} must be an array (B, H, W, 3) or a list of frames, got {type(frames).__name__}")
    if frames.ndim != 4:
        h, w = spec.resolution
        raise ValueError(f"{name} must have shape (B, H, W, 3) = (B, {h}, {w}, 3), got {frames.shape}")
    return np.stack([as_frame(f, spec, name=f"{name}[{i}]") for i, f in enumerate(frames)])


F32_MAX = float(np.finfo(np.float32).max)


def as_actions(actions, spec: ModelSpec, *, batched: bool = False, name: str = "actions") -> np.ndarray:
    """Actions as float32 (T, A) (or (K, T, A) when ``batched``), checked against the spec:
    T a positive multiple of chunk_size, A = action_dim, finite, within bounds (clipped
    instead when the spec says ``out_of_bounds="clip"``)."""
    if isinstance(actions, torch.Tensor):
        actions = actions.detach().cpu().numpy()
    if isinstance(actions, list | tuple):
        actions = np.asarray(actions)
    if not isinstance(actions, np.ndarray):
        raise TypeError(f"{name} must be a numpy array or torch tensor, got {type(actions).__name__}")
    if not (np.issubdtype(actions.dtype, np.floating) or np.issubdtype(actions.dtype, np.integer)):
        raise TypeError(f"{name} must hold real numbers (float32 expected), got dtype {actions.dtype}")
    want = "(K, T, action_dim)" if batched else "(T, action_dim)"
    ndim = 3 if batched else 2
    if actions.ndim != ndim:
        raise ValueError(
            f"{name} must have shape {want} = {want.replace('action_dim', str(spec.action_dim))}, got {actions.shape}"
        )
    if batched and actions.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one candidate (K >= 1), got K = 0")
    t, a = actions.shape[-2:]
    if a != spec.action_dim:
        raise ValueError(f"{name} last dimension must be action_dim = {spec.action_dim}, got {a}")
    if t <= 0 or t % spec.chunk_size:
        raise ValueError(f"{name} length T must be a positive multiple of chunk_size = {spec.chunk_size}, got T = {t}")
    if t > MAX_FRAMES:
        raise ValueError(f"{name} length T must be at most {MAX_FRAMES} frames per rollout, got T = {t}")
    if batched and actions.shape[0] > MAX_CANDIDATES:
        raise ValueError(f"{name} must hold at most {MAX_CANDIDATES} candidates per call, got K = {actions.shape[0]}")
    if not np.isfinite(actions).all():
        raise ValueError(f"{name} must be finite; found NaN or inf")
    big = float(np.abs(actions).max())
    if big > F32_MAX:  # finite as given, but float32 (what the model runs) would make it inf
        raise ValueError(f"{name} must fit in float32 (|a| <= {F32_MAX:.4g}); got a value of magnitude {big:.4g}")
    actions = actions.astype(np.float32, copy=True)
    lo, hi = spec.action_low, spec.action_high
    if spec.out_of_bounds == "clip":
        np.clip(actions, lo, hi, out=actions)
    elif actions.min() < lo or actions.max() > hi:
        raise ValueError(
            f"{name} must lie within the bounds [{lo}, {hi}] of spec {spec.name!r}; "
            f"got min {actions.min():.4g}, max {actions.max():.4g}"
        )
    return actions


def as_seed(seed, *, name: str = "seed") -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{name} must be a non-negative int, got {type(seed).__name__} {seed!r}")
    seed = int(seed)
    if not 0 <= seed < 2**63:
        raise ValueError(f"{name} must be a non-negative int below 2**63, got {seed}")
    return seed


def as_seeds(seed, count: int, *, name: str = "seed") -> list[int]:
    """One int shared by all rows, or a list with one seed per row."""
    if isinstance(seed, list | tuple | np.ndarray):
        seeds = [as_seed(s, name=f"{name}[{i}]") for i, s in enumerate(seed)]
        if len(seeds) != count:
            raise ValueError(f"{name} list must have one seed per row ({count}), got {len(seeds)}")
        return seeds
    return [as_seed(seed, name=name)] * count


def as_num_steps(num_steps, spec: ModelSpec) -> int:
    if num_steps is None:
        return spec.num_steps
    if isinstance(num_steps, bool) or not isinstance(num_steps, numbers.Integral):
        raise ValueError(f"num_steps must be an int in [1, {MAX_NUM_STEPS}], got {num_steps!r}")
    if not 1 <= num_steps <= MAX_NUM_STEPS:
        raise ValueError(f"num_steps must be in [1, {MAX_NUM_STEPS}], got {num_steps}")
    return int(num_steps)


def as_guidance(guidance, spec: ModelSpec) -> float:
    if guidance is None:
        return float(spec.guidance)
    if isinstance(guidance, bool) or not isinstance(guidance, numbers.Real):
        raise TypeError(f"guidance must be a float >= 0, got {type(guidance).__name__}")
    g = float(guidance)
    if not np.isfinite(g) or not 0 <= g <= MAX_GUIDANCE:
        raise ValueError(f"guidance must be a finite float in [0, {MAX_GUIDANCE}], got {g}")
    return g


def reference_noise_seed(seed: int, chunk_index: int, chunk_size: int) -> int:
    """The ``np.random.RandomState`` seed of the reference scheme: the chunk's first action
    index, offset by the user's seed. A ``ValueError`` when it leaves RandomState's range."""
    s = int(seed) + int(chunk_index) * int(chunk_size)
    if s >= 2**32:
        raise ValueError(
            f"the reference noise scheme seeds np.random.RandomState with seed + chunk_index * chunk_size, "
            f"which must be below 2**32; got {seed} + {chunk_index} * {chunk_size} = {s}"
        )
    return s


def check_noise_range(spec, seeds, last_chunks) -> None:
    """Before any work: under the reference noise scheme (``spec.noise == "reference"``) every
    row's RandomState seed (seed + chunk * chunk_size) must stay below 2**32 up to its last
    chunk ``last_chunks[i]`` (ValueError otherwise); other schemes take any seed."""
    if spec.noise == "reference":
        for seed, c in zip(seeds, last_chunks, strict=True):
            reference_noise_seed(seed, int(c), spec.chunk_size)
