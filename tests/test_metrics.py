"""engine.metrics: one PSNR, SSIM, LPIPS and blur for scorers, benchmarks and the quality gate."""

import numpy as np
import pytest
import torch

from engine.metrics import LPIPS, blur, find_backbone, psnr, ssim, ssim_frames, video_metrics


def test_psnr_of_a_known_error():
    a = np.zeros((2, 4, 4, 3), np.uint8)
    b = a.copy()
    b[1] += 10  # mse 100
    p = psnr(a, b)
    assert p.shape == (2,) and p.dtype == np.float64
    assert p[1] == pytest.approx(10 * np.log10(255**2 / 100))
    assert p[0] == pytest.approx(10 * np.log10(255**2 / 1e-10))  # identical: a finite cap, 148.1 dB


@pytest.mark.parametrize(
    "a, b, match",
    [
        (np.zeros((4, 4, 3)), np.zeros((4, 5, 3)), r"one shape \(\.\.\., H, W, C\), got \(4, 4, 3\) and \(4, 5, 3\)"),
        (np.zeros((4, 3)), np.zeros((4, 3)), r"frames shaped \(\.\.\., H, W, C\), got shape \(4, 3\)"),
        (np.zeros((4, 4, 3), bool), np.zeros((4, 4, 3), bool), "numeric frames .* got dtype bool"),
        (np.full((4, 4, 3), "x"), np.full((4, 4, 3), "x"), "numeric frames .* got dtype <U1"),
    ],
)
def test_frame_metrics_name_the_shape_or_dtype_they_received(a, b, match):
    for metric in (psnr, ssim_frames):
        with pytest.raises(ValueError, match=match):
            metric(a, b)


def test_ssim_is_one_for_identical_images_and_lower_for_noise():
    g = torch.Generator().manual_seed(0)
    a = torch.rand(2, 3, 32, 32, generator=g)
    assert torch.allclose(ssim(a, a), torch.ones(2))
    noisy = (a + 0.2 * torch.randn(a.shape, generator=g)).clamp(0, 1)
    assert (ssim(a, noisy) < 0.9).all()


def test_ssim_of_two_flat_images_is_the_luminance_term():
    """Without variance SSIM is (2 mu_a mu_b + C1) / (mu_a^2 + mu_b^2 + C1)."""
    a, b = torch.full((1, 3, 16, 16), 0.5, dtype=torch.float64), torch.full((1, 3, 16, 16), 0.25, dtype=torch.float64)
    c1 = 0.01**2
    assert ssim(a, b).item() == pytest.approx((2 * 0.5 * 0.25 + c1) / (0.25 + 0.0625 + c1), rel=1e-12)
    frames = np.stack([np.full((16, 16, 3), 128, np.uint8), np.full((16, 16, 3), 64, np.uint8)])
    assert ssim_frames(frames[:1], frames[1:])[0] == pytest.approx(
        (2 * (128 / 255) * (64 / 255) + c1) / ((128 / 255) ** 2 + (64 / 255) ** 2 + c1), rel=1e-12
    )


def test_ssim_refuses_images_smaller_than_its_window():
    with pytest.raises(ValueError, match=r"at least 11x11 pixels, got \(8, 8\)"):
        ssim(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))


