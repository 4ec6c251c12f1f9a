"""What the reference engine, the fast engine and the R-operator share: the forward cache, the loss
and its gradient dL/da_L, the engine's dtype/device rules, and two small helpers of the fast routes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from derive import MLP, Net, SpecError, compile_net

__all__ = ["Cache", "Singular", "loss_and_dA", "engine_dtype", "check_device", "with_ones"]


@dataclass
class Cache:
    """Every forward intermediate, layer index l-1 for layer l (index 0 = layer 1).

    Attributes:
        a: activations, B x N_l (a[0] = X).
        h: pre-activations, B x N_l (h[0] is None).
        W: weights N_l x N_(l-1) (W[0] is None).
        R: distances N_l x N_(l-1) (spatial; R[0] is None).
        phiR: phi(R) with phi(0) = lim g'(r)/r at coincident nodes (spatial; phiR[0] is None).
        Z, b, X, Y: the validated inputs.
        lean: a fused first-order cache of `fast.forward(lean=True)`: R is None, and phi(R) is None
            when phi = c g (the backward pass forms G from W).
        K, theta: free amplitudes (`reference.forward`): K_l = g(R_l) and theta_l, W_l = theta_l * K_l
            (K[0], theta[0] are None); None for every other net.
    """

    a: list
    h: list
    W: list
    R: list
    phiR: list
    Z: list | None
    b: list | None
    X: np.ndarray
    Y: np.ndarray
    lean: bool = False
    K: list | None = None
    theta: list | None = None


class Singular(Exception):
    """A fused (lean) pass met a non-finite value (coincident nodes, 0/0 forms): the caller redoes the
    whole call on the careful route, which substitutes the limits or raises the one-line `SpecError`."""


def engine_dtype(dtype) -> type:
    """np.float32 or np.float64 (the dtypes the NumPy engine honours), else a `SpecError`."""
    try:
        t = np.dtype(dtype).type
    except TypeError:
        t = None
    if t not in (np.float32, np.float64):
        raise SpecError(f"the manual engine runs in float32 or float64, not {dtype!r}", "pass dtype=np.float64 or np.float32")
    return t


def check_device(device) -> None:
    """The NumPy engine runs on the host only: device "cpu" or None, else a `SpecError`."""
    if device not in ("cpu", None):
        raise SpecError(
            f"the manual engine runs on the CPU, not device={device!r}",
            "pass device='cpu', or use the torch engine (numeric.autograd) for a GPU",
        )


def loss_and_dA(net: Net | MLP, aL: np.ndarray, Y: np.ndarray):
    """Loss value and dL/da_L (B x N_L) from the compiled row loss and its gradient.

    Raises:
        SpecError: the loss or its gradient is not finite at these predictions.
    """
    c = compile_net(net, "numpy")
    B, K = aL.shape
    div = c.divisor(B, K)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if c.loss_terms is not None:  # separable loss: whole B x K arrays, no per-column calls
            value = np.sum(c.loss_terms(aL, Y)) / div
            assert c.loss_terms_grad is not None  # compile_net sets the separable loss_terms* together
            dA = np.asarray(c.loss_terms_grad(aL, Y), dtype=aL.dtype) / div
        else:
            value = np.sum(np.broadcast_to(c.loss_rows(*aL.T, *Y.T), (B,))) / div
            cols = c.loss_grad_rows(*aL.T, *Y.T)
            dA = np.stack([np.broadcast_to(np.asarray(col, dtype=aL.dtype), (B,)) for col in cols], 1) / div
    if not np.isfinite(value) or not np.all(np.isfinite(dA)):
        raise SpecError(
            f"loss {net.loss!r} is not finite at these predictions (e.g. log(0) or overflow)",
            "check the targets' range against the output activation (bce needs outputs in (0, 1))",
        )
    return value, dA.astype(aL.dtype, copy=False)


def with_ones(A: np.ndarray) -> np.ndarray:
    """[A, 1] (rows x (cols+1)): G [A, 1] gives G A and G's row sums in one pass over G."""
    return np.hstack([A, np.ones((A.shape[0], 1), dtype=A.dtype)])


#: Node pairs closer than NEAR times the coordinates' scale get eq. (8)'s term from their own difference.
NEAR = 1e-3


