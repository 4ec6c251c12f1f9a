"""`derivcheck bench` command line: `add_arguments(parser)` and `run(args) -> int`, like every verb;
`main(argv)` serves the `python -m derivcheck.bench` alias.

Exit codes: 0 every target passed or was skipped (or a ``--quick`` smoke run), 1 a target failed,
2 bad input.
"""

from __future__ import annotations

import argparse
import sys

from derivcheck.bench.config import SECTIONS
from derive import SpecError

__all__ = ["add_arguments", "run", "main"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The verb's options: --out, --quick, --device, --seed, --only."""
    p.add_argument("--out", default="bench/results.json", help="results JSON (scaling.png goes beside it)")
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run, not a measurement")
    p.add_argument(
        "--device",
        default="cpu",
        choices=("cpu", "cuda"),
        help="cuda: also time the torch gradient and H v on the GPU against its floor (skipped without CUDA)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of every random problem timed (default 0)")
    p.add_argument(
        "--only",
        nargs="+",
        choices=SECTIONS,
        metavar="SECTION",
        help=f"run only these sections: {', '.join(SECTIONS)}",
    )


def run(args: argparse.Namespace) -> int:
    """Run the bench, print its table, write the JSON; the exit status is `exit_status`'s."""
    # imported here: `derivcheck bench --help` and a usage error load neither torch nor SymPy
    from derivcheck.bench.driver import run as run_bench
    from derivcheck.bench.targets import exit_status, table
    from derivcheck.tables import console as tables_console
    from derivcheck.tables import show

    console = tables_console()
    res = run_bench(
        args.out,
        args.quick,
        args.device,
        args.seed,
        argv=getattr(args, "argv", None),
        console=console,
        sections=tuple(args.only or SECTIONS),
    )
    show(table(res), con=console)  # ids and numbers stay whole at 80 columns
    console.print(f"wrote {args.out}")
    status = exit_status(res)
    if res["config"].get("quick"):
        console.print("a --quick run is a smoke test at tiny sizes: no target is judged (exit 0)")
    elif any(r["pass"] is False for r in res["targets"]):
        failed = ", ".join(r["id"] for r in res["targets"] if r["pass"] is False)
        console.print(f"failed targets: {failed} (exit 1)")
    return status


def main(argv: list[str] | None = None) -> int:
    """`python -m derivcheck.bench [ARGS]`: the same as `derivcheck bench [ARGS]`."""
    from derivcheck.cli import VERBS, OneLineParser

    parser = OneLineParser(prog="python -m derivcheck.bench", description=VERBS["bench"][1])  # what `derivcheck bench --help` says
    add_arguments(parser)
    args = parser.parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)
    try:
        return run(args)
    except SpecError as exc:
        print(f"derivcheck bench: error: {exc}", file=sys.stderr)
        return 2
