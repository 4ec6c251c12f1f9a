"""`derivcheck train`'s options (`add_arguments`), apart from the command (`derivcheck.train.cli`) so that
parsing them, ``--help`` and a usage error import neither torch nor SymPy."""

from __future__ import annotations

import argparse

from derivcheck.netspec import add_net_arguments

__all__ = ["add_arguments", "TASK_NAMES", "METHOD_NAMES"]

# derivcheck.train.TASKS and METHODS (their modules load NumPy, SymPy and the engines); a test keeps them equal
TASK_NAMES = ("synthetic", "diabetes")
METHOD_NAMES = ("gd", "adam", "newton-cg")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The verb's options: task, method, budget and step settings, kernel and net, outputs."""
    parser.add_argument("--task", choices=TASK_NAMES, default="synthetic", help="training task (default synthetic)")
    parser.add_argument(
        "--method",
        choices=(*METHOD_NAMES, "all"),
        default="newton-cg",
        help="optimiser; 'all' runs Newton-CG then GD and Adam on its budget (default newton-cg)",
    )
    parser.add_argument("--iters", type=int, help="outer iterations (default gd/adam 300, newton-cg 40)")
    parser.add_argument("--budget", type=int, help="stop at this many HVP-equivalent evaluations")
    parser.add_argument("--lr", type=float, help="gd/adam step (gd default 1/lambda_max at the start, adam 0.03)")
    parser.add_argument("--radius", type=float, default=1.0, help="Newton-CG initial trust radius")
    parser.add_argument("--damping", type=float, default=0.0, help="Newton-CG damping added to H (>= 0)")
    parser.add_argument("--cg-maxiter", type=int, default=30, help="HVPs per inner CG solve (default 30)")
    parser.add_argument(
        "--seed", type=int, default=None, help="seed of the data and the start (default: the --net file's [data] seed, else 0)"
    )
    add_net_arguments(parser)  # default network: widths 4,8,8,2 (diabetes 10,8,1), D 3, gaussian, tanh, mse
    parser.add_argument(
        "--no-backtrack",
        action="store_true",
        help="gd: plain steps of size --lr (default: Armijo backtracking halves a step that does not lower the loss)",
    )
    parser.add_argument(
        "--allow-nonsmooth-kernel",
        action="store_true",
        help="train with a kernel whose g'(0) != 0 (no gradient where nodes coincide)",
    )
    parser.add_argument("--out", default="reports/build/train", help="folder of the CSV/JSON logs")
    parser.add_argument(
        "--report", metavar="OUTDIR", help="also build the training report of this task and network (the three methods)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        default=None,
        help="train on the torch engine on this device (default: the manual engine on the host)",
    )
