"""`derivcheck train`: train the node coordinates (and biases) of a spatial net, with evidence.

Three methods from `numeric.optim` on one objective (gradients by the manual engine, eq. (8);
Hessian-vector products by the manual R-operator, numeric/hvp.py):

    gd          the note's rule (eq. 10-11) Z <- Z - eta dL/dZ; eta defaults to 1 / lambda_max(H(Z_0)),
                half the descent-lemma limit 2 / lambda_max, lambda_max by power iteration on H v
    adam        Adam on the same flat parameters
    newton-cg   trust-region Newton with Steihaug truncated CG (safe on non-convex losses)

Tasks: ``synthetic`` (a teacher spatial net with hidden coordinates labels seeded Gaussian inputs;
the student starts from other seeded coordinates) and ``diabetes`` (scikit-learn's bundled copy of
the diabetes data, 442 x 10, standardised; no download).

Kernels whose g'(0+) != 0 fail the audit's ``gradient_at_coincidence`` check: the coordinate gradient
has no limit where two nodes meet, so training can stall or jump there. `train` refuses them unless
``--allow-nonsmooth-kernel``.

Outputs: a per-iteration CSV log (loss, gradient norm, step, cost) and a JSON record (settings, seed,
provenance, history), both written atomically; ``--report`` builds the training report
(`training_report`). Exit codes: 0 trained, 1 diverged (non-finite loss), 2 bad input.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, cast

import numpy as np

from derive import Net, Params, SpecError
from numeric import optim
from numeric.flat import unflatten

from .provenance import atomic_write_bytes, atomic_write_json, atomic_write_text, provenance, versions

__all__ = [
    "TASKS",
    "METHODS",
    "Task",
    "TrainRun",
    "synthetic_task",
    "diabetes_task",
    "make_task",
    "check_kernel",
    "auto_lr",
    "train",
    "compare",
    "write_log",
    "training_report",
    "add_arguments",
    "run",
]

TASKS = ("synthetic", "diabetes")
METHODS = ("gd", "adam", "newton-cg")
DEFAULT_ITERS = {"gd": 300, "adam": 300, "newton-cg": 40}
ADAM_LR = 0.03


@dataclass
class Task:
    """A training problem: the student net, its data and its starting parameters.

    Attributes:
        name, description. net: the spatial Net. X: B x N_1. Y: B x N_L. params0: student start.
        teacher: the hidden teacher parameters (synthetic task) or None. seed: the seed of every draw.
    """

    name: str
    description: str
    net: Net
    X: np.ndarray
    Y: np.ndarray
    params0: Params
    teacher: Params | None = None
    seed: int = 0


def _coords(net: Net, rng: np.random.Generator, scale: float) -> list[np.ndarray]:
    return [scale * rng.standard_normal((n, net.dim)) for n in net.widths]


def _start(net: Net, rng: np.random.Generator, scale: float) -> Params:
    b = [np.zeros(n) for n in net.widths[1:]] if net.bias else None
    return Params(Z=_coords(net, rng, scale), b=b)


def synthetic_task(
    seed: int = 0,
    *,
    widths=(4, 8, 8, 2),
    dim: int = 3,
    kernel: str = "gaussian",
    kernel_params=(),
    hidden: str = "tanh",
    bias: bool = False,
    batch: int = 128,
    scale: float = 1.0,
    noise: float = 0.0,
) -> Task:
    """A teacher spatial net with hidden coordinates (standard normal times `scale`, and biases
    uniform in [-0.5, 0.5] if `bias`) labels B standard normal inputs; the student has the same
    architecture and starts from independent coordinates (biases 0). All draws come from `seed`."""
    from numeric.manual import forward

    net = Net(
        widths=tuple(widths),
        dim=dim,
        kernel=kernel,
        kernel_params=kernel_params,
        hidden=hidden,
        loss="mse",
        bias=bias,
    )
    rng = np.random.default_rng(seed)
    teacher = Params(
        Z=_coords(net, rng, scale), b=[rng.uniform(-0.5, 0.5, n) for n in net.widths[1:]] if bias else None
    )
    X = rng.standard_normal((batch, net.widths[0]))
    Y = forward(net, teacher, X, np.zeros((batch, net.widths[-1]))).a[-1]
    if noise:
        Y = Y + noise * rng.standard_normal(Y.shape)
    return Task(
        "synthetic",
        f"teacher spatial net {net.widths}, D={dim}, {batch} seeded inputs"
        + (f", noise {noise:g}" if noise else ""),
        net,
        X,
        Y,
        _start(net, rng, scale),
        teacher,
        seed,
    )


def diabetes_task(
    seed: int = 0,
    *,
    hidden_width: int = 8,
    dim: int = 3,
    kernel: str = "gaussian",
    kernel_params=(),
    hidden: str = "tanh",
    bias: bool = False,
    scale: float = 0.7,
) -> Task:
    """scikit-learn's bundled diabetes data (442 patients, 10 features, disease progression after a
    year), features and target standardised; net (10, hidden_width, 1)."""
    try:
        from sklearn.datasets import load_diabetes
    except ImportError:  # pragma: no cover - a dependency in pyproject
        raise SpecError(
            "the diabetes task needs scikit-learn", "run `make setup` (pip install scikit-learn)"
        ) from None
    data = load_diabetes()
    X = (data.data - data.data.mean(axis=0)) / data.data.std(axis=0)
    y = (data.target - data.target.mean()) / data.target.std()
    net = Net(
        widths=(X.shape[1], hidden_width, 1),
        dim=dim,
        kernel=kernel,
        kernel_params=kernel_params,
        hidden=hidden,
        loss="mse",
        bias=bias,
    )
    rng = np.random.default_rng(seed)
    return Task(
        "diabetes",
        f"scikit-learn diabetes, {X.shape[0]} x {X.shape[1]} standardised, net {net.widths}",
        net,
        X,
        y[:, None],
        _start(net, rng, scale),
        None,
        seed,
    )


def make_task(name: str, seed: int = 0, **kw) -> Task:
    if name == "synthetic":
        return synthetic_task(seed, **kw)
    if name == "diabetes":
        kw.pop("widths", None)
        kw.pop("batch", None)
        return diabetes_task(seed, **kw)
    raise SpecError(f"unknown task {name!r}", f"use one of {', '.join(TASKS)}")


def check_kernel(net: Net, allow_nonsmooth: bool = False) -> str | None:
    """Refuse kernels that fail the audit's gradient_at_coincidence check (g'(0+) != 0).

    Returns:
        None when g'(0+) = 0; the reason text when it is not and `allow_nonsmooth` is set.

    Raises:
        SpecError: g'(0+) != 0 (or undecided) and not `allow_nonsmooth`.
    """
    from derive.decide import attempt

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


def auto_lr(task: Task, seed: int = 0, factor: float = 1.0) -> tuple[float, float]:
    """(eta, lambda_max): eta = factor / lambda_max(H(x_0)), lambda_max by power iteration on the
    manual HVP (numeric.optim.top_eigenvalue). factor < 2 keeps eta below the descent-lemma limit."""
    problem, x0 = optim.net_problem(task.net, task.params0, task.X, task.Y)
    lam = optim.top_eigenvalue(lambda v: problem.hvp(x0, v), problem.n, seed=seed)
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
) -> TrainRun:
    """Train `task`'s coordinates (and biases) with `method` in METHODS.

    Args:
        iters: outer iterations (default DEFAULT_ITERS[method]). lr: gd/adam step (gd default
            1 / lambda_max(H(x_0)); the power-iteration HVPs are not counted in the run's cost;
            adam default ADAM_LR). max_cost: budget in HVP-equivalent evaluations (numeric.optim).
        radius, damping, cg_maxiter: Newton-CG's initial trust radius, LM damping, HVPs per CG solve.
        callback: called with every `numeric.optim.Record`.
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
        lr, lam = auto_lr(task, task.seed)
    if method == "adam" and lr is None:
        lr = ADAM_LR
    problem, x0 = optim.net_problem(task.net, task.params0, task.X, task.Y)
    kw = dict(max_cost=max_cost, callback=callback, keep_trajectory=keep_trajectory)
    t0 = time.perf_counter()
    if method == "gd":
        res = optim.gd(problem, x0, cast(float, lr), iters, **kw)
    elif method == "adam":
        res = optim.adam(problem, x0, cast(float, lr), iters, **kw)
    else:
        res = optim.newton_cg(problem, x0, iters, radius=radius, damping=damping, cg_maxiter=cg_maxiter, **kw)
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


