"""`derivcheck claims`'s options (`add_arguments`), apart from the command (`derivcheck.claims.cli`) so that
parsing them, ``--help`` and a usage error import neither torch nor SymPy."""

from __future__ import annotations

from pathlib import Path

from derivcheck.tables import add_json_argument

__all__ = ["add_arguments"]


def add_arguments(parser) -> None:
    parser.add_argument(
        "files",
        nargs="*",
        type=Path,
        help="claims files: .toml (worked numbers) or .py (formulas) (default: claims/* here, else the bundled catalog)",
    )
    parser.add_argument("--only", help="check only the claim with this id")
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed for formula searches (default 0)")
    parser.add_argument("--cases", type=int, default=60, help="networks drawn per formula claim (default 60)")
    parser.add_argument("--no-prove", action="store_true", help="skip the symbolic proofs")
    parser.add_argument("--errata", type=Path, metavar="OUTDIR", help="also build errata.tex/.pdf in OUTDIR")
    add_json_argument(parser, "the verdicts")
