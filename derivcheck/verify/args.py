"""`derivcheck verify`'s options (`add_arguments`), apart from the command (`derivcheck.verify.cli`) so that
parsing them, ``--help`` and a usage error import neither torch nor SymPy."""

from __future__ import annotations

from derivcheck.netspec import add_net_arguments
from derivcheck.tables import add_json_argument

__all__ = ["add_arguments", "CASES", "CHECK_NAMES", "DEFAULT_OUT", "DRAWN", "DRAWN_QUICK"]

DEFAULT_OUT = "reports/build/results.json"
DRAWN, DRAWN_QUICK = 24, 6  # hypothesis-drawn nets beside the library matrix (--drawn)
CASES = 20  # a network's drawn parameter sets (--cases; the matrix has none)
# derivcheck.verify.CHECKS, spelled out here (that tuple is built from numeric.engines, which loads torch);
# a test keeps the two equal
CHECK_NAMES = ("manual", "manual-f32", "torch-cpu", "torch-cuda", "fd", "taylor", "hvp")


def add_arguments(p) -> None:
    p.add_argument("--quick", action="store_true", help="a covering subset (under 60 s)")
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of every random case (printed, recorded); default: with --net, its [data] seed (as check-grad), else 0",
    )
    p.add_argument(
        "--out",
        default=None,
        help=f"results file, written atomically (default {DEFAULT_OUT}; with --only, reports/build/only-ID.json, "
        "so reproducing one case keeps the whole run's file)",
    )
    add_json_argument(p, "the results (the same document as --out)")
    p.add_argument(
        "--engines",
        default=",".join(CHECK_NAMES),
        help=f"comma-separated subset of {','.join(CHECK_NAMES)} (the symbolic ground truth always runs)",
    )
    p.add_argument(
        "--drawn", type=int, default=None, help=f"number of hypothesis-drawn nets (default {DRAWN}, quick {DRAWN_QUICK})"
    )
    p.add_argument("--only", default=None, help="run only the case with this id (as printed for a failure)")
    p.add_argument(
        "--cases",
        type=int,
        default=None,
        help=f"with a network (--net or flags): drawn parameter sets, plus the adversarial ones (default {CASES})",
    )
    add_net_arguments(p)
