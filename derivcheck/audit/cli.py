"""`derivcheck audit-kernel EXPR`: the command line (arguments, output, exit codes).

Exit codes: 0 no check fails (warnings allowed; ``--strict`` makes a warning fail), 1 a check fails,
2 bad input (a `derive.SpecError`, printed on one line by the CLI).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from derive import KERNELS, SpecError

from ..provenance import atomic_write_json, provenance
from ..tables import add_json_argument, write_json
from .core import audit
from .report import print_table, to_json, write_report

__all__ = ["parse_params", "add_arguments", "run"]


def parse_params(items) -> dict[str, float]:
    """["s=0.5", ...] -> {"s": 0.5}; a malformed item is a SpecError."""
    out: dict[str, float] = {}
    for item in items or ():
        name, eq, value = str(item).partition("=")
        name = name.strip()
        if not eq or not name.isidentifier() or "_" in name:
            raise SpecError(f"bad --param {item!r}", "write --param NAME=VALUE, e.g. --param s=0.5")
        try:
            out[name] = float(value)
        except ValueError:
            raise SpecError(
                f"--param {name} has value {value.strip()!r}, not a number", "write e.g. --param s=0.5"
            ) from None
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "kernel", help=f"library name ({', '.join(KERNELS)}) or a formula in r, e.g. 'exp(-r**2/s**2)'"
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a kernel parameter value (repeatable), e.g. --param s=0.5",
    )
    add_json_argument(parser, "the audit (checks, verdicts, evidence)")
    parser.add_argument("--strict", action="store_true", help="a warning fails too (exit 1)")
    parser.add_argument(
        "--report", metavar="OUTDIR", help="write a LaTeX audit report (PDF when TeX is present)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    parser.add_argument("--examples", type=int, default=25, help="hypothesis examples for engines_agree")


def run(args: argparse.Namespace) -> int:
    a = audit(args.kernel, parse_params(args.param), seed=args.seed, examples=args.examples)
    if args.json is not None:
        write_json(args.json, to_json(a))
    if args.json != "-":
        print_table(a)
    if args.report:
        out = Path(args.report)
        atomic_write_json(out / "audit.json", {**to_json(a), "provenance": provenance(args.seed)})
        tex, pdf = write_report(a, out, argv=getattr(args, "argv", None))
        print(f"report: {pdf or tex}", file=sys.stderr)
    if a.verdict == "fail" or (args.strict and a.verdict == "warn"):
        return 1
    return 0
