"""Training runs: one method on one task (`train`), and the three methods on one budget (`compare`).

Methods from `numeric.optim` on one objective (gradients by the manual engine, eq. (8); Hessian-vector
products by the manual R-operator):

    gd          the note's rule (eq. 10-11) Z <- Z - eta dL/dZ; eta defaults to 1 / lambda_max(H(Z_0)),
                half the descent-lemma limit 2 / lambda_max (lambda_max by Lanczos on H v)
    adam        Adam on the same flat parameters
    newton-cg   trust-region Newton with Steihaug truncated CG (safe on non-convex losses)

With ``device`` ("cpu" or "cuda") the same methods run on the torch engine (`numeric.optim.torch_problem`):
parameters, gradients, H v and the optimiser state stay on that device; the final parameters and the
trajectory are copied back to the host once, so the logs and the report are the same.

Kernels whose g'(0+) != 0 fail the audit's ``gradient_at_coincidence`` check (`check_kernel`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import cast

import numpy as np

from derivcheck.train.tasks import Task
from derive import Net, Params, SpecError
from numeric import optim
from numeric.flat import unflatten

__all__ = ["METHODS", "DEFAULT_ITERS", "ADAM_LR", "check_kernel", "penalty_warnings", "auto_lr", "TrainRun", "train", "compare"]

METHODS = ("gd", "adam", "newton-cg")
DEFAULT_ITERS = {"gd": 300, "adam": 300, "newton-cg": 40}
ADAM_LR = 0.03


def check_kernel(net: Net, allow_nonsmooth: bool = False) -> str | None:
    """Refuse kernels that fail the audit's gradient_at_coincidence check (g'(0+) != 0).

    Returns:
        None when g'(0+) = 0; the reason text when it is not and `allow_nonsmooth` is set.

    Raises:
        SpecError: g'(0+) != 0 (or undecided) and not `allow_nonsmooth`.
    """
    from derive.step_limits import attempt

    dg0, why = attempt(lambda: net.g.dg0)
    if dg0 is not None and attempt(lambda: net.g.gradient_at_0)[0]:
        return None
    value = f"g'(0+) = {dg0}" if dg0 is not None else f"g'(0+) is undecided ({why})"
    reason = (
        f"kernel {net.g.name!r} fails the gradient_at_coincidence check: {value} != 0, so dL/dz has a "
        f"different limit for each direction from which two nodes of adjacent layers meet, and no "
        f"gradient where they coincide"
    )
    if not allow_nonsmooth:
        raise SpecError(
            reason,
            "use a kernel with g'(0) = 0 (gaussian, inverse_quadratic, wendland_c2) or pass "
            "--allow-nonsmooth-kernel to train anyway",
        )
    return reason


def penalty_warnings(net: Net) -> list[str]:
    """One line per penalty without a gradient where nodes meet (derive's `Penalty.gradient_at_0`,
    e.g. |w| r or (s (r - q0))^2). A warning, not a refusal: training starts from distinct nodes
    and the engines refuse (SpecError) the measure-zero iterate where two covered nodes coincide."""
    out = []
    for p in net.penalties:
        if not p.gradient_at_0:
            lim = f"{float(p.dr0):.4g}" if p.dr0.is_number else str(p.dr0)
            out.append(
                f"penalty {p.rho!r} has no gradient where nodes meet (drho/dr -> {lim} as r -> 0); "
                "training stops with an error if two nodes it covers coincide"
            )
    return out


def _problem(task: Task, device: str | None):
    if device is None:
        return optim.net_problem(task.net, task.params0, task.X, task.Y)
    return optim.torch_problem(task.net, task.params0, task.X, task.Y, device=device)


def auto_lr(task: Task, seed: int = 0, factor: float = 1.0, device: str | None = None) -> tuple[float, float]:
    """(eta, lambda_max): eta = factor / lambda_max(H(x_0)), lambda_max by Lanczos (scipy eigsh) on the
    manual HVP, or on the torch engine's on `device` (numeric.optim.top_eigenvalue). factor < 2 keeps eta
    below the descent-lemma limit."""
    problem, x0 = _problem(task, device)
    lam = optim.top_eigenvalue(lambda v: optim.to_host(problem.hvp(x0, v)), problem.n, seed=seed)
    if not lam > 0:
        raise SpecError(
            f"the Hessian at the start has no positive eigenvalue (lambda_max = {lam:.3g})",
            "pass --lr explicitly",
        )
    return factor / lam, lam


@dataclass
class TrainRun:
    """One training run: task, method, the optimiser's `Result`, and what was chosen for it."""

    task: Task
    method: str
    result: optim.Result
    lr: float | None = None
    lambda_max0: float | None = None
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def params(self) -> Params:
        return unflatten(self.task.net, self.result.x)

    def summary(self) -> dict:
        h0, h = self.result.history[0], self.result.history[-1]
        return {
            "task": self.task.name,
            "method": self.method,
            "seed": self.task.seed,
            "net": self.task.net.describe(),
            "initial_loss": h0.loss,
            "final_loss": h.loss,
            "final_grad_norm": h.grad_norm,
            "iterations": h.iteration,
            "n_grad": h.n_grad,
            "n_hvp": h.n_hvp,
            "cost": h.cost,
            "stop": self.result.stop,
            "lr": self.lr,
            "lambda_max0": self.lambda_max0,
            "seconds": round(self.seconds, 3),
            "warnings": self.warnings,
            "settings": self.result.settings,
        }


