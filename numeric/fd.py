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

__all__ = [
    "loss_value",
    "fd_step",
    "fd_gradient",
    "FdEstimate",
    "fd_estimate",
    "FD_ROUNDING",
    "fd_steps",
    "weights_keep_sign",
    "TaylorResult",
    "taylor_slope",
    "TAYLOR_EPS",
]

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


#: the rounding error of one evaluation of J, in units of eps |J|: the error of (J(x + h) - J(x - h)) / 2h
#: is then up to FD_ROUNDING eps |J| / h (measured: 0.1 to 0.8 eps |J| / h on 1e-7 pairs and tiny gradients)
FD_ROUNDING = 2.0


@dataclass
class FdEstimate:
    """Central differences at step h and what they can resolve (`fd_estimate`).

    Attributes:
        grad: the flat gradient by central differences at h (as `fd_gradient`).
        noise: per entry, the rounding error FD_ROUNDING eps |J| / h_k of the two evaluations of J.
        truncation: per entry, the truncation error h^2 |d3J| / 6 ~ |D(h) - D(2h)| / 3 (Richardson: D(2h)
            has 4 times the h^2 term of D(h)); it holds D's rounding noise too.
        step: h0 (h_k = h0 max(1, |x_k|)).
    """

    grad: np.ndarray
    noise: np.ndarray
    truncation: np.ndarray
    step: float

    @property
    def bound(self) -> float:
        """The largest error the differences can have: max over entries of noise + truncation."""
        return float(np.max(self.noise + self.truncation)) if self.grad.size else 0.0

    def unresolved(self, tol: float, value: float, margin: float = 4.0) -> str | None:
        """Why the differences cannot judge a gradient of size `value` (max |entry|) at relative tolerance
        `tol`: their own error bound is not `margin` times below tol x value (an error above the
        tolerance could then be theirs); None where they can. Only the differences and J enter: a wrong
        gradient under test cannot make them skip (pass as `value` the larger of its and the differences')."""
        if self.bound * margin <= tol * value:
            return None
        k = int(np.argmax(self.noise + self.truncation))
        return (
            f"cannot resolve dJ/dx here: error bound {self.bound:.1e} (rounding {self.noise[k]:.1e}, truncation "
            f"{self.truncation[k]:.1e} at step {self.step:.0e}) vs tolerance {tol:.0e} x gradient {value:.1e}"
        )


def fd_estimate(net: Net | MLP, params: Params, X, Y, dtype=np.float64, step: float | None = None) -> FdEstimate:
    """`fd_gradient` at h and 2h, with the error bound of the one at h: rounding FD_ROUNDING eps |J| / h_k
    plus truncation |D(h) - D(2h)| / 3. Neither depends on any engine's gradient."""
    x = flatten(net, params)
    h0 = fd_step(dtype) if step is None else step
    d1 = fd_gradient(net, params, X, Y, dtype, step=h0)
    d2 = fd_gradient(net, params, X, Y, dtype, step=2 * h0)
    J = abs(loss_value(net, params, X, Y, dtype))
    h = h0 * np.maximum(1.0, np.abs(x))
    noise = FD_ROUNDING * float(np.finfo(dtype).eps) * J / h
    with np.errstate(invalid="ignore", over="ignore"):
        trunc = np.abs(d1 - d2) / 3
    trunc = np.where(np.isfinite(trunc), trunc, np.inf)
    return FdEstimate(d1, noise, trunc, h0)


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
    # Fit the 3 smallest steps above the floor: at larger e the next Taylor term can cancel the
    # leading one (a coefficient near 0) or not yet be negligible, and bend the curve (a correct H v on
    # a saturated tanh net: local slopes 1.7, 2.7, 2.9, 3.0, 3.0 from e = 1e-2 down; the 5 smallest
    # gave 2.59 < 2.9). Above the floor (1000 ulps of L) rounding moves each remainder by <= 1e-3
    # relative, so three points a factor 2.15 apart fit the slope to ~0.01; and a wrong derivative
    # shows most at the smallest steps, where its error term leads.
    keep = np.flatnonzero(rem > floor)[-3:]
    expected = 2 if hv is None else 3
    if keep.size < 3:
        return TaylorResult(None, eps, rem, expected)
    slope = float(np.polyfit(np.log(eps[keep]), np.log(rem[keep]), 1)[0])
    return TaylorResult(slope, eps, rem, expected)
