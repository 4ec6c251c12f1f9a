"""`derivcheck` command line: a thin dispatcher. Each verb lives in its own module as
`add_arguments(parser)` and `run(args) -> int`; tests call those functions directly.

Only the verb on the command line is imported, and only its options (`add_arguments`, in light modules:
derivcheck/<verb>/args.py) until it runs: torch, SymPy, matplotlib ... load in `run` (`_runner`). So
`derivcheck --help`, `derivcheck VERB --help` and a usage error answer at once (tests/derivcheck/test_cli.py
checks that none of them imports torch, SymPy or matplotlib).

Exit codes (every verb): 0 all checks hold, 1 a check failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import re
import sys
from typing import NoReturn

from derivcheck import interrupts

__all__ = ["main", "VERBS", "build_parser", "DESCRIPTION", "OneLineParser", "error_text"]

DESCRIPTION = """\
Check derivatives of spatially embedded networks (every weight is a kernel of
the distance between two nodes, w_ij = g(|z_i - z_j|)) against an exact ground
truth: SymPy derives the loss, gradients and Hessians and evaluates them at 50
digits; derivcheck judges engines, your gradient code, formulas and worked
numbers against it and explains every disagreement."""

EPILOG = """\
exit status: 0 every check holds, 1 a check failed (with its counterexample and
the command that reproduces it), 2 bad input (one line naming the problem and
the fix), 130 interrupted. 'derivcheck VERB --help' lists a verb's options."""

# verb -> (module, one-line help)
VERBS = {
    "verify": ("derivcheck.verify", "run the verification matrix and write results.json"),
    "report": ("derivcheck.report", "render LaTeX/PDF derivation and verification reports"),
    "audit-kernel": ("derivcheck.audit", "audit a kernel g(r) for coordinate training"),
    "claims": ("derivcheck.claims", "check formula and worked-number claims files"),
    "train": ("derivcheck.train", "train node coordinates (gd, adam, newton-cg)"),
    "bench": ("derivcheck.bench.cli", "measure the performance targets and write bench/results.json"),
    "check-grad": ("derivcheck.checkgrad", "judge your own gradient function against the exact ground truth"),
}


# verbs whose SymPy work user input can make expensive: each takes --budget SECONDS (derive.step_limits).
# train's --budget counts HVP evaluations; its SymPy steps (compiling the kernel) keep the default.
SYMPY_VERBS = ("verify", "report", "audit-kernel", "claims", "check-grad")
# verbs whose run time the counts and sizes on the command line set: each takes --max-seconds (derivcheck.guard)
GUARDED_VERBS = ("verify", "audit-kernel", "claims", "train", "check-grad")
# verb -> its output options besides --json: (attribute, is a folder); proven writable before any work
OUTPUTS = {
    "verify": (("out", False),),
    "bench": (("out", False),),
    "report": (("out", True),),
    "train": (("out", True), ("report", True)),
    "audit-kernel": (("report", True),),
    "claims": (("errata", True),),
}


class OneLineParser(argparse.ArgumentParser):
    """argparse's parser whose usage errors are one line, like every other error of the project:
    "derivcheck VERB: error: MESSAGE (did you mean X?); see derivcheck VERB --help", exit 2 (argparse
    prints the whole usage block first, a dozen lines the reader must skip)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, error_text(f"{self.prog}: error: {message}{did_you_mean(self, message)}; see {self.prog} --help") + "\n")


def error_text(line: str, stream=None) -> str:
    """An error line as printed on `stream` (default stderr): whole on a pipe or in a log (one line to grep),
    folded at spaces to the terminal's width on a terminal (some run past 250 characters), its
    continuation lines indented."""
    stream = sys.stderr if stream is None else stream
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    if not tty:
        return line
    import shutil
    import textwrap

    width = shutil.get_terminal_size((80, 24)).columns
    return "\n".join(textwrap.wrap(line, width, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False))


def did_you_mean(parser: argparse.ArgumentParser, message: str) -> str:
    """The hint " (did you mean --seed?)": the closest option to an unrecognized one, or the closest choice to
    an invalid one (difflib); "" when nothing is close."""
    if message.startswith("unrecognized arguments: "):
        # argparse keeps the option strings on its actions; no public accessor exists
        known = [s for a in parser._actions for s in a.option_strings]
        words = [w.split("=")[0] for w in message.split(": ", 1)[1].split() if w.startswith("-")]
    elif m := re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message):
        known, words = re.findall(r"'([^']*)'", m.group(2)), [m.group(1)]
    else:
        return ""
    # options are matched without their dashes: "--" in both made --only look like --penalty (ratio 0.67)
    bare = {k.lstrip("-"): k for k in known}
    for word in words:
        close = difflib.get_close_matches(word.lstrip("-"), list(bare), n=1)
        if close:
            return f" (did you mean {bare[close[0]]}?)"
    return ""


def _verb_of(argv: list[str]) -> str | None:
    """The verb on the command line (the first word that names one), or None."""
    return next((a for a in argv if a in VERBS), None)


def build_parser(verb: str | None = None) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser and one subparser per verb; only `verb`'s module is imported and given options."""
    from derivcheck import __version__

    # exit_on_error=False: a malformed value of a network flag comes back to _dispatch as an
    # ArgumentError, printed as the project's one-line error; every other usage error is one line too
    # (OneLineParser, which the verbs' subparsers inherit)
    parser = OneLineParser(
        prog="derivcheck",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        exit_on_error=False,
    )
    parser.add_argument("--version", action="version", version=f"derivcheck {__version__}")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    subs: dict[str, argparse.ArgumentParser] = {}
    for name, (module, helptext) in VERBS.items():
        p = subs[name] = sub.add_parser(name, help=helptext, description=helptext, exit_on_error=False)
        if name != verb:
            continue
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            p.set_defaults(_missing=module)
            continue
        mod.add_arguments(p)
        if name in SYMPY_VERBS:
            p.add_argument(
                "--budget",
                type=float,
                default=None,
                metavar="SECONDS",
                help="seconds one SymPy step (simplify, limit, series ...) may take before it "
                "is reported undecided or a slower labelled path is used (default 4)",
            )
        if name in GUARDED_VERBS:
            p.add_argument(
                "--max-seconds",
                type=float,
                default=None,
                metavar="SECONDS",
                help="refuse a run estimated to take longer (default 1800; derivcheck.guard)",
            )
        p.set_defaults(_run=_runner(module))
    return parser, subs


