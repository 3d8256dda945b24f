"""Model specs: a named configuration of the whole world model, and the built-in catalog.

A :class:`ModelSpec` says everything the engine needs to build, run and validate a model:
the network configs (a diffusers ``AutoencoderKLWan`` and ``CosmosTransformer3DModel``),
the frame resolution, the chunk length, the action space and its bounds, the sampler
settings and where the weights come from. Specs serialise to JSON (``spec.json`` in a
checkpoint directory).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

HANDOFF_MODES = ("pixel", "latent")
OUT_OF_BOUNDS_MODES = ("error", "clip")
DTYPES = ("auto", "float32", "bfloat16", "float16")
NOISE_SCHEMES = ("per-candidate", "reference")
PIXEL_QUANTIZATIONS = ("round", "truncate")
START_LATENT_DECODES = ("clean", "sampled")


@dataclass(frozen=True)
class ModelSpec:
    """A named world-model configuration.

    Attributes:
        name: catalog name, e.g. ``"dreamdojo-2b-gr1"``.
        height, width: frame resolution in pixels.
        chunk_size: frames generated per chunk (a multiple of the VAE's temporal factor).
        action_dim: width of one action row.
        action_low, action_high: action bounds (inclusive), the same for every dimension.
        out_of_bounds: ``"error"`` rejects actions outside the bounds, ``"clip"`` clips them.
        fps: frame rate of the saved videos.
        num_steps: default sampler steps per chunk.
        guidance: default classifier-free guidance (0 disables the unconditional pass).
        shift: flow-matching sigma shift of the UniPC schedule.
        sigma_max: first sigma of the linear schedule before the shift (0.999 in the reference).
        handoff: ``"pixel"`` re-encodes the last decoded uint8 frame as the next chunk's start
            (the reference behaviour); ``"latent"`` reuses the last latent frame.
        noise: ``"per-candidate"`` draws row b's chunk c from a torch generator seeded by
            ``(seed_b, c)`` (independent streams for every seed and chunk);
            ``"reference"`` draws it as the DreamDojo rollout script does,
            ``np.random.RandomState(seed + c * chunk_size).standard_normal`` (at seed 0 the
            reference's own noise; seeds then overlap: seed ``chunk_size`` is chunk 1 of seed 0).
        pixel_quantization: how decoded pixels in [-1, 1] become uint8 (the frames returned
            and, with pixel handoff, the next chunk's start): ``"round"`` to nearest or
            ``"truncate"`` toward zero as the reference (``(x + 1) / 2 * 255`` cast to uint8).
        decode_start_latent: which latent frame 0 the decoder sees at the end of a chunk:
            ``"clean"`` (the encoded start frame) or ``"sampled"`` (what the sampler left
            there, slightly drifted, as the reference decodes it). Frame 0 is never returned,
            but the causal decoder carries it into the chunk's frames.
        vae: keyword arguments of ``diffusers.AutoencoderKLWan``.
        transformer: keyword arguments of ``diffusers.CosmosTransformer3DModel``.
        action_hidden: hidden width of the two action MLPs.
        context_tokens, context_dim: shape of the fixed (already projected) context that
            stands in for the text prompt.
        dtype: ``"auto"`` (bf16 on CUDA, fp32 on CPU) or an explicit dtype name.
        weights: where the weights live: ``None`` (must be given at load time),
            ``"random"`` (initialised from ``init_seed``) or ``"package:<dir>"`` (shipped
            inside the ``engine`` package under ``engine/assets/<dir>``).
        init_seed: seed for random initialisation.
        description: one line for humans.
    """

    name: str
    height: int
    width: int
    chunk_size: int
    action_dim: int
    vae: dict[str, Any]
    transformer: dict[str, Any]
    action_low: float = -1.0
    action_high: float = 1.0
    out_of_bounds: str = "error"
    fps: int = 10
    num_steps: int = 35
    guidance: float = 0.0
    shift: float = 5.0
    sigma_max: float = 0.999
    handoff: str = "pixel"
    noise: str = "per-candidate"
    pixel_quantization: str = "round"
    decode_start_latent: str = "sampled"
    action_hidden: int = 256
    context_tokens: int = 8
    context_dim: int = 32
    dtype: str = "auto"
    weights: str | None = None
    init_seed: int = 0
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_fields(self)
        if self.handoff not in HANDOFF_MODES:
            raise ValueError(f"spec {self.name!r}: handoff must be one of {HANDOFF_MODES}, got {self.handoff!r}")
        for key, allowed in (
            ("noise", NOISE_SCHEMES),
            ("pixel_quantization", PIXEL_QUANTIZATIONS),
            ("decode_start_latent", START_LATENT_DECODES),
        ):
            if getattr(self, key) not in allowed:
                raise ValueError(f"spec {self.name!r}: {key} must be one of {allowed}, got {getattr(self, key)!r}")
        if self.out_of_bounds not in OUT_OF_BOUNDS_MODES:
            raise ValueError(
                f"spec {self.name!r}: out_of_bounds must be one of {OUT_OF_BOUNDS_MODES}, got {self.out_of_bounds!r}"
            )
        if self.dtype not in DTYPES:
            raise ValueError(f"spec {self.name!r}: dtype must be one of {DTYPES}, got {self.dtype!r}")
        if not self.action_low < self.action_high:
            raise ValueError(f"spec {self.name!r}: need action_low < action_high")
        tf, sf = self.temporal_factor, self.spatial_factor
        if self.chunk_size <= 0 or self.chunk_size % tf:
            raise ValueError(
                f"spec {self.name!r}: chunk_size must be a positive multiple of the VAE temporal "
                f"factor {tf}, got {self.chunk_size}"
            )
        patch = self.transformer.get("patch_size", (1, 2, 2))
        for side, n in (("height", self.height), ("width", self.width)):
            if n % (sf * patch[1]):
                raise ValueError(
                    f"spec {self.name!r}: {side} {n} must be a multiple of {sf * patch[1]} "
                    f"(VAE factor {sf} x patch {patch[1]})"
                )
        if self.transformer.get("concat_padding_mask", True):
            raise ValueError(
                f"spec {self.name!r}: transformer.concat_padding_mask must be False (the engine appends "
                "the zero padding-mask channel itself; diffusers' path needs torchvision)"
            )

    # --- derived quantities -------------------------------------------------------------
    @property
    def resolution(self) -> tuple[int, int]:
        """(H, W) in pixels."""
        return (self.height, self.width)

    @property
    def temporal_factor(self) -> int:
        """Frames per latent frame (after the first): 2 ** number of temporal downsamples."""
        return 2 ** sum(bool(x) for x in self.vae.get("temperal_downsample", [False, True, True]))

    @property
    def spatial_factor(self) -> int:
        """Pixels per latent pixel along each side."""
        return 2 ** len(self.vae.get("temperal_downsample", [False, True, True]))

    @property
    def latent_channels(self) -> int:
        return int(self.vae.get("z_dim", 16))

    @property
    def latent_frames_per_chunk(self) -> int:
        """Latent frames of one chunk, the conditioning frame included."""
        return 1 + self.chunk_size // self.temporal_factor

    @property
    def latent_size(self) -> tuple[int, int]:
        return (self.height // self.spatial_factor, self.width // self.spatial_factor)

    # --- serialisation ------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelSpec:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown ModelSpec fields {sorted(unknown)}; expected a subset of {sorted(known)}")
        d = dict(d)
        # JSON turns tuples into lists; diffusers configs accept either, keep tuples where expected.
        tr = dict(d.get("transformer", {}))
        for key in ("max_size", "patch_size", "rope_scale"):
            if key in tr and tr[key] is not None:
                tr[key] = tuple(tr[key])
        d["transformer"] = tr
        return cls(**d)

    def replace(self, **changes: Any) -> ModelSpec:
        return dataclasses.replace(self, **changes)


# --- field checks ---------------------------------------------------------------------------

# (low, high) inclusive bounds; sizes are bounded so that a bad spec file fails here, before
# any network is allocated (the full-size GR-1 spec sits well inside every bound).
_INT_FIELDS = {
    "height": (8, 8192),
    "width": (8, 8192),
    "chunk_size": (1, 1024),
    "action_dim": (1, 65536),
    "fps": (1, 1000),
    "num_steps": (1, 1000),
    "action_hidden": (1, 65536),
    "context_tokens": (1, 65536),
    "context_dim": (1, 1 << 20),
    "init_seed": (0, 2**63 - 1),
}
_FLOAT_FIELDS = {
    "action_low": (-1e6, 1e6),
    "action_high": (-1e6, 1e6),
    "guidance": (0.0, 100.0),
    "shift": (1e-3, 1e3),
    "sigma_max": (1e-3, 1.0),
}
_NETWORK_INTS = {
    "vae": {"base_dim": (1, 1024), "z_dim": (1, 1024), "num_res_blocks": (1, 16)},
    "transformer": {
        "in_channels": (1, 4096),
        "out_channels": (1, 4096),
        "num_attention_heads": (1, 256),
        "attention_head_dim": (1, 1024),
        "num_layers": (1, 256),
        "text_embed_dim": (1, 1 << 20),
        "adaln_lora_dim": (1, 65536),
    },
}


def _type_name(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


def _check_int(where: str, key: str, v: Any, bounds: tuple[int, int]) -> None:
    lo, hi = bounds
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError(f"{where}: {key} must be an int in [{lo}, {hi}], got {_type_name(v)}")
    if not lo <= v <= hi:
        raise ValueError(f"{where}: {key} must be in [{lo}, {hi}], got {v}")


def _check_fields(spec: ModelSpec) -> None:
    """Types and ranges of every field, each error naming the field, the expected and the
    received value."""
    where = f"spec {spec.name!r}" if isinstance(spec.name, str) else "spec"
    if not isinstance(spec.name, str) or not spec.name:
        raise TypeError(f"spec name must be a non-empty str, got {_type_name(spec.name)}")
    for key, bounds in _INT_FIELDS.items():
        _check_int(where, key, getattr(spec, key), bounds)
    for key, (lo, hi) in _FLOAT_FIELDS.items():
        v = getattr(spec, key)
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise TypeError(f"{where}: {key} must be a number in [{lo}, {hi}], got {_type_name(v)}")
        if not (math.isfinite(v) and lo <= v <= hi):
            raise ValueError(f"{where}: {key} must be a finite number in [{lo}, {hi}], got {v}")
    if not isinstance(spec.description, str):
        raise TypeError(f"{where}: description must be a str, got {_type_name(spec.description)}")
    if spec.weights is not None and not isinstance(spec.weights, str):
        raise TypeError(f"{where}: weights must be None, 'random' or 'package:<dir>', got {_type_name(spec.weights)}")
    for key in ("vae", "transformer", "extra"):
        if not isinstance(getattr(spec, key), dict):
            raise TypeError(f"{where}: {key} must be a dict, got {_type_name(getattr(spec, key))}")
    for net, fields in _NETWORK_INTS.items():
        cfg = getattr(spec, net)
        for key, bounds in fields.items():
            if key in cfg:
                _check_int(where, f"{net}.{key}", cfg[key], bounds)
    for key in ("dim_mult", "temperal_downsample"):
        v = spec.vae.get(key, [])
        if not isinstance(v, list | tuple) or len(v) > 8:
            raise ValueError(f"{where}: vae.{key} must be a list of at most 8 entries, got {v!r}")


# --- catalog ------------------------------------------------------------------------------

_DREAMDOJO_2B_GR1 = ModelSpec(
    name="dreamdojo-2b-gr1",
    description="DreamDojo GR-1: Cosmos-Predict2.5-2B action-conditioned DiT + Wan2.1 VAE (needs a local checkpoint)",
    height=480,
    width=640,
    chunk_size=12,
    action_dim=384,
    action_low=-1.0,
    action_high=1.0,
    out_of_bounds="error",
    fps=10,
    num_steps=35,
    guidance=0.0,
    shift=5.0,
    handoff="pixel",
    noise="reference",
    pixel_quantization="truncate",
    # diffusers AutoencoderKLWan defaults = the Wan2.1 VAE (z 16, 8x spatial, 4x temporal).
    vae=dict(
        base_dim=96,
        z_dim=16,
        dim_mult=[1, 2, 4, 4],
        num_res_blocks=2,
        attn_scales=[],
        temperal_downsample=[False, True, True],
        dropout=0.0,
    ),
    transformer=dict(
        in_channels=18,  # 16 latent + condition mask + (zero) padding mask
        out_channels=16,
        num_attention_heads=16,
        attention_head_dim=128,
        num_layers=28,
        mlp_ratio=4.0,
        text_embed_dim=1024,
        adaln_lora_dim=256,
        max_size=(128, 240, 240),
        patch_size=(1, 2, 2),
        rope_scale=(1.0, 3.0, 3.0),
        concat_padding_mask=False,
        extra_pos_embed_type=None,
        use_crossattn_projection=False,  # the projected empty-prompt context is stored instead
    ),
    action_hidden=8192,
    context_tokens=512,
    context_dim=1024,
    dtype="auto",
    weights=None,
)

_TINY_RANDOM = ModelSpec(
    name="tiny-random",
    description="tiny random-weight model of the same family, for tests only",
    height=32,
    width=32,
    chunk_size=4,
    action_dim=2,
    fps=10,
    num_steps=3,
    guidance=0.0,
    shift=5.0,
    handoff="pixel",
    vae=dict(
        base_dim=4,
        z_dim=8,
        dim_mult=[1, 1, 1],
        num_res_blocks=1,
        attn_scales=[],
        temperal_downsample=[False, True],
        dropout=0.0,
    ),
    transformer=dict(
        in_channels=10,
        out_channels=8,
        num_attention_heads=2,
        attention_head_dim=16,
        num_layers=2,
        mlp_ratio=2.0,
        text_embed_dim=32,
        adaln_lora_dim=8,
        max_size=(16, 32, 32),
        patch_size=(1, 2, 2),
        rope_scale=(1.0, 1.0, 1.0),
        concat_padding_mask=False,
        extra_pos_embed_type=None,
        use_crossattn_projection=False,
    ),
    action_hidden=32,
    context_tokens=4,
    context_dim=32,
    dtype="float32",
    weights="random",
    init_seed=0,
)

_PUSH_64 = ModelSpec(
    name="push-64",
    description="embedded default: a small model of the same family trained on the toy push world (CPU)",
    height=64,
    width=64,
    chunk_size=8,
    action_dim=2,
    action_low=-1.0,
    action_high=1.0,
    out_of_bounds="error",
    fps=10,
    num_steps=2,  # 2 steps scored as well as 4 on fidelity (docs/fidelity.md) at 0.64x the re-plan time
    guidance=0.0,
    shift=3.0,
    handoff="pixel",
    vae=dict(
        base_dim=8,
        z_dim=8,
        dim_mult=[1, 2, 4],
        num_res_blocks=1,
        attn_scales=[],
        temperal_downsample=[False, True],
        dropout=0.0,
    ),
    transformer=dict(
        in_channels=10,
        out_channels=8,
        num_attention_heads=4,
        attention_head_dim=32,
        num_layers=4,
        mlp_ratio=4.0,
        text_embed_dim=32,
        adaln_lora_dim=32,
        max_size=(16, 32, 32),
        patch_size=(1, 2, 2),
        rope_scale=(1.0, 1.0, 1.0),
        concat_padding_mask=False,
        extra_pos_embed_type=None,
        use_crossattn_projection=False,
    ),
    action_hidden=128,
    context_tokens=4,
    context_dim=32,
    dtype="float32",
    weights="package:push-64",
)

_PUSHT_64 = dataclasses.replace(
    _PUSH_64,
    name="pusht-64",
    description="push-64's architecture trained on PushT (gym-pusht) episodes, docs/pusht.md (CPU)",
    weights="package:pusht-64",
)

CATALOG: dict[str, ModelSpec] = {s.name: s for s in (_DREAMDOJO_2B_GR1, _TINY_RANDOM, _PUSH_64, _PUSHT_64)}
DEFAULT_SPEC = "push-64"


def register_spec(spec: ModelSpec, *, overwrite: bool = False) -> None:
    """Add ``spec`` to the catalog under ``spec.name``."""
    if spec.name in CATALOG and not overwrite:
        raise ValueError(f"a spec named {spec.name!r} is already registered; pass overwrite=True")
    CATALOG[spec.name] = spec


def get_spec(name: str) -> ModelSpec:
    """The catalog spec called ``name``; a ``ValueError`` lists the known names otherwise."""
    if not isinstance(name, str):
        raise TypeError(f"spec name must be a str, got {type(name).__name__}")
    try:
        return CATALOG[name]
    except KeyError:
        raise ValueError(f"unknown spec {name!r}; known specs: {sorted(CATALOG)}") from None


def list_specs() -> list[str]:
    return sorted(CATALOG)
