import numpy as np
import pytest

from engine import Engine


def smooth_frame(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth colour gradient with a disc: survives h.264 nearly unchanged."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    c = rng.uniform(0.2, 0.8, 3)
    img = np.stack([c[0] + 0.3 * xx, c[1] + 0.3 * yy, c[2] - 0.2 * xx * yy], -1)
    cy, cx = rng.uniform(0.3, 0.7, 2)
    disc = ((yy - cy) ** 2 + (xx - cx) ** 2) < 0.03
    img[disc] = [0.9, 0.2, 0.2]
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


@pytest.fixture(scope="session")
def tiny():
    return Engine.load("tiny-random")


@pytest.fixture(scope="session")
def push():
    return Engine.load("push-64")


@pytest.fixture
def frame(tiny):
    return smooth_frame(*tiny.spec.resolution)


@pytest.fixture
def actions(tiny):
    rng = np.random.default_rng(1)
    return rng.uniform(-1, 1, (2 * tiny.spec.chunk_size, tiny.spec.action_dim)).astype(np.float32)


@pytest.fixture(scope="session")
def push_server():
    """A real ``dreamgym serve --model push-64`` process on 127.0.0.1 (ephemeral port)."""
    from engine.serving.process import ServerProcess

    server = ServerProcess("--model", "push-64")
    yield server
    server.kill()
