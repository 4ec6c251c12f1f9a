"""Figures of the training report: loss/gradient curves against cost, the net's layout (3-D),
and the Hessian spectrum with the rigid-motion modes marked. PNGs written atomically."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from derivcheck.provenance import atomic_write_bytes
from derivcheck.train.methods import TrainRun
from derivcheck.train.tasks import Task
from derive import Params
from numeric import optim

__all__ = ["COLORS", "save_png", "curves_figure", "layout_figure", "spectrum_figure"]


def save_png(fig, path: Path) -> Path:
    """Write a matplotlib figure as PNG atomically; returns the path."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=130)
    return atomic_write_bytes(path, buf.getvalue())


COLORS = {"gd": "tab:blue", "adam": "tab:orange", "newton-cg": "tab:green"}


def curves_figure(runs: dict[str, TrainRun], path: Path, title: str) -> Path:
    """Loss and gradient norm of every run against cost (HVP-equivalent evaluations), log scale."""
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
    out = save_png(fig, path)
    plt.close(fig)
    return out


def layout_figure(task: Task, views: list[tuple[str, Params]], path: Path) -> Path:
    """The nodes in 3-D for each (title, params) view, edges shaded by their weight g(r)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from mpl_toolkits.mplot3d.art3d import Line3DCollection

    from numeric.manual import forward

    net = task.net
    fig = plt.figure(figsize=(4.2 * len(views), 4.2))
    cmap = plt.get_cmap("viridis")
    if net.dim == 2:  # a planar net is drawn in the plane, not on a dummy third axis
        return _layout_2d(fig, task, views, path)
    for k, (title, params) in enumerate(views):
        ax = fig.add_subplot(1, len(views), k + 1, projection="3d")
        Z = [np.asarray(z) for z in params.Z or []]
        Zp = [np.pad(z, ((0, 0), (0, max(0, 3 - net.dim))))[:, :3] for z in Z]
        W = forward(net, params, task.X[:1], task.Y[:1]).W
        wmax = max(float(np.max(w)) for w in W[1:])
        for l in range(1, net.L):
            segs, colors = _edges(Zp, W, wmax, l)
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
    out = save_png(fig, path)
    plt.close(fig)
    return out


def _edges(Z: list[np.ndarray], W: list[np.ndarray], wmax: float, l: int) -> tuple[list, np.ndarray]:
    """The edges of layer l + 1 (0-based l) as segments z^l_i - z^(l-1)_j, black with an opacity that grows
    with the weight W_ij / max W (both layout figures, 2-D and 3-D)."""
    segs = [(Z[l][i], Z[l - 1][j]) for i in range(Z[l].shape[0]) for j in range(Z[l - 1].shape[0])]
    alpha = (W[l] / wmax).reshape(-1) if wmax > 0 else np.zeros(len(segs))
    colors = np.zeros((len(segs), 4))
    colors[:, 3] = 0.05 + 0.75 * np.clip(alpha, 0, 1)
    return segs, colors


def _layout_2d(fig, task: Task, views: list[tuple[str, Params]], path: Path) -> Path:
    """`layout_figure` for D = 2: plain axes with equal scales."""
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    from numeric.manual import forward

    net = task.net
    cmap = plt.get_cmap("viridis")
    for k, (title, params) in enumerate(views):
        ax = fig.add_subplot(1, len(views), k + 1)
        Z = [np.asarray(z) for z in params.Z or []]
        W = forward(net, params, task.X[:1], task.Y[:1]).W
        wmax = max(float(np.max(w)) for w in W[1:])
        for l in range(1, net.L):
            segs, colors = _edges(Z, W, wmax, l)
            ax.add_collection(LineCollection(segs, colors=colors, linewidths=0.8))
        for l, z in enumerate(Z):
            ax.scatter(z[:, 0], z[:, 1], color=cmap(l / max(net.L - 1, 1)), s=28, zorder=3, label=f"layer {l + 1}")
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_xlabel("$z_1$", fontsize=7)
        ax.set_ylabel("$z_2$", fontsize=7)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=6)
        if k == 0:
            ax.legend(fontsize=6, loc="upper left")
    fig.tight_layout()
    out = save_png(fig, path)
    plt.close(fig)
    return out


def spectrum_figure(run_: TrainRun, path: Path) -> tuple[Path, dict]:
    """Eigenvalues of the Hessian at the run's end point, rigid-motion modes (overlap > 1/2) marked.

    Returns:
        (figure path, the spectrum facts the report prints).
    """
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
    out = save_png(fig, path)
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
