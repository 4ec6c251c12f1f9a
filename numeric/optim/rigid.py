"""Rigid-motion bookkeeping of a spatial net's flat parameters: the node centroid, the two first-order
rigid-motion identities as absolute residuals, and how much of an eigenvector is a rigid motion."""

from __future__ import annotations

import numpy as np

from derive import Net
from numeric.compare import rotation_moment, tolerance, translation_sum
from numeric.flat import unflatten

__all__ = ["node_centroid", "rigid_residuals", "rigid_overlap"]


def _coords(net: Net, x: np.ndarray) -> list[np.ndarray]:
    """The coordinate blocks Z_1..Z_L of flat parameters x."""
    return list(unflatten(net, np.asarray(x, dtype=np.float64)).Z or [])


def node_centroid(net: Net, x: np.ndarray) -> np.ndarray:
    """Centroid (D,) of all nodes of all layers, from flat parameters x (biases ignored)."""
    return np.concatenate(_coords(net, x), axis=0).mean(axis=0)


def rigid_residuals(net: Net, x: np.ndarray, grad: np.ndarray) -> tuple[float, float]:
    """The two first-order rigid-motion identities of MATH.md at one point, as residuals.

    Returns:
        (||sum_i dL/dz_i||, max|M - M^T|) with M = sum_i z_i (dL/dz_i)^T (D x D); both are 0 in exact
        arithmetic (translation and rotation invariance of L).
    """
    Z, G = _coords(net, x), _coords(net, grad)
    M = rotation_moment(Z, G)
    return float(np.linalg.norm(translation_sum(G))), float(np.max(np.abs(M - M.T))) if M.size else 0.0


def rigid_overlap(net: Net, x: np.ndarray, eigenvectors: np.ndarray) -> np.ndarray:
    """For each eigenvector q_k (columns, n x m) the squared norm of its projection onto the span of
    the rigid motions (D translations, D(D-1)/2 rotations) at the coordinates x: 1 for a pure rigid
    mode, 0 for one orthogonal to every rigid motion."""
    from numeric.spectrum import rigid_motions

    T, Rv = rigid_motions(_coords(net, x), eigenvectors.shape[0])
    U, s, _ = np.linalg.svd(np.concatenate([T, Rv], axis=1), full_matrices=False)
    U = U[:, s > tolerance(np.float64, "rank") * s[0]]  # the spectrum's rank cut
    return np.sum((U.T @ eigenvectors) ** 2, axis=0)
