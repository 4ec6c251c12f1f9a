"""`derivcheck audit-kernel`'s options (`add_arguments`), apart from the command (`derivcheck.audit.cli`) so
that parsing them, ``--help`` and a usage error import neither torch nor SymPy."""

from __future__ import annotations

import argparse

from derivcheck.netspec import add_net_arguments
from derivcheck.tables import add_json_argument

__all__ = ["add_arguments", "KERNEL_NAMES"]

# the library kernels (derive.KERNELS, which loads SymPy), named in --help; a test keeps the two equal
KERNEL_NAMES = ("gaussian", "exponential", "inverse_quadratic", "inverse_multiquadric", "wendland_c2", "cosine_cutoff")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "expr",
        nargs="?",
        metavar="kernel",
        help=f"library name ({', '.join(KERNEL_NAMES)}) or a formula in r, e.g. 'exp(-r**2/s**2)' "
        "(or --kernel, or the kernel of --net)",
    )
    add_net_arguments(parser)
    add_json_argument(parser, "the audit (checks, verdicts, evidence)")
    parser.add_argument("--strict", action="store_true", help="a warning fails too (exit 1)")
    parser.add_argument("--report", metavar="OUTDIR", help="write a LaTeX audit report (PDF when TeX is present)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    parser.add_argument("--examples", type=int, default=25, help="hypothesis examples for engines_agree")