def check_outputs(verb: str, args: argparse.Namespace) -> None:
    """Every output option given (--out, --json, --report, --errata) proven writable before any work
    (derivcheck.provenance.check_writable): a run must not end by losing its results."""
    from derivcheck.provenance import check_writable

    for option, folder in (*OUTPUTS.get(verb, ()), ("json", False)):
        value = getattr(args, option, None)
        if value is not None and not (option == "json" and str(value) == "-"):
            check_writable(value, f"--{option}", folder=folder)


def _runner(module: str):
    """The verb's `run`, imported when it runs (not while the arguments are parsed: `derivcheck VERB --help`
    and a usage error answer without torch or SymPy). Looked up on the module at each call."""

    def run(args: argparse.Namespace) -> int:
        with interrupts.deferred():  # the heavy imports (torch's C++ extension) finish before a Ctrl-C lands
            _hypothesis_home()
            verb_run = importlib.import_module(module).run
        return verb_run(args)

    return run


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    with interrupts.handled():
        return _dispatch(argv)


def _hypothesis_home() -> None:
    """Hypothesis keeps caches (its "constants" folder) under ./.hypothesis by default: a CLI run would
    litter whatever folder the user stands in. Runs keep them in the user's cache folder instead
    ($XDG_CACHE_HOME/derivcheck/hypothesis, default ~/.cache/derivcheck/hypothesis). Example
    databases are off in every search the verbs run (each case comes from the printed seed)."""
    from pathlib import Path

    from hypothesis.configuration import set_hypothesis_home_dir

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "derivcheck" / "hypothesis"
    set_hypothesis_home_dir(cache)


def _dispatch(argv: list[str]) -> int:
    try:
        verb = _verb_of(argv)
        with interrupts.deferred():  # imports only the verb's options (the engines load in _runner)
            parser, subs = build_parser(verb)
        if verb is not None:  # a formula such as '-2*tanh(r)' is a value, not an unknown option
            from derivcheck.netspec import formula_argv

            i = argv.index(verb) + 1
            argv = argv[:i] + formula_argv(argv[i:], subs[verb])
        try:
            args, extra = parser.parse_known_args(argv)
        except argparse.ArgumentError as err:
            from derivcheck.netspec import NET_FLAGS

            if err.argument_name is not None and set(err.argument_name.split("/")) & set(NET_FLAGS):
                print(error_text(f"derivcheck {verb}: error: {err}"), file=sys.stderr)
                return 2
            (subs[verb] if verb else parser).error(str(err))
        if extra:  # argparse would name the top-level parser; the verb's own --help says more
            subs[args.verb].error(f"unrecognized arguments: {' '.join(extra)}")
        if getattr(args, "_missing", None):
            print(f"derivcheck: '{args.verb}' is not available in this build ({args._missing} missing)", file=sys.stderr)
            return 2
        if verb in SYMPY_VERBS and getattr(args, "budget", None) is not None:
            from derive.step_limits import set_step_budget

            set_step_budget(args.budget)  # a SpecError (one line, exit 2) unless 0 < SECONDS < inf
        if verb in GUARDED_VERBS:
            from derivcheck.guard import set_max_seconds

            set_max_seconds(getattr(args, "max_seconds", None))
        if verb is not None:
            check_outputs(verb, args)
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        interrupts.seen()  # first: the retry timer must not raise a second KeyboardInterrupt while we print
        print(
            f"derivcheck {_verb_of(argv) or ''}: interrupted; nothing half-written was left behind".replace(" :", ":"),
            file=sys.stderr,
        )
        return 130
    except BrokenPipeError:
        # the reader went away (`derivcheck ... | head`): stop quietly, as a command killed by SIGPIPE
        # would (141), not 1 ("a check failed"); later writes, and the exit's flush, go nowhere
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:
        # the project's one-line errors; anything else is a bug and keeps its traceback
        from derivcheck.latex import LatexError
        from derive import SpecError

        if isinstance(exc, SpecError | LatexError):
            print(error_text(f"derivcheck {_verb_of(argv)}: error: {exc}"), file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
