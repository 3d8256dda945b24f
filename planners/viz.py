"""Pictures a person wants from a planner: the K candidate rollouts as one labelled grid
video, and the score per iteration as a PNG plot."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from engine import write_mp4
from engine.files import atomic_write_bytes


def candidate_grid(
    frames: np.ndarray, scores: np.ndarray, *, cols: int | None = None, scale: int = 2, max_candidates: int = 16
) -> np.ndarray:
    """Tile the best ``max_candidates`` rollouts (K, T, H, W, 3) into (T, GH, GW, 3) uint8,
    sorted best first, each labelled with its rank and score; the best gets a green border."""
    frames, scores = np.asarray(frames), np.asarray(scores, dtype=np.float64)
    order = np.argsort(-np.nan_to_num(scores, nan=-np.inf))[:max_candidates]
    k = len(order)
    cols = cols or int(np.ceil(np.sqrt(k)))
    rows = int(np.ceil(k / cols))
    _, t, h, w, _ = frames.shape
    th, tw, label_h = h * scale, w * scale, 12
    grid = np.full((t, rows * (th + label_h), cols * tw, 3), 255, np.uint8)
    for n, i in enumerate(order):
        r, c = divmod(n, cols)
        tile = frames[i].repeat(scale, 1).repeat(scale, 2)
        if n == 0:
            tile = tile.copy()
            tile[:, :2], tile[:, -2:], tile[:, :, :2], tile[:, :, -2:] = (
                (40, 180, 60),
                (40, 180, 60),
                (40, 180, 60),
                (40, 180, 60),
            )
        y0 = r * (th + label_h)
        grid[:, y0 + label_h : y0 + label_h + th, c * tw : (c + 1) * tw] = tile
        label = Image.new("RGB", (tw, label_h), (255, 255, 255))
        ImageDraw.Draw(label).text((2, 0), f"#{n + 1} {scores[i]:.4g}", fill=(0, 0, 0))
        grid[:, y0 : y0 + label_h, c * tw : (c + 1) * tw] = np.asarray(label)
    if grid.shape[1] % 2 or grid.shape[2] % 2:
        grid = np.pad(grid, ((0, 0), (0, grid.shape[1] % 2), (0, grid.shape[2] % 2), (0, 0)), constant_values=255)
    return grid


def write_candidate_grid(path: str | os.PathLike, frames, scores, fps: int = 10, **kw) -> Path:
    """Write :func:`candidate_grid` to an mp4 at ``path``."""
    return write_mp4(path, candidate_grid(frames, scores, **kw), fps)


def plot_scores(path: str | os.PathLike, plans, title: str = "planner scores") -> Path:
    """PNG of the candidates' scores per iteration for one PlanResult or a list of them
    (successive re-plans side by side): the best candidate so far within the re-plan, the
    mean candidate, and, after each re-plan's last iteration, the score of the plan it
    returned (``PlanResult.score``, what was executed and what a demo prints)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    plans = plans if isinstance(plans, list | tuple) else [plans]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    x0, centers = 1, []
    labels = {"best": "best candidate so far (this re-plan)", "mean": "mean candidate", "elite_mean": "elite mean"}
    for n, p in enumerate(plans):
        xs = np.arange(x0, x0 + len(p.history))
        for key, style in (("best", "-o"), ("mean", "--."), ("elite_mean", ":.")):
            ys = [r.get(key, np.nan) for r in p.history]
            if not np.all(np.isnan(ys)):
                ax.plot(xs, ys, style, color={"best": "C0", "mean": "C1", "elite_mean": "C2"}[key], ms=4,
                        label=labels[key] if n == 0 else None)  # fmt: skip
        ax.plot([xs[-1] + 0.4], [p.score], "*", color="C3", ms=11, label="returned plan (executed)" if n == 0 else None)
        if n:
            ax.axvline(x0 - 0.5, color="0.8", lw=0.8)
        centers.append((xs[0] + xs[-1] + 0.4) / 2)
        x0 += len(p.history) + 1
    if len(plans) > 1:
        step = max(1, len(plans) // 12)
        ax.set_xticks(centers[::step], [str(i + 1) for i in range(0, len(plans), step)])
        ax.set_xlabel("re-plan (each: its CEM iterations left to right, then the returned plan)")
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("CEM iteration")
    ax.set_ylabel("score (higher is better)")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the bitmap font only
        return ImageFont.load_default()


def _wrap(line: str, font, width: int) -> list[str]:
    """``line`` broken at spaces into pieces no wider than ``width`` pixels in ``font``."""
    out, current = [], ""
    for word in line.split(" "):
        trial = f"{current} {word}" if current else word
        if current and font.getlength(trial) > width:
            out.append(current)
            current = word
        else:
            current = trial
    return [*out, current]


def caption(width: int, lines: list[str], size: int = 16, height: int | None = None) -> np.ndarray:
    """A white band (height, width, 3) uint8 with ``lines`` of black text, each wrapped at
    spaces to fit the width (the band grows to hold them unless ``height`` is given)."""
    font = _font(size)
    lines = [piece for line in lines for piece in _wrap(line, font, width - 12)]
    height = height or (size + 6) * len(lines) + 4
    img = Image.new("RGB", (width, height), (255, 255, 255))
    d = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        d.text((6, 3 + i * (size + 6)), line, fill=(0, 0, 0), font=_font(size))
    return np.asarray(img)


def panel(frame: np.ndarray, title: str, scale: int = 4, size: int = 16, border=None) -> np.ndarray:
    """One frame scaled up, with a title band above it and an optional coloured border."""
    img = np.asarray(frame).repeat(scale, 0).repeat(scale, 1)
    if border is not None:
        img = img.copy()
        img[:4], img[-4:], img[:, :4], img[:, -4:] = border, border, border, border
    return np.concatenate([caption(img.shape[1], [title], size=size), img])


def hstack(panels: list[np.ndarray], gap: int = 8) -> np.ndarray:
    """Panels side by side (top-aligned, white gaps), padded to even sizes for h.264."""
    h = max(p.shape[0] for p in panels)
    parts = []
    for i, p in enumerate(panels):
        parts.append(np.pad(p, ((0, h - p.shape[0]), (0, 0), (0, 0)), constant_values=255))
        if i < len(panels) - 1:
            parts.append(np.full((h, gap, 3), 255, np.uint8))
    out = np.concatenate(parts, axis=1)
    return np.pad(out, ((0, out.shape[0] % 2), (0, out.shape[1] % 2), (0, 0)), constant_values=255)


def vstack(rows: list[np.ndarray], gap: int = 8) -> np.ndarray:
    w = max(r.shape[1] for r in rows)
    parts = []
    for i, r in enumerate(rows):
        parts.append(np.pad(r, ((0, 0), (0, w - r.shape[1]), (0, 0)), constant_values=255))
        if i < len(rows) - 1:
            parts.append(np.full((gap, w, 3), 255, np.uint8))
    out = np.concatenate(parts, axis=0)
    return np.pad(out, ((0, out.shape[0] % 2), (0, out.shape[1] % 2), (0, 0)), constant_values=255)