def train(
    task: Task,
    method: str,
    *,
    iters: int | None = None,
    lr: float | None = None,
    max_cost: int | None = None,
    radius: float = 1.0,
    damping: float = 0.0,
    cg_maxiter: int = 30,
    allow_nonsmooth_kernel: bool = False,
    keep_trajectory: bool = False,
    callback=None,
    backtrack: bool = False,
    device: str | None = None,
) -> TrainRun:
    """Train `task`'s coordinates (and biases) with `method` in METHODS.

    Args:
        iters: outer iterations (default DEFAULT_ITERS[method]). lr: gd/adam step (gd default
            1 / lambda_max(H(x_0)); the Lanczos HVPs are not counted in the run's cost;
            adam default ADAM_LR). max_cost: budget in HVP-equivalent evaluations (numeric.optim).
        radius, damping, cg_maxiter: Newton-CG's initial trust radius, LM damping, HVPs per CG solve.
        callback: called with every `numeric.optim.Record`.
        backtrack: gd only: Armijo backtracking (`numeric.optim.gd`); a step that would not lower the
            loss is halved instead of taken (the command line's default; the report studies plain GD).
        device: None (the manual engine on the host, the default) or "cpu"/"cuda" (the torch engine,
            everything kept on that device until the run ends).
    """
    if method not in METHODS:
        raise SpecError(f"unknown method {method!r}", f"use one of {', '.join(METHODS)}")
    why = check_kernel(task.net, allow_nonsmooth_kernel)
    iters = DEFAULT_ITERS[method] if iters is None else iters
    if iters < 0:
        raise SpecError(f"--iters is {iters}", "give a number of iterations >= 0")
    if lr is not None and not (np.isfinite(lr) and lr > 0):
        raise SpecError(f"learning rate {lr!r} is not a positive number", "pass e.g. --lr 0.05")
    lam = None
    if method == "gd" and lr is None:
        lr, lam = auto_lr(task, task.seed, device=device)
    if method == "adam" and lr is None:
        lr = ADAM_LR
    problem, x0 = _problem(task, device)
    kw = dict(max_cost=max_cost, callback=callback, keep_trajectory=keep_trajectory)
    t0 = time.perf_counter()
    if method == "gd":
        res = optim.gd(problem, x0, cast(float, lr), iters, backtrack=backtrack, **kw)
    elif method == "adam":
        res = optim.adam(problem, x0, cast(float, lr), iters, **kw)
    else:
        res = optim.newton_cg(problem, x0, iters, radius=radius, damping=damping, cg_maxiter=cg_maxiter, **kw)
    if device is not None:  # back to the host once, at the end: the logs and report read NumPy
        traj = None if res.trajectory is None else [optim.to_host(x) for x in res.trajectory]
        res = replace(res, x=optim.to_host(res.x), trajectory=traj, settings={**res.settings, "device": device})
    run_ = TrainRun(task, method, res, lr, lam, time.perf_counter() - t0)
    if why:
        run_.warnings.append(why)
    return run_


def compare(
    task: Task,
    *,
    newton_iters: int = 40,
    adam_lr: float = ADAM_LR,
    keep_trajectory: bool = False,
    allow_nonsmooth_kernel: bool = False,
) -> dict[str, TrainRun]:
    """Newton-CG for `newton_iters` outer iterations, then GD and Adam with the same budget of
    HVP-equivalent evaluations (one gradient = one HVP = 1; an HVP costs about two gradients, so the
    budget favours the first-order methods)."""
    nt = train(
        task,
        "newton-cg",
        iters=newton_iters,
        keep_trajectory=keep_trajectory,
        allow_nonsmooth_kernel=allow_nonsmooth_kernel,
    )
    budget = nt.result.history[-1].cost
    big = 10**7
    out = {"newton-cg": nt}
    out["gd"] = train(
        task,
        "gd",
        iters=big,
        max_cost=budget,
        keep_trajectory=keep_trajectory,
        allow_nonsmooth_kernel=allow_nonsmooth_kernel,
    )
    out["adam"] = train(
        task,
        "adam",
        iters=big,
        lr=adam_lr,
        max_cost=budget,
        keep_trajectory=keep_trajectory,
        allow_nonsmooth_kernel=allow_nonsmooth_kernel,
    )
    return {m: out[m] for m in METHODS}
