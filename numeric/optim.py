"""Optimisers for node coordinates (and biases): gradient descent, Adam, trust-region Newton-CG.

Everything works on flat parameter vectors in numeric.flat's layout (MATH.md "Second order":
coordinates layer by layer, node by node, dimension last, then biases). A `Problem` wraps two
callables, ``value_and_grad(x) -> (L, dL/dx)`` and ``hvp(x, v) -> H v``, and counts how often each
is called, so methods are compared by cost, not by iterations.

Cost unit ("HVP-equivalent evaluation"): one gradient evaluation or one Hessian-vector product
counts 1. A manual R-operator HVP costs about two gradients (forward-over-reverse), so this unit
is generous to first-order methods: a first-order method given the same count gets at least the
compute a second-order one used.

Methods:
    * `gd`: the note's rule (eq. 10-11), x <- x - eta dL/dx.
    * `adam`: Kingma & Ba, with bias correction.
    * `newton_cg`: Steihaug-Toint truncated conjugate gradient on the model
      m(p) = L + <g, p> + 1/2 <p, (H + damping I) p> inside a trust region ||p|| <= radius; negative
      curvature sends p to the boundary, so the step is safe on non-convex losses; the radius follows
      the ratio of actual to predicted decrease.

Device: the iterate, the gradient, H v and the optimiser state (Adam's moments, CG's vectors) are
whatever array type the `Problem` returns: NumPy on the host (`net_problem`, the manual engine) or
torch tensors on their device (`torch_problem`, the torch engine, e.g. on CUDA); the methods use only
arithmetic, inner products and the helpers below, so one code path serves both, and only scalars
(loss, norms, inner products) come back to the host for the records.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial

import numpy as np

from derive import MLP, Net, Params, SpecError

from .compare import tolerance
from .flat import flatten, unflatten
from .manual import gradients
from .manual import hvp as manual_hvp

__all__ = [
    "Problem",
    "Record",
    "Result",
    "net_problem",
    "gd",
    "adam",
    "newton_cg",
    "steihaug_cg",
    "CGResult",
    "top_eigenvalue",
    "torch_problem",
    "to_host",
    "node_centroid",
    "rigid_residuals",
    "rigid_overlap",
]


def _is_torch(a) -> bool:
    return type(a).__module__.startswith("torch")


def _norm(a) -> float:
    """||a|| as a host float (NumPy array or torch tensor)."""
    if _is_torch(a):
        import torch

        return float(torch.linalg.vector_norm(a))
    return float(np.linalg.norm(a))


def _copy(a):
    """A float copy of a (float64 NumPy on the host; a torch tensor stays a tensor on its device)."""
    return a.detach().clone() if _is_torch(a) else np.array(a, dtype=np.float64)


def _zeros_like(a):
    if _is_torch(a):
        import torch

        return torch.zeros_like(a)
    return np.zeros(np.shape(a))


def _all_finite(a) -> bool:
    if _is_torch(a):
        import torch

        return bool(torch.isfinite(a).all())
    return bool(np.all(np.isfinite(a)))


def to_host(a) -> np.ndarray:
    """float64 NumPy copy of an iterate (a torch tensor is copied back from its device)."""
    return a.detach().cpu().double().numpy() if _is_torch(a) else np.asarray(a, dtype=np.float64)


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
        return float(f), (g if _is_torch(g) else np.asarray(g, dtype=np.float64))

    def hvp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        self.n_hvp += 1
        hv = self._hvp(x, v)
        return hv if _is_torch(hv) else np.asarray(hv, dtype=np.float64)


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


def torch_problem(net: Net | MLP, params: Params, X: np.ndarray, Y: np.ndarray, *, device: str = "cpu",
                  dtype=np.float64) -> tuple[Problem, object]:
    """The same objective as `net_problem` on the torch engine, kept on `device` ("cpu" or "cuda").

    The flat parameters x, the gradient and H v are torch tensors on the device (numeric.flat's layout,
    through `numeric.second_order.flat_loss`); the gradient by autograd w.r.t. x (the coordinates
    directly: no dL/dW is formed or copied), H v by double backward. Only the loss leaves the device.

    Returns:
        (problem, x0) with x0 = flatten(params) as a tensor on the device.

    Raises:
        SpecError: device "cuda" where torch.cuda is not available.
    """
    import torch

    from .second_order import flat_loss, function_hvp

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


def _record(problem, it, f, g, step, rate, t0, **kw) -> Record:
    return Record(
        it,
        float(f),
        _norm(g),
        float(step),
        float(rate),
        problem.n_grad,
        problem.n_hvp,
        problem.cost,
        seconds=time.perf_counter() - t0,
        **kw,
    )


def _finite(f, g) -> bool:
    return math.isfinite(f) and _all_finite(g)


def _start(problem, x0, rate, keep_trajectory, callback):
    """Every method's first step: the clock, x_0, f and g at x_0, record 0 (reported to `callback`)
    and the trajectory list (None unless kept). Returns (t0, x, f, g, hist, traj)."""
    t0 = time.perf_counter()
    x = _copy(x0)
    f, g = problem.value_and_grad(x)
    hist = [_record(problem, 0, f, g, 0.0, rate, t0)]
    traj = [_copy(x)] if keep_trajectory else None
    if callback:
        callback(hist[-1])
    return t0, x, f, g, hist, traj


def _loop(method, problem, x0, step_fn, iters, max_cost, callback, keep_trajectory, rate, settings, gtol):
    """Shared driver of gd and adam: step_fn(k, x, g) -> new x."""
    t0, x, f, g, hist, traj = _start(problem, x0, rate, keep_trajectory, callback)
    stop = "iterations"
    for k in range(1, iters + 1):
        if max_cost is not None and problem.cost + 1 > max_cost:
            stop = "budget"
            break
        if hist[-1].grad_norm <= gtol:
            stop = "gradient tolerance"
            break
        x_new = step_fn(k, x, g)
        f_new, g_new = problem.value_and_grad(x_new)
        if not _finite(f_new, g_new):
            stop = "diverged (non-finite loss or gradient)"
            break
        step = _norm(x_new - x)
        x, f, g = x_new, f_new, g_new
        hist.append(_record(problem, k, f, g, step, rate, t0))
        if traj is not None:
            traj.append(_copy(x))
        if callback:
            callback(hist[-1])
    return Result(method, x, hist, stop, traj, settings)


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
) -> Result:
    """Plain gradient descent, the note's rule (eq. 10-11): Z <- Z - eta dL/dZ.

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
    """
    if not (lr > 0 and math.isfinite(lr)):
        raise SpecError(f"learning rate must be a positive finite number, got {lr!r}", "pass e.g. lr=0.05")
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
        {"lr": lr},
        gtol,
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
    m = _zeros_like(x0)  # the moments live where the iterate does (host or device)
    v = _zeros_like(x0)

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


@dataclass
class CGResult:
    """Steihaug CG's answer: step p, (H + damping I) p, iterations (= HVPs), and why it ended
    ("converged", "negative curvature", "boundary", "maxiter")."""

    p: np.ndarray
    Hp: np.ndarray
    iterations: int
    reason: str


def _to_boundary(p, d, radius):
    """tau >= 0 with ||p + tau d|| = radius."""
    a, b, c = float(d @ d), 2 * float(p @ d), float(p @ p) - radius**2
    return (-b + math.sqrt(max(b * b - 4 * a * c, 0.0))) / (2 * a)


def steihaug_cg(
    hvp_fn: Callable[[np.ndarray], np.ndarray],
    g: np.ndarray,
    radius: float,
    *,
    rtol: float = 0.1,
    maxiter: int = 50,
    damping: float = 0.0,
) -> CGResult:
    """Approximately minimise m(p) = <g, p> + 1/2 <p, (H + damping I) p> subject to ||p|| <= radius.

    Truncated CG from p = 0 (Steihaug 1983): stop when the residual falls below rtol ||g``||, when a
    direction of non-positive curvature appears (then go to the boundary along it: the model is
    unbounded below there), or when the iterate leaves the trust region (stop on the boundary).
    Each iteration costs one HVP. The iterates lie in the Krylov space of H and g, so a step never
    has a component along an exact null vector of H to which g is orthogonal (e.g. translations).
    """
    p, Hp = _zeros_like(g), _zeros_like(g)  # on g's device (host or GPU)
    r = _copy(g)  # residual of (H + damping I) p = -g, with the sign convention r = Hp + g
    d = -r
    gnorm = _norm(g)
    if gnorm == 0:
        return CGResult(p, Hp, 0, "converged")
    for it in range(1, maxiter + 1):
        Hd = hvp_fn(d) + damping * d
        curv = float(d @ Hd)
        if curv <= 0:
            tau = _to_boundary(p, d, radius)
            return CGResult(p + tau * d, Hp + tau * Hd, it, "negative curvature")
        alpha = float(r @ r) / curv
        p_new = p + alpha * d
        if _norm(p_new) >= radius:
            tau = _to_boundary(p, d, radius)
            return CGResult(p + tau * d, Hp + tau * Hd, it, "boundary")
        Hp = Hp + alpha * Hd
        r_new = r + alpha * Hd
        p = p_new
        if _norm(r_new) <= rtol * gnorm:
            return CGResult(p, Hp, it, "converged")
        beta = float(r_new @ r_new) / float(r @ r)
        d = -r_new + beta * d
        r = r_new
    return CGResult(p, Hp, maxiter, "maxiter")


def newton_cg(
    problem: Problem,
    x0: np.ndarray,
    iters: int = 30,
    *,
    radius: float = 1.0,
    max_radius: float = 100.0,
    cg_maxiter: int = 30,
    cg_rtol: float | None = None,
    damping: float = 0.0,
    eta: float = 0.1,
    max_cost: int | None = None,
    callback: Callable[[Record], None] | None = None,
    keep_trajectory: bool = False,
    gtol: float = 0.0,
) -> Result:
    """Trust-region Newton-CG (Steihaug-Toint) with HVPs from `problem.hvp`; no Hessian is formed.

    Each outer iteration: p = steihaug_cg(H + damping I, g, radius); rho = (L(x) - L(x + p)) /
    (-<g, p> - 1/2 <p, (H + damping I) p>); accept if rho > eta; shrink the radius by 4 if rho < 1/4,
    double it (up to max_radius) if rho > 3/4 and p reached the boundary. The loss never increases
    (a rejected step leaves x unchanged), whatever the curvature.

    Args:
        radius: initial trust radius (Euclidean, in coordinate units). cg_maxiter: HVPs per inner solve.
        cg_rtol: inner relative residual; default min(0.5, sqrt(||g||)) (superlinear forcing sequence).
        damping: Levenberg-Marquardt shift added to H (>= 0). eta: acceptance threshold on rho.
        max_cost: stop before an outer iteration could exceed this many evaluations.

    Returns:
        `Result`; each `Record` has `rate` = the radius used, `accepted`, `cg_iters`.

    Why not ``scipy.optimize.minimize(method="trust-ncg" | "trust-krylov", hessp=...)``: measured on
    `derivcheck train`'s tasks, seeds 0-2, each scipy run stopped by a callback at this method's cost
    after 40 iterations (radius 1, max radius 100, evaluations counted by the same `Problem`), final
    loss this / trust-ncg / trust-krylov: synthetic 7.9e-6 / 1.4e-5 / 2.2e-5, 2.3e-5 / 2.3e-4 /
    1.4e-4, 1.9e-6 / 1.6e-5 / 4.9e-6; diabetes 0.50993 / 0.50976 / 0.51056, 0.50843 / 0.50940 /
    0.50961, 0.50952 / 0.50957 / 0.51037. Lower or equal in 11 of 12 pairs (up to 10x lower on the
    synthetic task; scipy's trust-ncg once lower by 0.03 %). The per-solve HVP cap (`cg_maxiter`),
    a budget that stops before it would be exceeded, damping, and the per-iteration `Record`
    (radius, accepted, CG iterations) have no scipy counterpart, so this one stays.
    """
    if damping < 0 or radius <= 0:
        raise SpecError(f"damping {damping!r} and radius {radius!r}", "use damping >= 0 and radius > 0")
    t0, x, f, g, hist, traj = _start(problem, x0, radius, keep_trajectory, callback)
    stop = "iterations"
    for k in range(1, iters + 1):
        gnorm = _norm(g)
        if gnorm <= gtol:
            stop = "gradient tolerance"
            break
        maxit = cg_maxiter
        if max_cost is not None:
            maxit = min(maxit, max_cost - problem.cost - 1)  # leave one evaluation for the trial point
            if maxit < 1:
                stop = "budget"
                break
        rtol = min(0.5, math.sqrt(gnorm)) if cg_rtol is None else cg_rtol
        cg = steihaug_cg(partial(problem.hvp, x), g, radius, rtol=rtol, maxiter=maxit, damping=damping)
        predicted = -float(g @ cg.p) - 0.5 * float(cg.p @ cg.Hp)
        f_new, g_new = problem.value_and_grad(x + cg.p)
        ok = _finite(f_new, g_new) and predicted > 0
        rho = (f - f_new) / predicted if ok else -math.inf
        step_norm = _norm(cg.p)
        used = radius
        if rho < 0.25:
            radius = 0.25 * (step_norm if ok and step_norm > 0 else radius)
        elif rho > 0.75 and step_norm >= 0.99 * radius:
            radius = min(2 * radius, max_radius)
        accepted = rho > eta
        if accepted:
            x, f, g = x + cg.p, f_new, g_new
        hist.append(
            _record(
                problem,
                k,
                f,
                g,
                step_norm if accepted else 0.0,
                used,
                t0,
                accepted=accepted,
                cg_iters=cg.iterations,
            )
        )
        if traj is not None:
            traj.append(_copy(x))
        if callback:
            callback(hist[-1])
        if radius < 1e-14:
            stop = "trust radius collapsed"
            break
    return Result(
        "newton-cg",
        x,
        hist,
        stop,
        traj,
        {
            "radius0": hist[0].rate,
            "max_radius": max_radius,
            "cg_maxiter": cg_maxiter,
            "cg_rtol": cg_rtol,
            "damping": damping,
            "eta": eta,
        },
    )


def top_eigenvalue(
    hvp_fn: Callable[[np.ndarray], np.ndarray], n: int, *, iters: int = 200, seed: int = 0, rtol: float = 1e-8
) -> float:
    """Largest (algebraic) eigenvalue of a symmetric H from H v only (Lanczos through
    `numeric.spectrum.top_eigenpair`, which="LA").

    This is the lambda_max of the descent lemma (a step below 2 / lambda_max decreases the loss;
    negative curvature only helps descent). If H has no positive eigenvalue the answer is <= 0.
    """
    from .spectrum import top_eigenpair

    return float(top_eigenpair(hvp_fn, n, which="LA", iters=iters, seed=seed, rtol=rtol).value)


# -- rigid-motion bookkeeping of a spatial net's flat parameters ---------------------------------------
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
    Z = np.concatenate(_coords(net, x), axis=0)
    G = np.concatenate(_coords(net, grad), axis=0)
    M = Z.T @ G
    return float(np.linalg.norm(G.sum(axis=0))), float(np.max(np.abs(M - M.T))) if M.size else 0.0


def rigid_overlap(net: Net, x: np.ndarray, eigenvectors: np.ndarray) -> np.ndarray:
    """For each eigenvector q_k (columns, n x m) the squared norm of its projection onto the span of
    the rigid motions (D translations, D(D-1)/2 rotations) at the coordinates x: 1 for a pure rigid
    mode, 0 for one orthogonal to every rigid motion."""
    from .spectrum import rigid_motions

    T, Rv = rigid_motions(_coords(net, x), eigenvectors.shape[0])
    U, s, _ = np.linalg.svd(np.concatenate([T, Rv], axis=1), full_matrices=False)
    U = U[:, s > tolerance(np.float64, "rank") * s[0]]  # the spectrum's rank cut
    return np.sum((U.T @ eigenvectors) ** 2, axis=0)
