"""`derivcheck verify`: the verification matrix.

Every library kernel x activation x loss on small nets, plus seeded hypothesis-drawn nets, through
every engine: symbolic ground truth (50 digits), manual (float64 and float32), torch CPU, torch CUDA
when present, central finite differences and the Taylor test; first order and H v. Writes
`results.json` atomically (schema in README).

With a network (``--net FILE`` or the network flags of `derivcheck.netspec`) the cases are that network's
instead: ``--cases`` drawn parameter sets and the adversarial ones (`derivcheck.verify.usernet`), judged the same way.

Where each part lives (the package face, derivcheck/verify/__init__.py, exports them): derivcheck/verify/cases.py (the
cases), derivcheck/verify/checks.py (`run_case`, the checks), derivcheck/verify/summary.py (the summary
and its table), derivcheck/verify/args.py (`add_arguments`); this module holds the command (`run`).
"""

from __future__ import annotations

import re
import shlex
import time
from pathlib import Path

from derivcheck.netspec import net_from_args, net_given
from derivcheck.provenance import atomic_write_json, check_out_path, provenance
from derivcheck.verify.args import CASES, DEFAULT_OUT, DRAWN, DRAWN_QUICK
from derivcheck.verify.cases import case_spec, drawn_cases, matrix_cases
from derivcheck.verify.checks import CHECKS, run_case
from derivcheck.verify.summary import never_checked, summarise, summary_table
from derive import SpecError
from derive.symbolic.balls import Undecided
from numeric.engines import ENGINES as ENGINE_TABLE
from numeric.validate import check_net_memory

__all__ = ["run", "SCHEMA"]

SCHEMA = "derivcheck.results/1"


def default_out(only: str | None) -> str:
    """Where results go without --out: one case (--only, a printed reproduce command) has its own file;
    it replaced the whole run's results.json, so the next `report` described one case."""
    if not only:
        return DEFAULT_OUT
    return f"reports/build/only-{re.sub(r'[^A-Za-z0-9._-]', '_', only)}.json"


