"""`derivcheck report`'s options (`add_arguments`), apart from the command (`derivcheck.report.cli`) so that
parsing them, ``--help`` and a usage error import neither SymPy, matplotlib nor jinja2."""

from __future__ import annotations

import argparse

from derivcheck.netspec import add_net_arguments

__all__ = ["add_arguments", "REPORTS", "parse_which"]

REPORTS = ("derivation", "verification", "errata", "training")


def parse_which(text: str) -> str:
    """--which: a comma-separated subset of `REPORTS`; an unknown name is argparse's "invalid choice" (so
    the usage error suggests the closest name: derivcheck.cli.did_you_mean)."""
    for w in (w.strip() for w in text.split(",")):
        if w and w not in REPORTS:
            raise argparse.ArgumentTypeError(f"invalid choice: {w!r} (choose from {', '.join(map(repr, REPORTS))})")
    return text


def add_arguments(p) -> None:
    p.add_argument("--results", default="reports/build/results.json", help="results.json from derivcheck verify")
    p.add_argument("--out", default="reports/build", help="output folder for .tex and .pdf")
    p.add_argument(
        "--bench", default="bench/results.json", help="bench results (make bench) for the verification report's performance section"
    )
    p.add_argument(
        "--which", default="derivation,verification", type=parse_which, help=f"comma-separated subset of {','.join(REPORTS)}"
    )
    p.add_argument("--no-pdf", action="store_true", help="write the .tex only")
    add_net_arguments(p)  # derivation and training reports of the user's network
    p.add_argument(
        "--no-proof",
        action="store_true",
        help="derivation: skip the symbolic proof of the coordinate-gradient formula (its slowest "
        "step: seconds for widths 2-2-1, about a minute for 3-5-2)",
    )
