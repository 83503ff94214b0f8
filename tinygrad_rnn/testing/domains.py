"""Value domains: where an op's inputs are drawn so that finite differences are meaningful.

NumPy only. `from_unit` maps uniform numbers in [0, 1) onto a domain; the Hypothesis
strategies and the NumPy sampler behind `tinygrad-rnn gradcheck` both go through it.
"""
from __future__ import annotations

import numpy as np

# every multiple of KINK_SPACING is treated as a potential kink by domain="away_from_kinks"
KINK_SPACING = 0.5
KINK_MARGIN = 0.05

DOMAINS = {
    "real": "floats in [-2, 2]",
    "positive": "floats in [0.2, 3] (log, sqrt, division, a ** b)",
    "negative": "floats in [-3, -0.2]",
    "nonzero": "|x| in [0.2, 2] with either sign (division, abs)",
    "unit": "floats in [-0.9, 0.9] (inside (-1, 1))",
    "probability": "floats in [0.05, 0.95] (inside (0, 1): binary cross-entropy targets, inputs)",
    "away_from_kinks": "floats in [-2, 2] at least 0.05 from every multiple of 0.5 "
                       "(relu, abs, clip with bounds on that grid)",
    "distinct": "pairwise distinct values at least a fixed gap apart (max, min, sort-like ops)",
}


def check_domain(domain: str) -> str:
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}, expected one of {sorted(DOMAINS)}")
    return domain


def from_unit(u: np.ndarray, domain: str) -> np.ndarray:
    """Uniform values u in [0, 1) mapped onto `domain` (any domain but "distinct")."""
    u = np.asarray(u, dtype=np.float64)
    if domain == "real":
        return 4.0 * u - 2.0
    if domain == "positive":
        return 0.2 + 2.8 * u
    if domain == "negative":
        return -3.0 + 2.8 * u
    if domain == "unit":
        return 1.8 * u - 0.9
    if domain == "probability":
        return 0.05 + 0.9 * u
    if domain == "nonzero":  # [0, 0.5) -> [-2, -0.2);  [0.5, 1) -> [0.2, 2)
        return np.where(u < 0.5, 3.6 * u - 2.0, 3.6 * (u - 0.5) + 0.2)
    if domain == "away_from_kinks":
        # a cell of the kink grid on [-2, 2], then an offset that keeps clear of both its ends
        cells = int(round(4.0 / KINK_SPACING))
        t = u * cells
        cell = np.floor(t)
        return -2.0 + cell * KINK_SPACING + KINK_MARGIN + (t - cell) * (
            KINK_SPACING - 2 * KINK_MARGIN)
    check_domain(domain)
    raise ValueError(f"from_unit: domain {domain!r} needs a permutation (use distinct())")


def distinct(order: np.ndarray, jitter_unit: np.ndarray) -> np.ndarray:
    """A permutation `order` of range(n) as evenly spaced values, each jittered by under a
    quarter gap (jitter_unit in [0, 1))."""
    n = order.size
    gap = min(0.25, 4.0 / max(n, 1))
    return (np.asarray(order, np.float64) - (n - 1) / 2) * gap + (
        np.asarray(jitter_unit, np.float64) - 0.5) * gap / 2


def sample(rng: np.random.Generator, shape: tuple, domain: str = "real") -> np.ndarray:
    """A float64 array of `shape` from `domain`, drawn with NumPy (no Hypothesis)."""
    n = int(np.prod(shape, dtype=np.int64))
    if domain == "distinct":
        return distinct(rng.permutation(n), rng.random(n)).reshape(shape)
    return from_unit(rng.random(n), domain).reshape(shape)
