"""Statistics of sim-to-real policy evaluation: how well success in the world model predicts
success on the real robot, across policies.

* :func:`wilson_interval` — the Wilson score interval of a success rate (95% by default).
* :func:`rank_correlations` — Pearson r with its Fisher-z interval, Spearman rho with the
  Fieller-Hartley-Pearson interval (standard error ``sqrt(1.06 / (n - 3))`` in z), both over
  policies (scipy); and, when per-episode outcomes are given, percentile intervals from a
  paired bootstrap over episodes (the same resampled episodes in both worlds).
* :func:`mmrv` — Mean Maximum Rank Violation (Li et al. 2024, SIMPLER): for each policy, the
  largest real-success gap to a policy the world model orders the other way; averaged. 0 is a
  perfect ranking; it weighs mistakes by how much real success they cost.
* :func:`pairwise_rank_agreement` — the fraction of policy pairs ordered the same way in both
  worlds (ties must be ties in both).
"""

from __future__ import annotations

import math

import numpy as np

Z95 = 1.959963984540054


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """(low, high) of the Wilson score interval of ``successes`` out of ``n`` trials."""
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n > 0, got successes={successes}, n={n}")
    p = successes / n
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def _fisher_interval(r: float, n: int, se_scale: float = 1.0, z: float = Z95) -> tuple[float, float]:
    if n <= 3 or not np.isfinite(r):
        return (math.nan, math.nan)
    zr = math.atanh(min(max(r, -0.999999), 0.999999))
    se = math.sqrt(se_scale / (n - 3))
    return math.tanh(zr - z * se), math.tanh(zr + z * se)


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    from scipy import stats

    return float(stats.pearsonr(x, y).statistic)


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    from scipy import stats

    return float(stats.spearmanr(x, y).statistic)


def rank_correlations(dream, real, outcomes=None, n_boot: int = 2000, seed: int = 0) -> dict:
    """Pearson and Spearman of per-policy success rates ``dream`` and ``real`` (each (P,)).

    ``outcomes``: optional list of P pairs ``(dream_successes, real_successes)``, bool arrays
    (E,) over the same episodes, for the paired bootstrap over episodes. A correlation of
    constant rates is undefined (NaN), as are intervals with fewer than 4 policies.
    """
    x, y = np.asarray(dream, np.float64), np.asarray(real, np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"dream and real need one rate per policy, shapes (P,), got {x.shape} and {y.shape}")
    n = len(x)
    r, rho = _pearson(x, y), _spearman(x, y)
    out = {
        "policies": n,
        "pearson": r,
        "pearson_ci95": _fisher_interval(r, n),
        "spearman": rho,
        "spearman_ci95": _fisher_interval(rho, n, se_scale=1.06),
    }
    if outcomes is not None:
        rng = np.random.default_rng(seed)
        rs, rhos = [], []
        pairs = [(np.asarray(d, bool), np.asarray(t, bool)) for d, t in outcomes]
        for _ in range(n_boot):
            bx, by = np.empty(n), np.empty(n)
            for i, (d, t) in enumerate(pairs):
                idx = rng.integers(0, len(d), len(d))
                bx[i], by[i] = d[idx].mean(), t[idx].mean()
            rs.append(_pearson(bx, by))
            rhos.append(_spearman(bx, by))

        def pct(v):
            v = np.asarray(v)
            v = v[np.isfinite(v)]
            return (float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))) if len(v) else (math.nan, math.nan)

        out["pearson_bootstrap_ci95"] = pct(rs)
        out["spearman_bootstrap_ci95"] = pct(rhos)
        out["bootstrap_resamples"] = n_boot
    return out


def mmrv(dream, real) -> float:
    """Mean Maximum Rank Violation of per-policy rates (lower is better, 0 = no violation)."""
    s, r = np.asarray(dream, np.float64), np.asarray(real, np.float64)
    n = len(r)
    total = 0.0
    for i in range(n):
        worst = 0.0
        for j in range(n):
            if (s[i] < s[j]) != (r[i] < r[j]):
                worst = max(worst, abs(r[i] - r[j]))
        total += worst
    return total / n


def pairwise_rank_agreement(dream, real) -> float:
    """Fraction of the P (P - 1) / 2 policy pairs that both worlds order the same way."""
    s, r = np.asarray(dream, np.float64), np.asarray(real, np.float64)
    n = len(r)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    if not pairs:
        return math.nan
    return sum(np.sign(s[i] - s[j]) == np.sign(r[i] - r[j]) for i, j in pairs) / len(pairs)
