"""The training report: Newton-CG, then GD and Adam on its budget, per task, with the trajectory
checks (descent, centroid drift), the sharpness path lambda_max along GD, the figures, and
``training.json`` holding every number the report prints."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from derivcheck.latex import number
from derivcheck.provenance import atomic_write_json, provenance, versions
from derivcheck.report.nets import COLUMNS as NET_COLUMNS
from derivcheck.report.nets import net_row, parse_describe
from derivcheck.train.figures import curves_figure, layout_figure, spectrum_figure
from derivcheck.train.methods import TrainRun, compare
from derivcheck.train.tasks import TASKS, Task, make_task
from numeric import optim

__all__ = ["trajectory_checks", "sharpness_path", "training_report"]


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


def sharpness_path(run_: TrainRun, samples: int = 12, seed: int = 0) -> list[tuple[int, float]]:
    """(iteration, lambda_max) at `samples` evenly spaced iterates of a run kept with its trajectory
    (Lanczos on the manual HVP): the premise of the descent lemma is eta < 2 / lambda_max
    along the path, not only at the start."""
    traj = run_.result.trajectory or [run_.result.x]
    problem, _ = optim.net_problem(run_.task.net, run_.task.params0, run_.task.X, run_.task.Y)
    idx = sorted({int(round(i)) for i in np.linspace(0, len(traj) - 1, min(samples, len(traj)))})
    return [(i, optim.top_eigenvalue(partial(problem.hvp, traj[i]), problem.n, seed=seed)) for i in idx]


def _fmt(v, spec=".3g") -> str:
    """A number for the LaTeX report, typeset as a number (never "6.1e-17" in maths mode)."""
    return number(v, spec)


def training_report(
    out_dir: str | Path,
    *,
    seed: int = 0,
    newton_iters: int = 40,
    tasks=TASKS,
    compile: bool = True,
    argv: list[str] | None = None,
    task: Task | None = None,
) -> tuple[Path, Path | None]:
    """Build the training report: for each task, Newton-CG for `newton_iters` iterations and GD and
    Adam on the same budget; loss curves, the synthetic net's layout before/after (3-D), the Hessian
    spectrum at Newton-CG's end point with the rigid-motion modes marked, and the trajectory checks.

    Writes ``out_dir/training.tex`` (and .pdf when TeX is present), the figures, and
    ``out_dir/training.json`` (every number in the report). Returns (tex, pdf or None).
    With `task` (what ``train --report`` or ``report --net`` asked for) the report covers that task alone.
    """
    from derivcheck.latex import render

    out_dir = Path(out_dir)
    prov = provenance(seed, argv)
    record: dict[str, Any]
    sections, figures, record = [], [], {"provenance": prov, "tasks": {}}
    todo = [(task.name, task)] if task is not None else [(n, make_task(n, seed)) for n in tasks]
    for name, task in todo:  # noqa: B020 - `task` is read once above, before the loop rebinds it
        runs = compare(task, newton_iters=newton_iters, keep_trajectory=True)
        curves = curves_figure(runs, out_dir / f"training_{name}_curves.png", task.description)
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
        spec_fig, spec = spectrum_figure(nt, out_dir / f"training_{name}_spectrum.png")
        figures.append(spec_fig)
        layout = None
        if task.net.dim >= 2:
            views = [("start (student)", task.params0), ("after Newton-CG", nt.params)]
            if task.teacher is not None:
                views.append(("teacher (hidden)", task.teacher))
            layout = layout_figure(task, views, out_dir / f"training_{name}_layout.png")
            figures.append(layout)
        lam_path = sharpness_path(gd, samples=12, seed=seed)
        lam_end, lam_top = lam_path[-1][1], max(v for _, v in lam_path)
        sec = {
            "name": name,
            "description": task.description,
            "net": list(zip(NET_COLUMNS, net_row(parse_describe(task.net.describe()) or {}))),
            "dim": task.net.dim,
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
                k: (_fmt(v) if isinstance(v, float) else v.replace("lambda", "λ") if k == "summary" else v)
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
