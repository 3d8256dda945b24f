"""engine.metrics: one PSNR, SSIM and blur for scorers, benchmarks and gates."""

import numpy as np
import pytest
import torch

from engine.metrics import blur, psnr, ssim


def test_psnr_of_a_known_error():
    a = np.zeros((2, 4, 4, 3), np.uint8)
    b = a.copy()
    b[1] += 10  # mse 100
    p = psnr(a, b)
    assert p.shape == (2,) and p[1] == pytest.approx(10 * np.log10(255**2 / 100))
    assert p[0] == pytest.approx(10 * np.log10(255**2 / 1e-10))


def test_psnr_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="one shape"):
        psnr(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)))


def test_ssim_is_one_for_identical_images_and_lower_for_noise():
    g = torch.Generator().manual_seed(0)
    a = torch.rand(2, 3, 32, 32, generator=g)
    assert torch.allclose(ssim(a, a), torch.ones(2))
    noisy = (a + 0.2 * torch.randn(a.shape, generator=g)).clamp(0, 1)
    assert (ssim(a, noisy) < 0.9).all()


def test_blur_keeps_constants_and_zero_sigma_is_identity():
    x = torch.full((1, 3, 16, 16), 0.3)
    assert torch.allclose(blur(x, 2.0), x)
    y = torch.rand(1, 3, 8, 8)
    assert blur(y, 0.0) is y
