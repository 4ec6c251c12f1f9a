"""`derivcheck` command line: a thin dispatcher. Each verb lives in its own module as
`add_arguments(parser)` and `run(args) -> int`; tests call those functions directly.

Exit codes (every verb): 0 all checks hold, 1 a check failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from derive import SpecError

__all__ = ["main", "VERBS"]

# verb -> (module, one-line help)
VERBS = {
    "verify": ("derivcheck.verify", "run the verification matrix and write results.json"),
    "report": ("derivcheck.report", "render LaTeX/PDF derivation and verification reports"),
    "audit-kernel": ("derivcheck.audit", "audit a kernel g(r) for coordinate training"),
    "claims": ("derivcheck.claims", "check formula and worked-number claims files"),
    "train": ("derivcheck.train", "train node coordinates (gd, adam, newton-cg)"),
    "check-grad": ("derivcheck.checkgrad", "judge your own gradient function against the exact ground truth"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="derivcheck", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    for verb, (module, helptext) in VERBS.items():
        p = sub.add_parser(verb, help=helptext)
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            p.set_defaults(_missing=module)
            continue
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_missing", None):
        print(f"derivcheck: '{args.verb}' is not available in this build ({args._missing} missing)", file=sys.stderr)
        return 2
    try:
        return int(args._run(args) or 0)
    except SpecError as exc:
        print(f"derivcheck {args.verb}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"derivcheck {args.verb}: interrupted; nothing half-written was left behind", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