def _n(count: int, noun: str) -> str:
    """'1 case', '14 cases'."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _argv(args) -> list[str]:
    """The command line that reproduces this run (also when called from Python, not the shell)."""
    argv = ["verify", "--seed", str(args.seed), "--engines", args.engines, "--out", str(args.out)]
    if args.quick:
        argv.append("--quick")
    if args.drawn is not None:
        argv += ["--drawn", str(args.drawn)]
    if args.only:
        argv += ["--only", args.only]
    if net_given(args):
        argv += [*shlex.split(net_from_args(args).flags), "--cases", str(args.cases)]
    return argv


def run(args) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

    from derivcheck.tables import console as tables_console
    from derivcheck.tables import progress, show, wrap_lines

    console = tables_console(stderr=True)
    engines = tuple(e.strip() for e in args.engines.split(",") if e.strip())
    unknown = [e for e in engines if e not in CHECKS]
    if unknown:
        raise SpecError(f"unknown engine {unknown[0]!r}", f"use a comma-separated subset of {','.join(CHECKS)}")
    if args.out is None:
        args.out = default_out(args.only)
    check_out_path(args.out, "--out")
    if not engines:
        raise SpecError("no engine selected (--engines is empty)", f"use a comma-separated subset of {','.join(CHECKS)}")
    # No verdict without evidence: an engine that cannot run here is "not run" in every summary, and a
    # run in which nothing is compared with the ground truth is refused before it starts.
    not_run = {}
    for name in (n for n in ENGINE_TABLE if n in engines):
        ok, why = ENGINE_TABLE[name].available()
        if not ok:
            not_run[name] = why
    compared = [e for e in engines if e not in not_run and e != "taylor"]
    if not compared:
        what = ", ".join(f"{e} ({not_run[e]})" if e in not_run else e for e in engines)
        raise SpecError(
            f"--engines {args.engines!r} compares nothing with the ground truth here: {what}",
            "add an engine that runs on this machine, e.g. --engines manual,torch-cpu",
        )
    drawn = args.drawn if args.drawn is not None else (DRAWN_QUICK if args.quick else DRAWN)
    if drawn < 0:
        raise SpecError(f"--drawn {drawn} is negative", "use a count >= 0")
    t0 = time.perf_counter()
    user = net_from_args(args) if net_given(args) else None
    if user is None and getattr(args, "cases", None) is not None:  # it was ignored: the whole matrix ran
        raise SpecError(
            "--cases counts a network's drawn cases (--net or network flags); the library matrix takes no --cases",
            "drop --cases, give a network (--net FILE or --widths ...), or set the matrix's drawn nets with --drawn N",
        )
    if user is not None and getattr(args, "cases", None) is None:
        args.cases = CASES
    if args.seed is None:  # the spec's [data] seed, as check-grad takes it (0 without a spec file)
        args.seed = user.data.seed if user is not None else 0
    if args.seed < 0:
        raise SpecError(f"seed {args.seed} is negative", "use a seed >= 0")
    from derivcheck.guard import check_verify  # counts, sizes and time budget, before any case is drawn

    if user is not None:  # memory first: of the two budgets it names the size that does not fit
        check_net_memory(user.net, user.data.batch)  # refused in one line before any case is drawn
    check_verify(user.net.widths if user else None, user.data.batch if user else 3, args.cases, 0 if user else drawn)
    if user is not None:
        from derivcheck.verify.usernet import net_cases

        if args.quick or args.drawn is not None:
            raise SpecError(
                "--quick and --drawn choose the library matrix, not a network's cases", "with --net or network flags give --cases N"
            )

        cases = net_cases(user, args.seed, args.cases)
    else:
        cases = matrix_cases(args.seed, args.quick) + drawn_cases(args.seed, drawn)
    if args.only:
        cases = [c for c in cases if c.id == args.only]
        if not cases:
            raise SpecError(f"no case {args.only!r} for seed {args.seed}", "copy the id from a failure line")
    from derivcheck.report.derivation import net_subtitle, net_words  # nets in words, as every verb names them
    from derivcheck.report.nets import parse_describe

    def say(text: str, red: int = 0) -> None:
        """Folded at spaces to the terminal (80 columns piped) with no trailing blanks, a reproduce line whole."""
        from rich.text import Text

        line = Text(wrap_lines(text))
        line.stylize("red", 0, red)
        console.print(line, soft_wrap=True, highlight=False)

    what = "" if user is None else f" of a net of {net_subtitle(user.net)}"
    say(f"derivcheck verify: {_n(len(cases), 'case')}{what}, seed {args.seed}, engines {','.join(engines)}")

    def reproduce(case_id: str) -> str:
        if user is not None:
            return f"derivcheck verify {user.flags} --cases {args.cases} --seed {args.seed} --only {case_id}"
        return f"derivcheck verify --seed {args.seed} --only {case_id}" + (" --quick" if args.quick else "")

    records = []
    with progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()) as bar:
        task = bar.add_task("verifying", total=len(cases))
        for case in cases:
            bar.update(task, description=f"{case.id} {net_subtitle(case.net)[:50]}")
            try:
                records.append(run_case(case, engines, reproduce=reproduce(case.id)))
            except Undecided as exc:  # no precision decides the exact value: the case is not judged, and said
                skipped = [f"every check: the ground truth is undecided ({exc.what} at {exc.dps} digits)"]
                records.append(_unjudged(case, skipped=skipped, passed=None, undecided=str(exc)))
            except SpecError as exc:
                failures = [{"engine": "input", "quantity": "-", "message": str(exc)}]
                records.append(_unjudged(case, passed=False, failures=failures))
            bar.advance(task)
    wall = time.perf_counter() - t0
    summary = summarise(records, engines)
    unchecked = never_checked(records, engines, not_run)
    undecided = [r["id"] for r in records if r.get("undecided")]
    if undecided:  # never a pass by silence: the cases no precision decided are named
        unchecked["cases"] = f"{len(undecided)} case(s) not judged, the ground truth undecided: {', '.join(undecided[:5])}"
    failures = []
    for r in records:
        for f in r["failures"]:
            failures.append({**f, "case": r["id"], "net": r["net"], "reproduce": reproduce(r["id"])})
    n_checks = sum(len(q) for r in records for q in r["errors"].values()) + sum(
        len(i) for r in records for i in r["identities"].values()
    )
    if n_checks == 0 and not failures:
        raise SpecError(
            f"no check ran ({len(records)} cases, engines {','.join(engines)}): no verdict without evidence",
            "choose engines and cases that apply, e.g. --engines manual",
        )
    result = {
        "schema": SCHEMA,
        "provenance": provenance(args.seed, _argv(args)),
        "summary": {
            "verdict": "pass" if not failures else "fail",
            "cases": len(records),
            "checks": n_checks,
            "failures": len(failures),
            "wall_time_s": round(wall, 2),
            "quick": bool(args.quick),
            "engines": [e for e in engines if e not in not_run],
            "not_run": {e: why for e, why in not_run.items()},
            "not_checked": unchecked,
        },
        **summary,
        "failures": failures,
        "cases": records,
    }
    out = atomic_write_json(Path(args.out), result)
    json_to = getattr(args, "json", None)  # run() is also called with a plain namespace
    if json_to is not None:
        from derivcheck.tables import write_json

        write_json(json_to, result)
    table = summary_table(summary["table"], args.seed)
    if json_to != "-":
        show(table)
    for f in failures:
        spec = parse_describe(f["net"])
        net = f"a net of {net_words(spec)}" if spec is not None else f["net"]
        say(f"FAIL {f['case']} on {net}: {f['message']}\n  reproduce: {f['reproduce']}", red=4)
    counts = f"{_n(len(records), 'case')}, {_n(n_checks, 'check')}, {_n(len(failures), 'failure')}"
    say(f"{counts} in {wall:.1f} s; seed {args.seed}; results in {out}")
    for e, why in not_run.items():
        say(f"not run: {e} ({why})")
    by_reason: dict[str, list[str]] = {}
    for e, why in unchecked.items():  # requested, but skipped on every case: no evidence either way
        by_reason.setdefault(why, []).append(e)
    for why, es in by_reason.items():
        say(f"never checked: {', '.join(es)} ({why})")
    return 0 if not failures else 1


def _unjudged(case, *, passed: bool | None, skipped: list | None = None, failures: list | None = None, **extra) -> dict:
    """The results.json record of a case no check ran on: its input refused (pass False, the reason as a
    failure) or its ground truth undecided (pass None, the reason as a skip)."""
    return {
        "id": case.id,
        "net": case.net.describe(),
        "spec": case_spec(case),
        "seed": case.seed,
        "errors": {},
        "identities": {},
        "skipped": skipped or [],
        "pass": passed,
        **extra,
        "failures": failures or [],
    }
