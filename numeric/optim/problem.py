"""The objective every optimiser sees (`Problem`, counting calls), its records and results, and the
bookkeeping shared by every method (the first record, one record per iteration).

Everything works on flat parameter vectors in numeric.flat's layout (coordinates layer by layer,
node by node, dimension last, then biases). A `Problem` wraps two callables,
``value_and_grad(x) -> (L, dL/dx)`` and ``hvp(x, v) -> H v``, and counts how often each is called,
so methods are compared by cost, not by iterations. `net_problem` is the manual engine's objective
on the host (NumPy); `torch_problem` the torch engine's, kept on a device (tensors; see `device`).

Cost unit ("HVP-equivalent evaluation"): one gradient evaluation or one Hessian-vector product
counts 1. A manual R-operator HVP costs about two gradients (forward-over-reverse), so this unit
is generous to first-order methods: a first-order method given the same count gets at least the
compute a second-order one used.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from derive import MLP, Net, Params, SpecError
from numeric.flat import flatten, unflatten
from numeric.manual import gradients
from numeric.manual import hvp as manual_hvp
from numeric.optim.device import all_finite, copy, is_torch, nan_like, norm

__all__ = ["Problem", "Record", "Result", "net_problem", "torch_problem", "make_record", "evaluate", "is_finite", "start_run"]


class Problem:
    """A smooth objective seen through value+gradient and Hessian-vector products, with counters.

    Args:
        value_and_grad: flat x (n,) -> (loss float, gradient (n,)).
        hvp: (x (n,), v (n,)) -> H(x) v (n,).
        n: dimension.

    Attributes:
        n_grad, n_hvp: calls so far. `cost` = n_grad + n_hvp (HVP-equivalent evaluations).
    """

    def __init__(self, value_and_grad: Callable, hvp: Callable, n: int):
        self._vg, self._hvp, self.n = value_and_grad, hvp, int(n)
        self.n_grad = 0
        self.n_hvp = 0

    @property
    def cost(self) -> int:
        return self.n_grad + self.n_hvp

    def value_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        self.n_grad += 1
        f, g = self._vg(x)
        return float(f), (g if is_torch(g) else np.asarray(g, dtype=np.float64))

    def hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        self.n_hvp += 1
        hv = self._hvp(x, v)
        return hv if is_torch(hv) else np.asarray(hv, dtype=np.float64)


def net_problem(net: Net | MLP, params: Params, X: np.ndarray, Y: np.ndarray) -> tuple[Problem, np.ndarray]:
    """The training objective of a network as a `Problem` over its flat parameters.

    Spatial Net: x = (Z_1..Z_L, then b_2..b_L if net.bias); gradients from `numeric.manual.gradients`
    (eq. (8), efficient form), H v from `numeric.manual.hvp` (R-operator), both in numeric.flat's layout.

    Returns:
        (problem, x0) with x0 = flatten(params).
    """
    x0 = flatten(net, params)

    def vg(x):
        grads = gradients(net, unflatten(net, x), X, Y)
        return grads.loss, grads.flat()

    def hv(x, v):
        return manual_hvp(net, unflatten(net, x), X, Y, np.asarray(v, dtype=np.float64))

    return Problem(vg, hv, x0.size), x0


def torch_problem(
    net: Net | MLP, params: Params, X: np.ndarray, Y: np.ndarray, *, device: str = "cpu", dtype=np.float64
) -> tuple[Problem, object]:
    """The same objective as `net_problem` on the torch engine, kept on `device` ("cpu" or "cuda").

    The flat parameters x, the gradient and H v are torch tensors on the device (numeric.flat's layout,
    through `numeric.autograd.second_order.flat_loss`); the gradient by autograd w.r.t. x (the coordinates
    directly: no dL/dW is formed or copied), H v by double backward. Only the loss leaves the device.

    Returns:
        (problem, x0) with x0 = flatten(params) as a tensor on the device.

    Raises:
        SpecError: device "cuda" where torch.cuda is not available.
    """
    import torch

    from numeric.autograd.second_order import flat_loss, function_hvp

    f, x0 = flat_loss(net, params, X, Y, dtype=dtype, device=device)

    def vg(x):
        x = x.detach().requires_grad_(True)
        value = f(x)
        (g,) = torch.autograd.grad(value, x)
        return value.detach(), g.detach()

    def hv(x, v):
        return function_hvp(f, x, torch.as_tensor(v, dtype=x0.dtype, device=x0.device))

    return Problem(vg, hv, x0.numel()), x0


@dataclass
class Record:
    """One iteration of an optimiser (iteration 0 is the starting point, before any step).

    Attributes:
        iteration, loss (at the iterate), grad_norm (||dL/dx||), step_norm (||x_k - x_(k-1)||),
        rate (learning rate, or the trust radius for Newton-CG), n_grad, n_hvp, cost (cumulative),
        accepted (Newton-CG: whether the trial step was taken), cg_iters, seconds (wall time so far).
    """

    iteration: int
    loss: float
    grad_norm: float
    step_norm: float
    rate: float
    n_grad: int
    n_hvp: int
    cost: int
    accepted: bool = True
    cg_iters: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Result:
    """What every optimiser returns: final flat parameters, per-iteration history, why it stopped."""

    method: str
    x: np.ndarray
    history: list[Record]
    stop: str
    trajectory: list[np.ndarray] | None = None
    settings: dict = field(default_factory=dict)

    @property
    def loss(self) -> float:
        return self.history[-1].loss


def make_record(problem, it, f, g, step, rate, t0, **kw) -> Record:
    """Record of iteration `it` at loss f and gradient g, with the problem's counters and time since t0."""
    with np.errstate(over="ignore"):  # a diverging run's last gradient may overflow its norm: inf
        gnorm = norm(g)
    return Record(
        it,
        float(f),
        gnorm,
        float(step),
        float(rate),
        problem.n_grad,
        problem.n_hvp,
        problem.cost,
        seconds=time.perf_counter() - t0,
        **kw,
    )


def evaluate(problem, x) -> tuple[float, np.ndarray]:
    """problem.value_and_grad at an iterate; a loss the engine refuses as non-finite (overflow after
    a step too long) reads as NaN, so the method reports divergence or backtracks instead of raising."""
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            return problem.value_and_grad(x)
    except SpecError:
        return float("nan"), nan_like(x)


def is_finite(f, g) -> bool:
    """Whether the loss f and every entry of the gradient g are finite (else the method stops: diverged)."""
    return math.isfinite(f) and all_finite(g)


def start_run(problem, x0, rate, keep_trajectory, callback):
    """Every method's first step: the clock, x_0, f and g at x_0, record 0 (reported to `callback`)
    and the trajectory list (None unless kept). Returns (t0, x, f, g, hist, traj)."""
    t0 = time.perf_counter()
    x = copy(x0)
    f, g = problem.value_and_grad(x)
    hist = [make_record(problem, 0, f, g, 0.0, rate, t0)]
    traj = [copy(x)] if keep_trajectory else None
    if callback:
        callback(hist[-1])
    return t0, x, f, g, hist, traj
