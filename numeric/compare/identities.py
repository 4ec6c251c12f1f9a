"""The exact identities of MATH.md as residuals (0 in exact arithmetic): translation (sum of dL/dz over
all nodes), rotation (asymmetry of sum z dL/dz^T) and permutation of hidden nodes. Judged by
numeric.compare.checks.check_identity against their rows of TOLERANCES."""

from __future__ import annotations

import numpy as np

__all__ = ["translation_sum", "rotation_moment", "translation_residual", "rotation_asymmetry", "permutation_residual"]


def translation_sum(dZ) -> np.ndarray:
    """sum over all nodes of all layers of dL/dz_i (D,): exactly 0 in exact arithmetic (translation invariance).

    Args:
        dZ: list of (N_l, D) arrays, one per layer.
    """
    return np.asarray(sum(np.asarray(d).sum(axis=0) for d in dZ), dtype=np.float64)


def rotation_moment(Z, dZ) -> np.ndarray:
    """M = sum_i z_i (dL/dz_i)^T (D x D) over all nodes of all layers: symmetric in exact arithmetic
    (rotation invariance), so M - M^T is the raw rotation residual.

    Args:
        Z, dZ: lists of (N_l, D) arrays, one per layer.
    """
    return np.asarray(sum(np.asarray(z).T @ np.asarray(d) for z, d in zip(Z, dZ)), dtype=np.float64)


def translation_residual(dZ, *, scale: float = 0.0) -> float:
    """|translation_sum(dZ)| / max(max|dZ|, scale): exactly 0 in exact arithmetic (translation invariance).

    `scale` floors the denominator with the problem's size (callers pass |loss|): at a stationary point
    every dL/dz is rounding noise and noise divided by noise says nothing about the engine.
    """
    total = translation_sum(dZ)
    own = max(float(np.abs(d).max()) for d in dZ)
    return float(np.abs(total).max() / max(own, scale, np.finfo(np.float64).tiny))


def rotation_asymmetry(Z, dZ, *, scale: float = 0.0) -> float:
    """|M - M^T| / max(|M|, max|z| max|dL/dz|, scale) with M = rotation_moment(Z, dZ) (symmetric by
    rotation invariance); M has the units of the loss, so callers pass |loss| as `scale` (see
    `translation_residual`)."""
    M = rotation_moment(Z, dZ)
    own = max(float(np.abs(M).max()), float(max(np.abs(np.asarray(z)).max() * np.abs(np.asarray(d)).max() for z, d in zip(Z, dZ))))
    return float(np.abs(M - M.T).max() / max(own, scale, np.finfo(np.float64).tiny))


def permutation_residual(dZ_permuted, dZ, perm) -> float:
    """max|dL/dZ' - P dL/dZ| / max|dL/dZ| for one layer whose nodes (and biases) were permuted by
    `perm` (Z' = Z[perm]): relabelling hidden nodes permutes their gradient rows, nothing else."""
    d, dp = np.asarray(dZ), np.asarray(dZ_permuted)
    return float(np.abs(dp - d[perm]).max() / max(float(np.abs(d).max()), np.finfo(np.float64).tiny))