def write_log(run_: TrainRun, path: str | Path, argv: list[str] | None = None) -> Path:
    """Per-iteration log, atomically: ``.csv`` (one row per iteration) or ``.json`` (summary,
    provenance with the seed, and the history)."""
    path = Path(path)
    rows = [r.as_dict() for r in run_.result.history]
    if path.suffix == ".json":
        return atomic_write_json(
            path, {"summary": run_.summary(), "provenance": provenance(run_.task.seed, argv), "history": rows}
        )
    if path.suffix != ".csv":
        raise SpecError(f"log file {path.name!r} is neither .csv nor .json", "name it e.g. train.csv")
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return atomic_write_text(path, buf.getvalue())


# -- report ---------------------------------------------------------------------------------------------
def _save(fig, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=130)
    return atomic_write_bytes(path, buf.getvalue())


COLORS = {"gd": "tab:blue", "adam": "tab:orange", "newton-cg": "tab:green"}


def _curves(runs: dict[str, TrainRun], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.6))
    for m, r in runs.items():
        h = r.result.history
        cost = [x.cost for x in h]
        axes[0].semilogy(cost, [x.loss for x in h], color=COLORS[m], label=m)
        axes[1].semilogy(cost, [max(x.grad_norm, 1e-300) for x in h], color=COLORS[m], label=m)
    axes[0].set_ylabel("loss")
    axes[1].set_ylabel(r"$\|\nabla L\|$")
    for ax in axes:
        ax.set_xlabel("HVP-equivalent evaluations (gradient = HVP = 1)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out = _save(fig, path)
    plt.close(fig)
    return out


def _layout(task: Task, views: list[tuple[str, Params]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from mpl_toolkits.mplot3d.art3d import Line3DCollection

    from numeric.manual import forward

    net = task.net
    fig = plt.figure(figsize=(4.2 * len(views), 4.2))
    cmap = plt.get_cmap("viridis")
    for k, (title, params) in enumerate(views):
        ax = fig.add_subplot(1, len(views), k + 1, projection="3d")
        Z = [np.asarray(z) for z in params.Z or []]
        Zp = [np.pad(z, ((0, 0), (0, max(0, 3 - net.dim))))[:, :3] for z in Z]
        W = forward(net, params, task.X[:1], task.Y[:1]).W
        wmax = max(float(np.max(w)) for w in W[1:])
        for l in range(1, net.L):
            segs = [(Zp[l][i], Zp[l - 1][j]) for i in range(Z[l].shape[0]) for j in range(Z[l - 1].shape[0])]
            alpha = (W[l] / wmax).reshape(-1) if wmax > 0 else np.zeros(len(segs))
            colors = np.zeros((len(segs), 4))
            colors[:, 3] = 0.05 + 0.75 * np.clip(alpha, 0, 1)
            ax.add_collection3d(Line3DCollection(segs, colors=colors, linewidths=0.8))
        for l, z in enumerate(Zp):
            ax.scatter(
                z[:, 0],
                z[:, 1],
                z[:, 2],
                color=cmap(l / max(net.L - 1, 1)),
                s=28,
                depthshade=False,
                label=f"layer {l + 1}",
            )
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=6)
        if k == 0:
            ax.legend(fontsize=6, loc="upper left")
    fig.tight_layout()
    out = _save(fig, path)
    plt.close(fig)
    return out


def _spectrum(run_: TrainRun, path: Path) -> tuple[Path, dict]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from numeric.manual import hessian
    from numeric.spectrum import spectrum

    task, params = run_.task, run_.params
    H = hessian(task.net, params, task.X, task.Y)
    sp_ = spectrum(H, Z=params.Z)
    overlap = optim.rigid_overlap(task.net, run_.result.x, sp_.eigenvectors)
    w = sp_.eigenvalues
    rigid = overlap > 0.5
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    idx = np.arange(w.size)
    ax.scatter(idx[~rigid], w[~rigid], s=10, color="k", label="eigenvalue")
    ax.scatter(
        idx[rigid],
        w[rigid],
        s=40,
        facecolors="none",
        edgecolors="tab:red",
        linewidths=1.2,
        label="rigid-motion mode (overlap > 1/2)",
    )
    ax.axhspan(-sp_.tol, sp_.tol, color="tab:red", alpha=0.1, label=f"|lambda| <= tol = {sp_.tol:.1e}")
    top = float(np.max(np.abs(w))) or 1.0
    ax.set_yscale("symlog", linthresh=max(top * 1e-8, 1e-300))
    ax.set_xlabel("index (ascending)")
    ax.set_ylabel("eigenvalue of H")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    out = _save(fig, path)
    plt.close(fig)
    info = {
        "summary": sp_.summary(),
        "n": int(w.size),
        "n_zero": sp_.n_zero,
        "n_negative": sp_.n_negative,
        "n_positive": sp_.n_positive,
        "tol": sp_.tol,
        "lambda_min": float(w[0]),
        "lambda_max": float(w[-1]),
        "n_translations": sp_.n_translations,
        "n_rotations": sp_.n_rotations,
        "translation_residual": sp_.translation_residual,
        "rotation_residual": sp_.rotation_residual,
        "rigid_in_null": sp_.rigid_in_null,
        "unexplained_zero": sp_.unexplained_zero,
        "n_rigid_marked": int(rigid.sum()),
        "rigid_eigenvalues": [float(v) for v in w[rigid]],
    }
    return out, info


def trajectory_checks(run_: TrainRun) -> dict:
    """Descent and rigid-motion facts along a run kept with keep_trajectory=True: loss increases,
    largest centroid drift from the start, largest translation/rotation residual of the gradient."""
    net, res = run_.task.net, run_.result
    losses = [h.loss for h in res.history]
    incr = [k for k in range(1, len(losses)) if losses[k] > losses[k - 1]]
    traj = res.trajectory or []
    drift = 0.0
    if traj:
        c0 = optim.node_centroid(net, traj[0])
        drift = max(float(np.linalg.norm(optim.node_centroid(net, x) - c0)) for x in traj)
    scale = max(float(np.max(np.abs(x))) for x in traj) if traj else 1.0
    return {
        "loss_increases": len(incr),
        "first_increase": incr[0] if incr else None,
        "steps": len(losses) - 1,
        "centroid_drift": drift,
        "coordinate_scale": scale,
    }


def _sharpness_path(run_: TrainRun, samples: int = 12, seed: int = 0) -> list[tuple[int, float]]:
    """(iteration, lambda_max) at `samples` evenly spaced iterates of a run kept with its trajectory
    (power iteration on the manual HVP): the premise of the descent lemma is eta < 2 / lambda_max
    along the path, not only at the start."""
    traj = run_.result.trajectory or [run_.result.x]
    problem, _ = optim.net_problem(run_.task.net, run_.task.params0, run_.task.X, run_.task.Y)
    idx = sorted({int(round(i)) for i in np.linspace(0, len(traj) - 1, min(samples, len(traj)))})
    return [(i, optim.top_eigenvalue(partial(problem.hvp, traj[i]), problem.n, seed=seed)) for i in idx]


def _fmt(v, spec=".3g") -> str:
    return "--" if v is None else format(v, spec)


def training_report(
    out_dir: str | Path,
    *,
    seed: int = 0,
    newton_iters: int = 40,
    tasks=TASKS,
    compile: bool = True,
    argv: list[str] | None = None,
) -> tuple[Path, Path | None]:
    """Build the training report: for each task, Newton-CG for `newton_iters` iterations and GD and
    Adam on the same budget; loss curves, the synthetic net's layout before/after (3-D), the Hessian
    spectrum at Newton-CG's end point with the rigid-motion modes marked, and the trajectory checks.

    Writes ``out_dir/training.tex`` (and .pdf when TeX is present), the figures, and
    ``out_dir/training.json`` (every number in the report). Returns (tex, pdf or None).
    """
    from .latex import render

    out_dir = Path(out_dir)
    prov = provenance(seed, argv)
    record: dict[str, Any]
    sections, figures, record = [], [], {"provenance": prov, "tasks": {}}
    for name in tasks:
        task = make_task(name, seed)
        runs = compare(task, newton_iters=newton_iters, keep_trajectory=True)
        curves = _curves(runs, out_dir / f"training_{name}_curves.png", task.description)
        figures.append(curves)
        gd, nt = runs["gd"], runs["newton-cg"]
        checks = {m: trajectory_checks(r) for m, r in runs.items()}
        rows = []
        for m, r in runs.items():
            s = r.summary()
            rows.append(
                {
                    "method": m,
                    "initial": _fmt(s["initial_loss"], ".4g"),
                    "final": _fmt(s["final_loss"], ".4g"),
                    "grad": _fmt(s["final_grad_norm"]),
                    "iters": s["iterations"],
                    "n_grad": s["n_grad"],
                    "n_hvp": s["n_hvp"],
                    "cost": s["cost"],
                    "lr": _fmt(s["lr"]),
                    "drift": _fmt(checks[m]["centroid_drift"], ".2g"),
                    "increases": checks[m]["loss_increases"],
                    "seconds": f"{s['seconds']:.2f}",
                }
            )
        wins = nt.result.loss < gd.result.loss
        spec_fig, spec = _spectrum(nt, out_dir / f"training_{name}_spectrum.png")
        figures.append(spec_fig)
        layout = None
        if task.net.dim >= 2:
            views = [("start (student)", task.params0), ("after Newton-CG", nt.params)]
            if task.teacher is not None:
                views.append(("teacher (hidden)", task.teacher))
            layout = _layout(task, views, out_dir / f"training_{name}_layout.png")
            figures.append(layout)
        lam_path = _sharpness_path(gd, samples=12, seed=seed)
        lam_end, lam_top = lam_path[-1][1], max(v for _, v in lam_path)
        sec = {
            "name": name,
            "description": task.description,
            "net": task.net.describe(),
            "rows": rows,
            "budget": nt.result.history[-1].cost,
            "wins": wins,
            "nt_final": _fmt(nt.result.loss, ".4g"),
            "gd_final": _fmt(gd.result.loss, ".4g"),
            "ratio": _fmt(gd.result.loss / nt.result.loss if nt.result.loss > 0 else None, ".3g"),
            "lr": _fmt(gd.lr),
            "lam0": _fmt(gd.lambda_max0),
            "lam_end": _fmt(lam_end),
            "lr_bound_end": _fmt(2 / lam_end if lam_end > 0 else None),
            "n_samples": len(lam_path),
            "lam_top": _fmt(lam_top),
            "lr_bound_path": _fmt(2 / lam_top if lam_top > 0 else None),
            "premise": bool(gd.lr is not None and gd.lr < 2 / lam_top) if lam_top > 0 else True,
            "seconds": {m: f"{r.seconds:.2f}" for m, r in runs.items()},
            "gd_increases": checks["gd"]["loss_increases"],
            "gd_drift": _fmt(checks["gd"]["centroid_drift"], ".2g"),
            "nt_drift": _fmt(checks["newton-cg"]["centroid_drift"], ".2g"),
            "adam_drift": _fmt(checks["adam"]["centroid_drift"], ".2g"),
            "curves": curves.name,
            "spectrum_fig": spec_fig.name,
            "layout": layout.name if layout else "",
            "spec": {
                k: (_fmt(v) if isinstance(v, float) else v)
                for k, v in spec.items()
                if k != "rigid_eigenvalues"
            },
            "rigid_eigs": ", ".join(_fmt(v, ".2e") for v in spec["rigid_eigenvalues"]) or "none",
        }
        sections.append(sec)
        record["tasks"][name] = {
            "runs": {m: r.summary() for m, r in runs.items()},
            "checks": checks,
            "spectrum": spec,
            "lambda_max_gd_path": lam_path,
            "newton_cg_wins": wins,
        }
    atomic_write_json(out_dir / "training.json", record)
    ctx = {
        "created": prov["created"],
        "command": prov["command"],
        "seed": seed,
        "sections": sections,
        "versions": ", ".join(f"{k} {v}" for k, v in versions().items()),
        "newton_iters": newton_iters,
    }
    return render("training.tex.j2", ctx, out_dir, "training", figures=figures, compile=compile)


# -- command line -----------------------------------------------------------------------------------------
def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.split(","))
    except ValueError:
        raise SpecError(
            f"--widths {text!r} is not a comma-separated list of integers", "write e.g. --widths 4,8,8,2"
        ) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--task", choices=TASKS, default="synthetic", help="training task (default synthetic)"
    )
    parser.add_argument(
        "--method",
        choices=METHODS + ("all",),
        default="newton-cg",
        help="optimiser; 'all' runs Newton-CG then GD and Adam on its budget (default newton-cg)",
    )
    parser.add_argument("--iters", type=int, help="outer iterations (default gd/adam 300, newton-cg 40)")
    parser.add_argument("--budget", type=int, help="stop at this many HVP-equivalent evaluations")
    parser.add_argument(
        "--lr", type=float, help="gd/adam step (gd default 1/lambda_max at the start, adam 0.03)"
    )
    parser.add_argument("--radius", type=float, default=1.0, help="Newton-CG initial trust radius")
    parser.add_argument("--damping", type=float, default=0.0, help="Newton-CG damping added to H (>= 0)")
    parser.add_argument("--cg-maxiter", type=int, default=30, help="HVPs per inner CG solve (default 30)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and the start (default 0)")
    parser.add_argument("--kernel", default="gaussian", help="kernel name or formula in r (default gaussian)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="kernel parameter")
    parser.add_argument("--dim", type=int, default=3, help="spatial dimension D (default 3)")
    parser.add_argument("--widths", default="4,8,8,2", help="synthetic task widths (default 4,8,8,2)")
    parser.add_argument("--bias", action="store_true", help="train biases too")
    parser.add_argument(
        "--allow-nonsmooth-kernel",
        action="store_true",
        help="train with a kernel whose g'(0) != 0 (no gradient where nodes coincide)",
    )
    parser.add_argument("--out", default="reports/build/train", help="folder of the CSV/JSON logs")
    parser.add_argument(
        "--report", metavar="OUTDIR", help="also build the training report (all tasks, all methods)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _progress(quiet: bool):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("loss {task.fields[loss]}  |g| {task.fields[g]}"),
        console=Console(stderr=True),
        transient=True,
        disable=quiet,
    )


def run(args: argparse.Namespace) -> int:
    from .audit import parse_params

    kw = dict(
        kernel=args.kernel,
        kernel_params=tuple(parse_params(args.param).items()),
        dim=args.dim,
        bias=args.bias,
    )
    if args.task == "synthetic":
        kw["widths"] = _ints(args.widths)
    task = make_task(args.task, args.seed, **kw)
    print(f"derivcheck train: task {task.name} ({task.description}); {task.net.describe()}; seed {args.seed}")
    why = check_kernel(task.net, args.allow_nonsmooth_kernel)
    if why:
        print(f"warning: {why} (--allow-nonsmooth-kernel given)", file=sys.stderr)
    methods = METHODS if args.method == "all" else (args.method,)
    runs: dict[str, TrainRun] = {}
    budget = args.budget
    order = ("newton-cg", "gd", "adam") if args.method == "all" else methods
    with _progress(args.quiet) as bar:
        for m in order:
            iters = args.iters if args.iters is not None else DEFAULT_ITERS[m]
            if args.method == "all" and m != "newton-cg" and args.iters is None:
                iters = 10**7  # bounded by Newton-CG's budget
            tid = bar.add_task(m, total=iters if iters < 10**7 else budget, loss="-", g="-")

            def cb(rec, tid=tid, by_cost=iters >= 10**7):
                bar.update(
                    tid,
                    completed=rec.cost if by_cost else rec.iteration,
                    loss=f"{rec.loss:.4g}",
                    g=f"{rec.grad_norm:.2g}",
                )

            runs[m] = train(
                task,
                m,
                iters=iters,
                lr=args.lr if m != "newton-cg" else None,
                max_cost=budget,
                radius=args.radius,
                damping=args.damping,
                cg_maxiter=args.cg_maxiter,
                allow_nonsmooth_kernel=args.allow_nonsmooth_kernel,
                callback=cb,
            )
            if args.method == "all" and m == "newton-cg" and budget is None:
                budget = runs[m].result.history[-1].cost
    status = 0
    out = Path(args.out)
    for m in methods:
        r = runs[m]
        s = r.summary()
        stem = f"{task.name}_{m}"
        write_log(r, out / f"{stem}.csv", getattr(args, "argv", None))
        write_log(r, out / f"{stem}.json", getattr(args, "argv", None))
        lr = (
            f", lr {s['lr']:.4g}"
            + (f" (1/lambda_max, lambda_max {s['lambda_max0']:.4g})" if s["lambda_max0"] else "")
            if s["lr"]
            else ""
        )
        print(
            f"{m:>9}: loss {s['initial_loss']:.4g} -> {s['final_loss']:.4g}, |g| {s['final_grad_norm']:.2g}, "
            f"{s['iterations']} iterations, {s['n_grad']} gradients + {s['n_hvp']} HVPs = {s['cost']} "
            f"evaluations, {s['seconds']:.2f} s{lr}; stop: {s['stop']}; log {out / stem}.csv"
        )
        if r.result.stop.startswith("diverged") or not np.isfinite(s["final_loss"]):
            status = 1
    if args.report:
        tex, pdf = training_report(args.report, seed=args.seed, argv=getattr(args, "argv", None))
        print(f"report: {pdf or tex}", file=sys.stderr)
    return status
