"""`derivcheck check-grad`'s options (`add_arguments`), apart from the command (`derivcheck.checkgrad.cli`) so
that parsing them, ``--help`` and a usage error import neither torch nor SymPy."""

from __future__ import annotations

import argparse

from derivcheck.netspec import add_net_arguments
from derivcheck.worker import FN_TIMEOUT

__all__ = ["add_arguments"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", metavar="FILE.py:FUNC", help="the gradient function (or pkg.module:func)")
    add_net_arguments(p)
    p.add_argument("--cases", type=int, default=20, help="drawn cases (adversarial ones are added)")
    p.add_argument("--seed", type=int, default=None, help="seed of the draws (default: [data] seed, else 0)")
    p.add_argument("--torch", action="store_true", help="pass torch tensors instead of NumPy arrays")
    p.add_argument("--float32", action="store_true", help="pass float32 arrays; float32 tolerances")
    p.add_argument("--family", metavar="L=lo..hi,N=lo..hi", help="also check nets of these sizes (fn must be generic)")
    p.add_argument("--no-shrink", action="store_true", help="report the first counterexample as drawn")
    p.add_argument(
        "--fn-timeout",
        type=float,
        default=FN_TIMEOUT,
        metavar="SECONDS",
        help=f"longest one call of your function may take (default {FN_TIMEOUT:g}); it runs in a child process",
    )
