"""Errors against the ground truth, the tolerance table, and the exact identities of MATH.md.

Error measures (normwise, so entries that cancel to ~0 do not dominate):
    rel_error(x, truth) = max|x - truth| / max(max|truth|, tiny)
    ulp_error(x, truth) = max|x - truth| / spacing(max|truth|) in the engine's dtype
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from derive import VerificationError

__all__ = ["TOLERANCES", "tolerance", "rel_error", "ulp_error", "Finding", "check_close", "translation_residual",
           "rotation_asymmetry", "quantities", "QUANTITIES"]

QUANTITIES = ("loss", "dW", "dZ", "db", "dX", "hvp")

# One table: dtype -> quantity -> max relative error against the 50-digit ground truth.
# float64: a handful of layers of O(1) ops, each within a few ulps (2.2e-16), with cancellation in
# eq. (8)'s backward/forward terms; float32 likewise at eps = 1.2e-7. "fd" is central differences,
# limited by h^2 ~ eps^(2/3).
TOLERANCES: dict[str, dict[str, float]] = {
    "float64": {"loss": 1e-12, "dW": 1e-10, "dZ": 1e-9, "db": 1e-10, "dX": 1e-10, "hvp": 1e-8, "fd": 1e-5},
    "float32": {"loss": 1e-5, "dW": 1e-4, "dZ": 1e-3, "db": 1e-4, "dX": 1e-4, "hvp": 1e-3, "fd": 5e-2},
}


def tolerance(dtype, quantity: str) -> float:
    return TOLERANCES[np.dtype(dtype).name][quantity]


def _cat(x) -> np.ndarray:
    if x is None:
        return np.zeros(0)
    if isinstance(x, (list, tuple)):
        return np.concatenate([np.asarray(a, dtype=np.float64).reshape(-1) for a in x]) if x else np.zeros(0)
    return np.asarray(x, dtype=np.float64).reshape(-1)


def rel_error(x, truth) -> float:
    x, t = _cat(x), _cat(truth)
    if x.shape != t.shape:
        raise VerificationError(f"shape mismatch: {x.shape} vs ground truth {t.shape}")
    if t.size == 0:
        return 0.0
    return float(np.max(np.abs(x - t)) / max(float(np.max(np.abs(t))), np.finfo(np.float64).tiny))


def ulp_error(x, truth, dtype=np.float64) -> float:
    x, t = _cat(x), _cat(truth)
    if t.size == 0:
        return 0.0
    scale = np.spacing(np.asarray(max(float(np.max(np.abs(t))), np.finfo(dtype).tiny), dtype=dtype))
    return float(np.max(np.abs(x - t)) / float(scale))


def quantities(grads) -> dict[str, object]:
    """The quantities of a `Gradients` that are present, by name."""
    out = {"loss": grads.loss, "dW": grads.dW, "dZ": grads.dZ, "db": grads.db, "dX": grads.dX}
    return {k: v for k, v in out.items() if v is not None}


@dataclass
class Finding:
    """One comparison: which quantity, which engine, errors, tolerance, and where it is worst."""

    quantity: str
    engine: str
    rel: float
    ulp: float
    tol: float
    where: str = ""
    value: float = float("nan")
    truth: float = float("nan")

    @property
    def ok(self) -> bool:
        return bool(self.rel <= self.tol)

    def describe(self, seed: int | None = None, command: str | None = None) -> str:
        s = (f"{self.quantity}{self.where} ({self.engine} vs ground truth): {self.value!r} vs {self.truth!r}, "
             f"relative error {self.rel:.3g} > tolerance {self.tol:.1g} ({self.ulp:.3g} ulp)")
        if seed is not None:
            s += f"; seed {seed}"
        if command:
            s += f"; reproduce: {command}"
        return s


def _locate(quantity: str, x, truth) -> tuple[str, float, float]:
    """Name the worst entry, e.g. ' of layer 2, node 1, dim 0'."""
    if not isinstance(x, (list, tuple)):
        xa, ta = np.asarray(x, dtype=np.float64), np.asarray(truth, dtype=np.float64)
        k = np.unravel_index(np.argmax(np.abs(xa - ta)), xa.shape) if xa.ndim else ()
        return "", float(xa[k]), float(ta[k])
    best = (-1.0, "", np.nan, np.nan)
    first_layer = 1 if quantity == "dZ" else 2
    for l, (a, t) in enumerate(zip(x, truth)):
        a, t = np.asarray(a, dtype=np.float64), np.asarray(t, dtype=np.float64)
        if a.size == 0:
            continue
        k = np.unravel_index(np.argmax(np.abs(a - t)), a.shape)
        err = float(abs(a[k] - t[k]))
        if err > best[0]:
            names = ("node", "dim") if quantity == "dZ" else ("row", "col")
            where = f" of layer {l + first_layer}, " + ", ".join(f"{n} {i}" for n, i in zip(names, k))
            best = (err, where, float(a[k]), float(t[k]))
    return best[1], best[2], best[3]


def check_close(quantity: str, engine: str, x, truth, dtype=np.float64, tol: float | None = None) -> Finding:
    """Compare one quantity of one engine against the ground truth (does not raise)."""
    tol = tolerance(dtype, quantity if quantity in TOLERANCES["float64"] else "hvp") if tol is None else tol
    where, v, t = _locate(quantity, x, truth)
    return Finding(quantity, engine, rel_error(x, truth), ulp_error(x, truth, dtype), tol, where, v, t)


def translation_residual(dZ) -> float:
    """|sum over all nodes of dL/dz| / scale: exactly 0 in exact arithmetic (translation invariance)."""
    total = sum(np.asarray(d).sum(axis=0) for d in dZ)
    scale = max(max(float(np.abs(d).max()) for d in dZ), np.finfo(np.float64).tiny)
    return float(np.abs(total).max() / scale)


def rotation_asymmetry(Z, dZ) -> float:
    """|M - M^T| / |M| with M = sum_i z_i (dL/dz_i)^T (symmetric by rotation invariance)."""
    M = sum(np.asarray(z).T @ np.asarray(d) for z, d in zip(Z, dZ))
    scale = max(float(np.abs(M).max()), float(max(np.abs(np.asarray(z)).max() * np.abs(np.asarray(d)).max()
                                                  for z, d in zip(Z, dZ))), np.finfo(np.float64).tiny)
    return float(np.abs(M - M.T).max() / scale)
