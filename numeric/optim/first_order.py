"""First-order methods: `gd`, the note's rule (eq. 10-11), x <- x - eta dL/dx, and `adam` (Kingma & Ba,
with bias correction); one shared driver (`_loop`)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from derive import SpecError
from numeric.optim.device import copy, norm, zeros_like
from numeric.optim.problem import Problem, Record, Result, evaluate, is_finite, make_record, start_run

__all__ = ["gd", "adam"]


def _loop(method, problem, x0, step_fn, iters, max_cost, callback, keep_trajectory, rate, settings, gtol, armijo: bool = False):
    """Shared driver of gd and adam: step_fn(k, x, g) -> new x. With `armijo` (gd only) a step that
    does not decrease the loss enough is retried with half the rate (see `gd`)."""
    t0, x, f, g, hist, traj = start_run(problem, x0, rate, keep_trajectory, callback)
    stop = "iterations"
    settings["loss_increases"] = 0
    for k in range(1, iters + 1):
        if max_cost is not None and problem.cost + 1 > max_cost:
            stop = "budget"
            break
        if hist[-1].grad_norm <= gtol:
            stop = "gradient tolerance"
            break
        x_new = x - rate * g if armijo else step_fn(k, x, g)  # armijo: the rate backtracking left
        f_new, g_new = evaluate(problem, x_new)
        if armijo:
            x_new, f_new, g_new, rate = _backtrack(problem, x, f, g, x_new, f_new, g_new, rate, max_cost, settings)
            if x_new is None:
                stop = f"no descent: the loss does not decrease along -g even at rate {rate:.3g}"
                break
        if not is_finite(f_new, g_new):
            stop = "diverged (non-finite loss or gradient)"
            break
        step = norm(x_new - x)
        settings["loss_increases"] += int(f_new > f)
        x, f, g = x_new, f_new, g_new
        hist.append(make_record(problem, k, f, g, step, rate, t0))
        if traj is not None:
            traj.append(copy(x))
        if callback:
            callback(hist[-1])
    return Result(method, x, hist, stop, traj, settings)


def _backtrack(problem, x, f, g, x_new, f_new, g_new, rate, max_cost, settings):
    """Armijo backtracking for gd: halve the rate until L(x - t g) <= L(x) - 1e-4 t ||g||^2 (at most 40
    halvings, within the budget). Returns (x_new, f_new, g_new, t), x_new None when no rate descends."""
    gg = float(g @ g)
    halvings = 0
    while not (is_finite(f_new, g_new) and f_new <= f - 1e-4 * rate * gg):
        if halvings == 40 or (max_cost is not None and problem.cost + 1 > max_cost):
            return (None, f, g, rate) if not (is_finite(f_new, g_new) and f_new <= f) else (x_new, f_new, g_new, rate)
        rate, halvings = rate / 2, halvings + 1
        x_new = x - rate * g
        f_new, g_new = evaluate(problem, x_new)
    settings["backtracks"] = settings.get("backtracks", 0) + halvings
    return x_new, f_new, g_new, rate


def gd(
    problem: Problem,
    x0: np.ndarray,
    lr: float,
    iters: int = 100,
    *,
    max_cost: int | None = None,
    callback: Callable[[Record], None] | None = None,
    keep_trajectory: bool = False,
    gtol: float = 0.0,
    backtrack: bool = False,
) -> Result:
    """Gradient descent, the note's rule (eq. 10-11): Z <- Z - eta dL/dZ.

    Descent lemma: if the largest Hessian eigenvalue along the segment [x_k, x_(k+1)] is below
    2/eta, then L(x_(k+1)) <= L(x_k) - eta (1 - eta lambda/2) ||g_k||^2 < L(x_k) unless g_k = 0.

    Rigid motions: the loss depends on coordinates only through distances, so L(Z + 1 t^T) = L(Z) for
    every t in R^D; differentiating at t = 0 gives sum_i dL/dz_i = 0 (MATH.md "Exact identities").
    Each GD step therefore moves the nodes by vectors that sum to zero, and the centroid of all nodes
    (all layers together) is the same at every iterate (up to rounding). Biases do not enter this sum.

    Args:
        problem: the objective. x0: start (n,). lr: eta > 0. iters: maximum steps.
        max_cost: stop before the cost (gradient evaluations) would exceed this.
        callback: called with each `Record` (iteration 0 included). keep_trajectory: keep every iterate.
        gtol: stop when ||g|| <= gtol.
        backtrack: Armijo backtracking: a step must lower the loss by 1e-4 eta ||g||^2, else eta is
            halved (and stays lowered) until it does; every trial counts in the cost. Without it (the
            plain rule) a step that raises the loss is taken and counted in settings["loss_increases"].
    """
    if not (lr > 0 and math.isfinite(lr)):
        raise SpecError(f"learning rate must be a positive finite number, got {lr!r}", "pass e.g. lr=0.05")
    settings: dict = {"lr": lr, "backtrack": backtrack}
    return _loop(
        "gd",
        problem,
        x0,
        lambda k, x, g: x - lr * g,
        iters,
        max_cost,
        callback,
        keep_trajectory,
        lr,
        settings,
        gtol,
        armijo=backtrack,
    )


def adam(
    problem: Problem,
    x0: np.ndarray,
    lr: float = 0.02,
    iters: int = 100,
    *,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    max_cost: int | None = None,
    callback: Callable[[Record], None] | None = None,
    keep_trajectory: bool = False,
    gtol: float = 0.0,
) -> Result:
    """Adam (bias-corrected first and second moments, per-coordinate step lr m_hat / (sqrt(v_hat) + eps)).

    Its per-coordinate scaling does not preserve the node centroid: unlike `gd`, the step is not a
    multiple of the gradient, so the zero sum of the gradient over nodes does not carry over.
    """
    if not (lr > 0 and math.isfinite(lr)):
        raise SpecError(f"learning rate must be a positive finite number, got {lr!r}", "pass e.g. lr=0.05")
    m = zeros_like(x0)  # the moments live where the iterate does (host or device)
    v = zeros_like(x0)

    def step(k, x, g):
        m[:] = beta1 * m + (1 - beta1) * g
        v[:] = beta2 * v + (1 - beta2) * g * g
        mhat = m / (1 - beta1**k)
        vhat = v / (1 - beta2**k)
        return x - lr * mhat / (vhat**0.5 + eps)

    return _loop(
        "adam",
        problem,
        x0,
        step,
        iters,
        max_cost,
        callback,
        keep_trajectory,
        lr,
        {"lr": lr, "beta1": beta1, "beta2": beta2, "eps": eps},
        gtol,
    )