def test_ssim_matches_pytorch_msssim():
    """The reference implementation of the common convention (11 taps, sigma 1.5, valid)."""
    ref = pytest.importorskip("pytorch_msssim")
    g = torch.Generator().manual_seed(1)
    a = torch.rand(4, 3, 64, 48, generator=g, dtype=torch.float64)
    b = (a + 0.1 * torch.randn(a.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    expected = ref.ssim(a, b, data_range=1.0, size_average=False)
    assert torch.allclose(ssim(a, b), expected, atol=1e-6)  # the reference's window is float32


def test_blur_keeps_constants_and_zero_sigma_is_identity():
    x = torch.full((1, 3, 16, 16), 0.3)
    assert torch.allclose(blur(x, 2.0), x)
    y = torch.rand(1, 3, 8, 8)
    assert blur(y, 0.0) is y


@pytest.fixture(scope="module", params=["vgg", "alex"])
def random_lpips(request):
    return LPIPS(request.param, backbone="random", seed=0)


def test_lpips_is_zero_for_identical_frames_and_grows_with_distortion(random_lpips):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    small = np.clip(x.astype(int) + rng.integers(-8, 9, x.shape), 0, 255).astype(np.uint8)
    large = np.clip(x.astype(int) + rng.integers(-80, 81, x.shape), 0, 255).astype(np.uint8)
    assert np.array_equal(random_lpips.frames(x, x), np.zeros(3))
    d_small, d_large = random_lpips.frames(x, small), random_lpips.frames(x, large)
    assert d_small.shape == (3,) and d_small.dtype == np.float64
    assert (0 < d_small).all() and (d_small < d_large).all()
    assert "RANDOM" in random_lpips.weights


def test_lpips_of_a_frame_does_not_depend_on_its_batch(random_lpips):
    x = np.random.default_rng(2).integers(0, 256, (20, 64, 64, 3), dtype=np.uint8)
    y = x[::-1].copy()
    together = random_lpips.frames(x, y)
    assert np.array_equal(together[3:5], random_lpips.frames(x[3:5], y[3:5]))
    assert np.array_equal(together[17:], random_lpips.frames(x[17:], y[17:]))


def test_lpips_refuses_bad_frames(random_lpips):
    with pytest.raises(ValueError, match="uint8 frames, got float64"):
        random_lpips.frames(np.zeros((64, 64, 3)), np.zeros((64, 64, 3)))
    with pytest.raises(ValueError, match=r"at least 32x32 pixels, got \(16, 16\)"):
        random_lpips.frames(np.zeros((16, 16, 3), np.uint8), np.zeros((16, 16, 3), np.uint8))
    with pytest.raises(ValueError, match="LPIPS net must be one of"):
        LPIPS("squeeze", backbone="random")


def test_lpips_without_a_local_backbone_names_the_expected_file(tmp_path, monkeypatch):
    monkeypatch.setenv("DREAMGYM_LPIPS_DIR", str(tmp_path))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(FileNotFoundError, match=r"expected the file vgg16-397923af\.pth .* in " + str(tmp_path)):
        LPIPS("vgg")
    with pytest.raises(FileNotFoundError, match=r"alexnet-owt-7be5be79\.pth at .*nope"):
        LPIPS("alex", backbone=tmp_path / "nope" / "alexnet-owt-7be5be79.pth")


def test_lpips_loads_a_torchvision_checkpoint_by_its_file_name(tmp_path, monkeypatch):
    """A file laid out as torchvision's (features.* and classifier.* tensors) is found in
    $DREAMGYM_LPIPS_DIR and loaded as the backbone; a file of other tensors is refused."""
    reference = LPIPS("alex", backbone="random", seed=3)
    sd = {f"features.{k}": v for k, v in reference.features.state_dict().items()}
    sd["classifier.1.weight"] = torch.zeros(4, 4)
    torch.save(sd, tmp_path / "alexnet-owt-7be5be79.pth")
    monkeypatch.setenv("DREAMGYM_LPIPS_DIR", str(tmp_path))
    assert find_backbone("alex") == tmp_path / "alexnet-owt-7be5be79.pth"
    loaded = LPIPS("alex")
    x = np.random.default_rng(4).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    assert np.array_equal(loaded.frames(x, x[::-1].copy()), reference.frames(x, x[::-1].copy()))
    assert loaded.weights == "alexnet-owt-7be5be79.pth"
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="is not a torchvision alex checkpoint"):
        LPIPS("alex", backbone=tmp_path / "bad.pth")


def test_lpips_matches_the_lpips_package_given_the_same_weights():
    """Where the reference package imports (it needs torchvision, which does not load against
    the CPU torch of the project's machines), copy its backbone into ours and compare."""
    try:
        import lpips as ref
    except Exception as e:  # ImportError, or torchvision's RuntimeError against a mismatched torch
        pytest.skip(f"the lpips package does not import here: {type(e).__name__}: {e}")
    rng = np.random.default_rng(5)
    a = torch.from_numpy(rng.uniform(0, 1, (2, 3, 64, 64))).float()
    b = torch.from_numpy(rng.uniform(0, 1, (2, 3, 64, 64))).float()
    for net in ("vgg", "alex"):
        theirs = ref.LPIPS(net=net, pretrained=True, pnet_rand=True, verbose=False).eval()
        ours = LPIPS(net, backbone="random")
        layers = {}
        for name, tensor in theirs.net.state_dict().items():  # slice{k}.{index}.{weight,bias}
            _, index, kind = name.split(".")
            layers[f"{index}.{kind}"] = tensor
        ours.features.load_state_dict(layers)
        with torch.no_grad():
            expected = theirs(a, b, normalize=True).flatten()
            assert torch.allclose(ours(a, b), expected, rtol=1e-5, atol=1e-6)


def test_video_metrics_leave_out_the_start_frame():
    rng = np.random.default_rng(6)
    ref = rng.integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    cand = ref.copy()
    cand[2] = 255 - cand[2]
    m = video_metrics(cand, ref)
    assert m["frames"] == 4 and m["psnr"].shape == (4,) and m["psnr"][1] < 10 < m["psnr"][0]
    assert m["psnr_mean"] == pytest.approx(m["psnr"].mean()) and "lpips" not in m
    with pytest.raises(ValueError, match="at least one prediction, got 1 frame"):
        video_metrics(ref[:1], ref[:1])
