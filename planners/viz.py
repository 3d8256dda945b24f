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
    """PNG of best / mean / elite-mean score per iteration, for one PlanResult or a list of them
    (iterations of successive re-plans are laid end to end)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plans = plans if isinstance(plans, list | tuple) else [plans]
    rows = [h for p in plans for h in p.history]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    for key in ("best", "elite_mean", "mean"):
        ys = [r.get(key, np.nan) for r in rows]
        if not np.all(np.isnan(ys)):
            ax.plot(x, ys, marker="o", ms=3, label=key)
    edges = np.cumsum([len(p.history) for p in plans])[:-1]
    for e in edges:
        ax.axvline(e - 0.5, color="0.8", lw=0.8)
    ax.set_xlabel("iteration (vertical lines: re-plans)")
    ax.set_ylabel("score (higher is better)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())
