"""Independent opinions: central finite differences and Taylor-remainder slopes.

Neither needs the engines' derivative code: both only evaluate the loss (numeric.manual.forward).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from derive import MLP, Net, Params
from numeric.compare import Finding, tolerance
from numeric.flat import flatten, unflatten
from numeric.manual import forward, loss_and_dA, penalty

__all__ = ["loss_value", "fd_step", "fd_gradient", "fd_steps", "weights_keep_sign", "TaylorResult", "taylor_slope", "TAYLOR_EPS"]

#: the Taylor test's default steps e (x + e v)
TAYLOR_EPS = np.geomspace(1e-2, 1e-5, 10)


def loss_value(net: Net | MLP, params: Params, X, Y, dtype=np.float64) -> float:
    """The objective J = L + penalties (MATH.md "The wider model family") from a forward pass."""
    cache = forward(net, params, X, Y, dtype=dtype)
    return float(loss_and_dA(net, cache.a[-1], cache.Y)[0]) + penalty.total(net, cache)


def fd_step(dtype=np.float64) -> float:
    """eps^(1/3): balances the O(h^2) truncation and O(eps/h) rounding errors of central differences."""
    return float(np.finfo(dtype).eps ** (1 / 3))


def fd_gradient(net: Net | MLP, params: Params, X, Y, dtype=np.float64, step: float | None = None) -> np.ndarray:
    """Central differences (L(x + h e_k) - L(x - h e_k)) / 2h for every flat parameter k, with
    h = step * max(1, |x_k|). Returns the flat gradient (layout of `numeric.flat`)."""
    x = flatten(net, params)
    h0 = fd_step(dtype) if step is None else step
    grad = np.empty_like(x)
    for k in range(x.size):
        h = h0 * max(1.0, abs(x[k]))
        xp, xm = x.copy(), x.copy()
        xp[k] += h
        xm[k] -= h
        grad[k] = (loss_value(net, unflatten(net, xp), X, Y, dtype) - loss_value(net, unflatten(net, xm), X, Y, dtype)) / (2 * h)
    return grad


def weights_keep_sign(net: Net | MLP, params: Params, steps: list[np.ndarray]) -> bool:
    """Whether every weight keeps its sign, away from 0, at x + s for each flat step s in `steps` (and at
    x): a loss whose only kink is |w| at w = 0 is then C2 along every segment x -> x + s, so finite
    differences and Taylor steps of that size measure its derivatives. W_l = theta_l g(R_l) (or W)."""
    from numeric.manual import reference

    x = flatten(net, params)
    X0, Y0 = np.zeros((1, net.widths[0])), np.zeros((1, net.widths[-1]))

    def signs(p: Params) -> list[np.ndarray]:
        return [np.sign(w) for w in reference.forward(net, p, X0, Y0).W[1:]]

    base = signs(params)
    if any((s == 0).any() for s in base):
        return False
    return all(all((a == b).all() for a, b in zip(base, signs(unflatten(net, x + s)))) for s in steps)


def fd_steps(x: np.ndarray, dtype=np.float64, step: float | None = None) -> list[np.ndarray]:
    """The 2n flat displacements +-h e_k that `fd_gradient` evaluates the loss at (h = step max(1, |x_k|))."""
    h0 = fd_step(dtype) if step is None else step
    out = []
    for k in range(x.size):
        e = np.zeros_like(x)
        e[k] = h0 * max(1.0, abs(x[k]))
        out += [e, -e]
    return out


@dataclass
class TaylorResult:
    """Fitted log-log slope of the Taylor remainder against the step e.

    Attributes:
        slope: fitted exponent (2 for a correct gradient, 3 with a correct H v); None when the
            remainder is below rounding at every step (the loss is locally polynomial of lower order).
        eps, remainders: the steps and remainders used.
        expected: 2 or 3.
    """

    slope: float | None
    eps: np.ndarray
    remainders: np.ndarray
    expected: int

    @property
    def minimum(self) -> float:
        """The slope a passing test exceeds (`TOLERANCES` "taylor_grad" / "taylor_hvp")."""
        return tolerance(np.float64, "taylor_grad" if self.expected == 2 else "taylor_hvp")

    @property
    def ok(self) -> bool:
        return self.slope is None or self.slope > self.minimum

    def finding(self, engine: str = "taylor") -> Finding:
        """This test as a `numeric.compare.Finding` (measure "slope"; a slope of None passes)."""
        slope = float("inf") if self.slope is None else self.slope
        return Finding(
            "grad" if self.expected == 2 else "hvp",
            engine,
            slope,
            self.minimum,
            value=self.slope,
            truth=self.expected,
            measure="slope",
            reference=f"Taylor remainder of order {self.expected}",
        )


def taylor_slope(
    net: Net | MLP, params: Params, X, Y, grad_flat: np.ndarray, v: np.ndarray, hv: np.ndarray | None = None, eps=None
) -> TaylorResult:
    """Remainder r(e) = |L(x + e v) - L(x) - e <g, v> [- e^2/2 <v, H v>]| on a geometric grid of e,
    fitted on the points above the rounding floor; it shrinks as e^2 (or e^3 with `hv`).

    `v` is scaled to unit norm; the default grid 1e-2..1e-5 sits in the asymptotic regime, where the
    next Taylor term no longer bends the curve, and mostly above the rounding floor.
    """
    x = flatten(net, params)
    norm = max(float(np.linalg.norm(v)), np.finfo(np.float64).tiny)
    v = np.asarray(v, dtype=np.float64) / norm
    hv = None if hv is None else np.asarray(hv, dtype=np.float64) / norm  # H is linear: H(v/n) = Hv/n
    eps = TAYLOR_EPS if eps is None else np.asarray(eps)
    L0 = loss_value(net, params, X, Y)
    gv = float(grad_flat @ v)
    vhv = 0.0 if hv is None else float(v @ hv)
    rem = np.array([abs(loss_value(net, unflatten(net, x + e * v), X, Y) - L0 - e * gv - 0.5 * e * e * vhv) for e in eps])
    floor = tolerance(np.float64, "taylor_floor") * max(1.0, abs(L0))
    # Fit the 5 smallest steps above the floor: at larger e the next Taylor term can cancel the
    # leading one (a coefficient near 0) and bend the curve.
    keep = np.flatnonzero(rem > floor)[-5:]
    expected = 2 if hv is None else 3
    if keep.size < 3:
        return TaylorResult(None, eps, rem, expected)
    slope = float(np.polyfit(np.log(eps[keep]), np.log(rem[keep]), 1)[0])
    return TaylorResult(slope, eps, rem, expected)
