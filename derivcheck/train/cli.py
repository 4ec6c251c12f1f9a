"""`derivcheck train` command line: `run(args) -> int` (its options, `add_arguments`, are in derivcheck/train/args.py).

Exit codes: 0 trained, 1 diverged (non-finite loss), 2 bad input.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

import numpy as np

from derivcheck.netspec import net_from_args
from derivcheck.tables import progress, wrap_lines
from derivcheck.train.logs import write_log
from derivcheck.train.methods import DEFAULT_ITERS, METHODS, TrainRun, check_kernel, penalty_warnings, train
from derivcheck.train.report import training_report
from derivcheck.train.tasks import DIABETES_FIXED, make_task
from derive import SpecError
from numeric.validate import check_net_memory

__all__ = ["run"]


# the network train uses where neither --net nor a flag says otherwise (the synthetic task's student)
DEFAULTS = {
    "kind": "spatial",
    "widths": [4, 8, 8, 2],
    "dim": 3,
    "kernel": "gaussian",
    "hidden": "tanh",
    "loss": "mse",
    "bias": False,
}


#: coordinates beyond this magnitude square to over 1e300: their distances overflow float64
FAR = 1e150


def _far(x) -> float | None:
    """max |x| when the parameters left the range where distances are finite (or are NaN/inf), else None."""
    x = np.asarray(x, dtype=float)
    if x.size == 0:
        return None
    top = float(np.max(np.abs(x))) if np.all(np.isfinite(x)) else float("inf")
    return top if not top <= FAR else None


def _evaluations(args: argparse.Namespace) -> int:
    """Gradients and HVPs the run may take at most: Newton-CG an outer gradient and up to --cg-maxiter + 1
    HVPs per iteration, gd a gradient and a backtracking loss per step, adam one gradient; capped by --budget."""
    per = {"newton-cg": getattr(args, "cg_maxiter", 30) + 2, "gd": 2, "adam": 1}
    total = 0
    for m in METHODS if args.method == "all" else (args.method,):
        n = per[m] * (args.iters if args.iters is not None else DEFAULT_ITERS[m])
        total += min(n, args.budget) if args.budget is not None else n
    return total


def task_from_args(args: argparse.Namespace):
    """The task the flags ask for: --task with the user's network (--net and the network flags)."""
    if args.task == "diabetes" and args.widths is not None:
        raise SpecError(
            "--widths does not apply to --task diabetes (its net is 10 inputs, N hidden, 1 output)",
            "drop --widths, or set widths = [10, N, 1] in a --net file",
        )
    defaults = dict(DEFAULTS, widths=[10, 8, 1]) if args.task == "diabetes" else DEFAULTS
    spec = net_from_args(args, defaults=defaults)
    check_net_memory(spec.net)  # flags or --net file: what would not fit is refused before allocating
    from derivcheck.guard import check_train  # and what would not finish in the time budget

    data = data_given(args, spec)
    rows = 442 if args.task == "diabetes" else data.get("batch", 128)  # the tasks' examples (derivcheck.train.tasks)
    check_train(spec.net.widths, rows, _evaluations(args), f"train --method {args.method}")
    if not spec.net.spatial:
        raise SpecError("train moves node coordinates: the network must be spatial", 'use kind = "spatial"')
    if args.seed is None:  # --seed overrides the file's [data] seed; resolved here so logs and report record it
        args.seed = data.get("seed", 0)
        if args.seed < 0:
            raise SpecError(f"{args.net}: [data] seed = {args.seed} is negative", "write seed = 0 or another integer >= 0")
    unused = [k for k in data if k == "weight_range" or (args.task == "diabetes" and k in DIABETES_FIXED)]
    if unused:
        print(
            wrap_lines(
                f"note: [data] {', '.join(unused)} of {args.net} not used: "
                + ("train draws no weights (W = g(r))" if unused == ["weight_range"] else "the diabetes task's data are fixed")
            ),
            file=sys.stderr,
        )
    kw = {k: v for k, v in data.items() if k in ("batch", "input_range", "coordinate_range")}
    return make_task(args.task, args.seed, net=spec.net, **kw), spec


def data_given(args: argparse.Namespace, spec) -> dict:
    """The ``[data]`` keys the --net file sets, with their values (validated, from `spec.data`). The keys it
    leaves out stay the task's own (128 standard normal inputs): DataOptions' defaults are for drawing
    test cases (batch 3), not for training."""
    if not getattr(args, "net", None):
        return {}
    from derivcheck.netspec.read import PRESET, preset_path, read_toml

    given = str(args.net)
    table = read_toml(preset_path(given[len(PRESET) :]) if given.startswith(PRESET) else Path(given)).get("data", {})
    return {k: getattr(spec.data, k) for k in table} if isinstance(table, dict) else {}


