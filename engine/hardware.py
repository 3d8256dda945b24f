"""What this machine's processor offers the engine: the instruction-set class that decides which
kernels run (and so the bits a CPU rollout gives), and whether it has bf16 matrix units.

On CPU, results are the same bits within one ISA class (same kernels), and may differ between
classes: a receipt records the class next to the precision so that a mismatch on another
machine is explained, not mistaken for tampering.
"""

from __future__ import annotations

import platform
from functools import lru_cache

# from the best to the plainest; the first whose flags are all present names the class
ISA_CLASSES = (
    ("amx-bf16", ("amx_bf16", "amx_tile")),
    ("avx512-bf16", ("avx512_bf16", "avx512f")),
    ("avx512", ("avx512f",)),
    ("avx2", ("avx2",)),
)
BF16_CLASSES = ("amx-bf16", "avx512-bf16")


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The processor's feature flags (Linux ``/proc/cpuinfo``; empty where it cannot be read)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


@lru_cache(maxsize=1)
def isa_class() -> str:
    """``"amx-bf16"``, ``"avx512-bf16"``, ``"avx512"``, ``"avx2"``, or, where the flags cannot be
    read, ``"<machine>/<torch's CPU capability>"`` (e.g. ``"arm64/DEFAULT"``)."""
    flags = cpu_flags()
    for name, needs in ISA_CLASSES:
        if all(f in flags for f in needs):
            return name
    import torch

    return f"{platform.machine()}/{torch.backends.cpu.get_cpu_capability()}"


def has_bf16_matrix_units() -> bool:
    """Whether the CPU has bf16 matrix units (Intel AMX) that torch's oneDNN can use. AVX512_BF16
    (bf16 dot products in the vector units, e.g. AMD Zen 4) is a class of its own: there bf16
    ran push-64 1.27x faster than fp32 (docs/fidelity.md), where the issue's AMX machine ran a
    bf16 matmul 6.5x faster."""
    if isa_class() != "amx-bf16":
        return False
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch build without oneDNN
        return False


def numerics(model) -> dict:
    """What decides a rollout's bits beside its inputs: ``dtype`` and, on CPU, the ISA class
    (:mod:`engine.hardware`); empty for a model that does not say (a remote one)."""
    dtype = getattr(model, "dtype", None)
    if dtype is None:
        return {}
    device = str(getattr(model, "device", "cpu"))
    return {"dtype": str(dtype).replace("torch.", ""), "isa": isa_class() if device == "cpu" else device}


__all__ = ["BF16_CLASSES", "ISA_CLASSES", "cpu_flags", "has_bf16_matrix_units", "isa_class", "numerics"]