def near_pairs(Zl: np.ndarray, Zp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(i, j) index arrays of the pairs with ||Zl_i - Zp_j|| < NEAR * scale, scale = the largest |coordinate|.

    Why: the efficient form z_i rowsum(G)_i - (G Z')_i subtracts two numbers of size |G_ij| |z| to leave
    G_ij (z_i - z'_j), of size |G_ij| r_ij: a relative error eps |z| / r_ij in that pair's term, which
    is 1e-9 at r = 1e-7 and dominates the gradient when phi = g'(r)/r grows as 1/r (g'(0) != 0) or a
    penalty's dJ/dr does. A k-d tree finds the few such pairs in O(N log N); the efficient form keeps the
    rest, whose terms are then exact to eps / NEAR.
    """
    from scipy.spatial import cKDTree

    scale = max(float(np.max(np.abs(Zl), initial=0.0)), float(np.max(np.abs(Zp), initial=0.0)))
    if scale == 0.0 or not (np.all(np.isfinite(Zl)) and np.all(np.isfinite(Zp))):
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    # in units of the scale: coordinates near the float64 limit (1e154) would overflow the tree's r^2
    found = cKDTree(Zl / scale).query_ball_tree(cKDTree(Zp / scale), r=NEAR)
    i = np.repeat(np.arange(len(found)), [len(js) for js in found])
    j = np.fromiter((jj for js in found for jj in js), dtype=int, count=len(i))
    return i, j


def pair_terms(G: np.ndarray, Zl: np.ndarray, Zp: np.ndarray, k: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Eq. (8)'s efficient form for layer l, (backward term for Z_l, forward term for Z_(l-1)), for
    the matrix k G, with the near pairs (`near_pairs`) summed from their own differences: exact where
    nodes nearly meet. G is overwritten (0) at the near pairs.

        backward term for Z_l     = Z_l * rowsum(G)[:, None]     - G   @ Z_(l-1)
        forward  term for Z_(l-1) = Z_(l-1) * colsum(G)[:, None] - G^T @ Z_l

    Each side is one product against [Z, 1] (`with_ones`): G Z and G's row sums in one pass over G;
    k scales the N x (D+1) products, not the N x N matrix (the fast route's G = dW W with phi = k g).
    """
    i, j = near_pairs(Zl, Zp)
    Gn = G[i, j] * k
    if len(i):
        G[i, j] = 0
    below = G @ with_ones(Zp)  # N_l x (D+1): [G Z_(l-1) | rowsum(G)]
    above = G.T @ with_ones(Zl)  # N_(l-1) x (D+1): [G^T Z_l | colsum(G)]
    if k != 1.0:
        below *= k
        above *= k
    D = Zl.shape[1]
    backward = Zl * below[:, D:] - below[:, :D]
    forward = Zp * above[:, D:] - above[:, :D]
    if len(i):
        term = Gn[:, None] * (Zl[i] - Zp[j])  # G_ij (z_i - z'_j), the difference taken directly
        np.add.at(backward, i, term)
        np.add.at(forward, j, -term)
    return backward, forward


def hvp_coordinate_terms(HZl, HZp, G, RG, Zl, Zp, Vl, Vp) -> None:
    """R{eq. (8)} for one layer, added in place (N_l x D and N_(l-1) x D):

        H v_l     += V_l rowsum(G) + Z_l rowsum(R{G}) - R{G} Z_(l-1) - G V_(l-1)
        H v_(l-1) += V_(l-1) colsum(G) + Z_(l-1) colsum(R{G}) - R{G}^T Z_l - G^T V_l

    as [X, 1] products (G X and the row sums in one pass over G per side), with the near pairs
    (`near_pairs`) taken from their own differences. G and R{G} are overwritten at those pairs.
    """
    D = Zl.shape[1]
    i, j = near_pairs(Zl, Zp)
    Gn, RGn = G[i, j].copy(), RG[i, j].copy()
    if len(i):
        G[i, j] = RG[i, j] = 0
    gV, gtV = G @ with_ones(Vp), G.T @ with_ones(Vl)
    rZ, rtZ = RG @ with_ones(Zp), RG.T @ with_ones(Zl)
    HZl += Vl * gV[:, D:] + Zl * rZ[:, D:] - rZ[:, :D] - gV[:, :D]
    HZp += Vp * gtV[:, D:] + Zp * rtZ[:, D:] - rtZ[:, :D] - gtV[:, :D]
    if len(i):  # G_ij (v_i - v'_j) + R{G}_ij (z_i - z'_j), the differences taken directly
        term = Gn[:, None] * (Vl[i] - Vp[j]) + RGn[:, None] * (Zl[i] - Zp[j])
        np.add.at(HZl, i, term)
        np.add.at(HZp, j, -term)
