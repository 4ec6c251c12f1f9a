"""Hessian spectra: eigenvalues, near-zero modes, and the rigid-motion modes of a spatial net.

The loss depends on the coordinates only through distances (MATH.md "Exact identities"), so it is
invariant under the D translations and D(D-1)/2 rotations of all nodes together. Translations are
exact null vectors of H everywhere (H t = 0); rotations are null vectors only where the rotational
gradient vanishes (H (A Z) = A dL/dZ), e.g. at a critical point. `spectrum` builds those rigid-motion
vectors from Z and reports how much of the near-null eigenspace they span.

`lambda_max` / `top_eigenpair` find an extreme eigenvalue from an H v callable (no H formed; Lanczos
through scipy.sparse.linalg.eigsh on a LinearOperator), for training-time sharpness.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from derive import SpecError
from numeric.compare import tolerance

__all__ = ["Spectrum", "spectrum", "rigid_motions", "PowerResult", "lambda_max", "top_eigenpair"]


@dataclass
class Spectrum:
    """Eigen-decomposition of a symmetric Hessian and its near-zero modes.

    Attributes:
        eigenvalues: ascending, length n. eigenvectors: n x n, columns match `eigenvalues`.
        tol: |lambda| <= tol counts as zero.
        n_zero, n_negative, n_positive: counts of near-zero, negative and positive eigenvalues.
        asymmetry: max|H - H^T| / max|H| of the input (eigh sees the symmetrised (H + H^T)/2).
        n_translations, n_rotations: rank of the translation and rotation vectors built from Z
            (D and D(D-1)/2 for generic coordinates; fewer when nodes are degenerate, e.g. collinear).
        translation_residual: max over translations t of ||H t|| / (||H|| ||t||) (0 up to rounding).
        rotation_residual: the same for rotations (0 only where dL/dZ's rotational part vanishes).
        rigid_in_null: dimension of the rigid-motion space inside the near-null eigenspace
            (sum of squared cosines of the principal angles, between 0 and n_translations + n_rotations).
        unexplained_zero: n_zero - rigid_in_null, rounded: near-zero modes that are not rigid motions.
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    tol: float
    n_zero: int
    n_negative: int
    n_positive: int
    asymmetry: float
    n_translations: int = 0
    n_rotations: int = 0
    translation_residual: float | None = None
    rotation_residual: float | None = None
    rigid_in_null: float | None = None
    unexplained_zero: int | None = None

    def summary(self) -> str:
        s = (
            f"n={self.eigenvalues.size} lambda in [{self.eigenvalues[0]:.3g}, {self.eigenvalues[-1]:.3g}], "
            f"{self.n_negative} negative, {self.n_zero} near-zero (tol {self.tol:.2g}), "
            f"{self.n_positive} positive"
        )
        if self.rigid_in_null is not None:
            s += (
                f"; rigid motions: {self.n_translations} translations, {self.n_rotations} rotations, "
                f"{self.rigid_in_null:.3g} dimensions of them in the null space"
            )
        return s


def rigid_motions(Z: Sequence[np.ndarray], n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Translation and rotation generators as flat vectors (MATH.md layout, dimension last).

    Args:
        Z: coordinates, one N_l x D array per layer. n: total length (padded with zeros past the
            coordinates, e.g. for biases, which rigid motions leave unchanged).

    Returns:
        (T, A): n x D translation vectors (node-wise e_d) and n x D(D-1)/2 rotation vectors
        (node-wise (e_p e_q^T - e_q e_p^T) z, p < q), unnormalised.
    """
    Zc = np.concatenate([np.asarray(z, dtype=np.float64) for z in Z], axis=0)
    M, D = Zc.shape
    n = M * D if n is None else n
    T = np.zeros((n, D))
    for d in range(D):
        e = np.zeros((M, D))
        e[:, d] = 1
        T[: M * D, d] = e.reshape(-1)
    cols = []
    for p in range(D):
        for q in range(p + 1, D):
            A = np.zeros((D, D))
            A[p, q], A[q, p] = 1, -1
            v = np.zeros(n)
            v[: M * D] = (Zc @ A.T).reshape(-1)
            cols.append(v)
    R = np.stack(cols, axis=1) if cols else np.zeros((n, 0))
    return T, R


def _orth(M: np.ndarray, rtol: float | None = None) -> np.ndarray:
    """Orthonormal basis of range(M) (columns), rank by singular values above rtol * the largest
    (default `TOLERANCES` "rank")."""
    rtol = tolerance(np.float64, "rank") if rtol is None else rtol
    if M.shape[1] == 0:
        return M
    U, s, _ = np.linalg.svd(M, full_matrices=False)
    if s.size == 0 or s[0] == 0:
        return U[:, :0]
    return U[:, s > rtol * s[0]]


def spectrum(H, tol: float | None = None, Z: Sequence[np.ndarray] | None = None) -> Spectrum:
    """Eigenvalues of the symmetrised H, near-zero modes, and (given Z) the rigid-motion modes.

    Args:
        H: n x n Hessian (numpy). tol: zero threshold; default n * max|lambda| * `TOLERANCES` "eigen_zero"
            (1e3 eps: the matrix-rank convention with room for the engines' rounding, ~1e-15 relative).
        Z: coordinates of a spatial net (list of N_l x D): H's first D sum N_l rows are coordinates
            in MATH.md's layout, any further rows (biases) are left out of the rigid motions.

    Returns:
        `Spectrum`.
    """
    H = np.asarray(H, dtype=np.float64)
    if H.ndim != 2 or H.shape[0] != H.shape[1]:
        raise SpecError(f"H must be square, got shape {H.shape}", "pass the n x n Hessian")
    n = H.shape[0]
    scale = float(np.max(np.abs(H))) if H.size else 0.0
    asym = float(np.max(np.abs(H - H.T)) / scale) if scale > 0 else 0.0
    w, Q = np.linalg.eigh((H + H.T) / 2)
    top = float(np.max(np.abs(w))) if n else 0.0
    if tol is None:
        tol = n * tolerance(np.float64, "eigen_zero") * top
    zero = np.abs(w) <= tol
    out = Spectrum(w, Q, float(tol), int(zero.sum()), int((w < -tol).sum()), int((w > tol).sum()), asym)
    if Z is None:
        return out
    T, Rv = rigid_motions(Z, n)
    norm_H = float(np.linalg.norm(H, 2)) if n else 0.0
    rigid = _orth(np.concatenate([T, Rv], axis=1))
    out.n_translations = _orth(T).shape[1]
    out.n_rotations = rigid.shape[1] - out.n_translations

    def resid(M):
        if norm_H == 0:
            return 0.0
        vals = [np.linalg.norm(H @ v) / (np.linalg.norm(v) * norm_H) for v in M.T if np.linalg.norm(v) > 0]
        return float(max(vals)) if vals else 0.0

    out.translation_residual, out.rotation_residual = resid(T), resid(Rv)
    null = Q[:, zero]
    out.rigid_in_null = float(np.sum((null.T @ rigid) ** 2)) if rigid.shape[1] else 0.0
    out.unexplained_zero = int(round(out.n_zero - out.rigid_in_null))
    return out


@dataclass
class PowerResult:
    """A dominant eigenpair of H found from H v products: `value` is the eigenvalue (signed),
    `vector` its unit eigenvector, `iterations` the HVPs used, `converged` whether ARPACK met the
    tolerance (the name is historical: it was found by power iteration before Lanczos)."""

    value: float
    vector: np.ndarray
    iterations: int
    converged: bool

    def __float__(self) -> float:
        return self.value


def top_eigenpair(
    hvp_fn: Callable[[np.ndarray], np.ndarray], n: int, *, which: str = "LM", iters: int = 100, seed: int = 0, rtol: float = 1e-10
) -> PowerResult:
    """One extreme eigenpair of a symmetric H touched only through `hvp_fn`: implicitly restarted
    Lanczos (ARPACK, `scipy.sparse.linalg.eigsh`) on a `LinearOperator`, no H formed.

    Args:
        hvp_fn: flat vector of length n -> H v (flat). n: dimension.
        which: "LM" the eigenvalue of largest magnitude, "LA" the largest algebraic one.
        iters: ARPACK restarts (each a few HVPs). seed: seed of the start vector (reproducible).
        rtol: ARPACK's relative accuracy of the Ritz value.

    Returns:
        `PowerResult`; when ARPACK does not converge, its best Ritz pair with converged=False.
    """
    from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

    calls = [0]

    def matvec(v):
        calls[0] += 1
        return np.asarray(hvp_fn(np.asarray(v, dtype=np.float64).reshape(-1)), dtype=np.float64).reshape(-1)

    if n == 1:  # ARPACK needs k < n; a 1 x 1 H is its own eigenvalue
        one = np.ones(1)
        return PowerResult(float(matvec(one)[0]), one, calls[0], True)
    v0 = np.random.default_rng(seed).standard_normal(n)
    if not np.any(matvec(v0)):  # H v0 = 0 exactly (a kernel flat at every edge): ARPACK would fail
        return PowerResult(0.0, v0 / np.linalg.norm(v0), calls[0], True)
    op = LinearOperator((n, n), matvec=matvec, dtype=np.float64)
    try:
        w, V = eigsh(op, k=1, which=which, v0=v0, tol=rtol, maxiter=max(1, iters))
        converged = True
    except ArpackNoConvergence as exc:
        if not len(exc.eigenvalues):
            return PowerResult(float("nan"), v0 / np.linalg.norm(v0), calls[0], False)
        w, V, converged = exc.eigenvalues, exc.eigenvectors, False
    return PowerResult(float(w[0]), V[:, 0], calls[0], converged)


def lambda_max(
    hvp_fn: Callable[[np.ndarray], np.ndarray], n: int, iters: int = 100, seed: int = 0, rtol: float = 1e-10
) -> PowerResult:
    """Dominant eigenvalue of H (largest magnitude, signed), H touched only through `hvp_fn`
    (`top_eigenpair` with which="LM": Lanczos via scipy's eigsh).

    Args:
        hvp_fn: flat vector of length n -> H v (flat). n: dimension. iters: maximum ARPACK restarts.
        seed: seed of the random start vector (reproducible). rtol: relative accuracy.

    Returns:
        `PowerResult` (float(result) is the eigenvalue).
    """
    return top_eigenpair(hvp_fn, n, which="LM", iters=iters, seed=seed, rtol=rtol)
