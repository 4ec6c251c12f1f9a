"""`derivcheck train`: train the node coordinates (and biases) of a spatial net, with evidence.

Three methods from `numeric.optim` on one objective (gradients by the manual engine, eq. (8);
Hessian-vector products by the manual R-operator, numeric/hvp.py):

    gd          the note's rule (eq. 10-11) Z <- Z - eta dL/dZ; eta defaults to 1 / lambda_max(H(Z_0)),
                half the descent-lemma limit 2 / lambda_max, lambda_max by Lanczos (scipy eigsh) on H v
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

Modules (one job each):
    tasks      the built-in tasks (`Task`, `synthetic_task`, `diabetes_task`, `make_task`)
    methods    one run (`train`), three methods on one budget (`compare`), the kernel refusal, auto step
    logs       per-iteration CSV/JSON logs (`write_log`)
    figures    the report's curves, layout and spectrum figures
    report     `training_report` and the trajectory checks it prints
    cli        `add_arguments` / `run(args)` of the `derivcheck train` verb
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from derive.lazy import lazy_names

if TYPE_CHECKING:
    from derivcheck.train.args import add_arguments
    from derivcheck.train.cli import run
    from derivcheck.train.logs import write_log
    from derivcheck.train.methods import (
        ADAM_LR,
        DEFAULT_ITERS,
        METHODS,
        TrainRun,
        auto_lr,
        check_kernel,
        compare,
        penalty_warnings,
        train,
    )
    from derivcheck.train.report import sharpness_path, training_report, trajectory_checks
    from derivcheck.train.tasks import TASKS, Task, diabetes_task, make_task, synthetic_task

__all__ = [
    "TASKS",
    "METHODS",
    "DEFAULT_ITERS",
    "ADAM_LR",
    "Task",
    "TrainRun",
    "synthetic_task",
    "diabetes_task",
    "make_task",
    "check_kernel",
    "penalty_warnings",
    "auto_lr",
    "train",
    "compare",
    "write_log",
    "trajectory_checks",
    "sharpness_path",
    "training_report",
    "add_arguments",
    "run",
]

# loaded on first use: the command line parses train's options (.args) without torch or SymPy
_LAZY = {
    "add_arguments": "args",
    "run": "cli",
    "write_log": "logs",
    "ADAM_LR": "methods",
    "DEFAULT_ITERS": "methods",
    "METHODS": "methods",
    "TrainRun": "methods",
    "auto_lr": "methods",
    "check_kernel": "methods",
    "compare": "methods",
    "penalty_warnings": "methods",
    "train": "methods",
    "sharpness_path": "report",
    "training_report": "report",
    "trajectory_checks": "report",
    "TASKS": "tasks",
    "Task": "tasks",
    "diabetes_task": "tasks",
    "make_task": "tasks",
    "synthetic_task": "tasks",
}


__getattr__ = lazy_names(__name__, _LAZY)
