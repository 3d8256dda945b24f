"""The model catalogue the server publishes (``/v1/models``, ``/v1/specs``): one entry per spec
in the shape the Dream Engine SDK reads."""

from __future__ import annotations

from ..specs import ModelSpec, get_spec, list_specs


def model_entry(served: ModelSpec, name: str, price_per_frame_usd: float, params: int) -> dict:
    """The entry of spec ``name``; ``served`` is the running model (active, with ``params``)."""
    spec = served if name == served.name else get_spec(name)
    active = name == served.name
    size = params if active else 0
    return {
        "slug": spec.name,
        "object": "model",
        "name": spec.name,
        "provider": "dreamgym",
        "category": "Robotics",
        "summary": spec.description,
        "description": spec.description,
        "license": "Apache-2.0",
        "price_per_frame_usd": price_per_frame_usd,
        "is_flagship": active,
        "is_benchmarked": False,
        "active": active,
        "spec": {
            "model_size": human_count(size) if size else "",
            "embodiment": spec.extra.get("embodiment", ""),
            "action_dim": spec.action_dim,
            "chunk_size": spec.chunk_size,
            "resolution": [spec.height, spec.width],
            "default_num_steps": spec.num_steps,
            "default_guidance": spec.guidance,
            "runner": "dreamgym",
            "output_kind": "video",
            "encoder_name": "wan-vae",
            "temporal_compression": spec.temporal_factor,
        },
        "benchmark": None,
    }


def model_names(served: ModelSpec) -> list[str]:
    """The built-in spec names, with the served one first when it is not one of them."""
    names = list_specs()
    return names if served.name in names else [served.name, *names]


def human_count(n: int) -> str:
    for unit, div in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= div:
            return f"{n / div:.1f}{unit}"
    return str(n)