def _progress(quiet: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

    return progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("loss {task.fields[loss]}  |g| {task.fields[g]}"),
        quiet=quiet,
    )


def _check_numbers(args: argparse.Namespace) -> None:
    """Every number on the command line in range, one line each (exit 2), before any work."""
    import math

    def need(ok: bool, flag: str, value, rule: str) -> None:
        if not ok:
            raise SpecError(f"{flag} {value!r} is out of range", f"pass {flag} {rule}")

    need(args.seed is None or args.seed >= 0, "--seed", args.seed, "with an integer >= 0")
    need(math.isfinite(args.radius) and args.radius > 0, "--radius", args.radius, "with a finite number > 0")
    need(math.isfinite(args.damping) and args.damping >= 0, "--damping", args.damping, "with a finite number >= 0")
    need(args.cg_maxiter >= 1, "--cg-maxiter", args.cg_maxiter, "with an integer >= 1")
    need(args.dim is None or args.dim >= 1, "--dim", args.dim, "with an integer >= 1")
    need(args.iters is None or args.iters >= 1, "--iters", args.iters, "with an integer >= 1")
    need(args.budget is None or args.budget >= 1, "--budget", args.budget, "with an integer >= 1 (HVP evaluations)")
    need(args.lr is None or (math.isfinite(args.lr) and args.lr > 0), "--lr", args.lr, "with a finite number > 0")


def run(args: argparse.Namespace) -> int:
    """Train with the chosen method(s), print one line per method, write the logs (and the report)."""
    _check_numbers(args)
    device = getattr(args, "device", None)
    if device == "cuda":  # before any output: a missing GPU is one line and exit 2
        import torch

        if not torch.cuda.is_available():
            raise SpecError(
                "--device cuda: torch.cuda is not available on this machine",
                "train with --device cpu (torch) or without --device (the manual engine)",
            )
    task, _ = task_from_args(args)
    from derivcheck.report.derivation import net_subtitle  # the net in words, as every verb names it

    # folded at spaces to the terminal (80 columns when piped), like every line of the verb
    print(
        wrap_lines(f"derivcheck train: task {task.name} ({task.description}); a net of {net_subtitle(task.net)}; seed {args.seed}")
    )
    why = check_kernel(task.net, args.allow_nonsmooth_kernel)
    if why:
        print(f"warning: {why} (--allow-nonsmooth-kernel given)", file=sys.stderr)
    for line in penalty_warnings(task.net):  # folded: the lines must fit 80 columns when piped
        print(textwrap.fill(f"warning: {line}", 79, subsequent_indent="  "), file=sys.stderr)
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

            with np.errstate(over="ignore", invalid="ignore"):  # a run leaving float64 is judged after it (_far)
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
                    backtrack=not args.no_backtrack,
                    device=device,
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
            f", lr {s['lr']:.4g}" + (f" (1/lambda_max, lambda_max {s['lambda_max0']:.4g})" if s["lambda_max0"] else "")
            if s["lr"]
            else ""
        )
        if s["settings"].get("backtracks"):
            lr += f", backtracked {s['settings']['backtracks']} times to {r.result.history[-1].rate:.3g}"
        print(
            wrap_lines(
                f"{m:>9}: loss {s['initial_loss']:.4g} -> {s['final_loss']:.4g}, |g| {s['final_grad_norm']:.2g}, "
                f"{s['iterations']} iterations, {s['n_grad']} gradients + {s['n_hvp']} HVPs = {s['cost']} "
                f"evaluations, {s['seconds']:.2f} s{lr}; stop: {s['stop']}; log {out / stem}.csv"
            )
        )
        ups = r.result.settings.get("loss_increases", 0)
        if ups:
            print(
                f"{m:>9}: warning: the loss increased at {ups} of {s['iterations']} steps"
                + (" (pass a smaller --lr)" if m != "newton-cg" else ""),
                file=sys.stderr,
            )
        far = _far(r.result.x)
        if far is not None:  # every distance overflowed: |g| = 0 there is no minimum
            print(
                f"{m:>9}: error: diverged: the coordinates left the range where distances are finite in float64 "
                f"(max |z| = {far:.3g} > {FAR:g}); pass a smaller --lr",
                file=sys.stderr,
            )
            status = 1
        elif r.result.stop.startswith("diverged") or not np.isfinite(s["final_loss"]):
            status = 1
        elif s["final_loss"] > s["initial_loss"]:
            print(
                f"{m:>9}: error: ended above its start ({s['initial_loss']:.4g} -> {s['final_loss']:.4g}); pass a smaller --lr",
                file=sys.stderr,
            )
            status = 1
    if args.report:
        tex, pdf = training_report(args.report, seed=args.seed, argv=getattr(args, "argv", None), task=task)
        print(f"report: {pdf or tex}", file=sys.stderr)
    return status
