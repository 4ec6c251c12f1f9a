"""The README's figures, generated from a run (issue 24): ``make readme``.

README.md marks every figure it states as a region, inline or on lines of its own::

    <!-- figures:NAME -->...<!-- /figures -->

and this script rewrites the inside of each region (atomically: a temp file, then a rename). Two kinds:

- code regions: what the code computes at once (the verification matrix and its counts, the audits'
  checks, the default number of drawn cases, the run-time guard's model and what it refuses); rendered
  afresh on every call and checked by tests/derivcheck/test_readme_figures.py.
- run regions: what a run measured (wall times of the commands `make verify` runs, of check-grad on the
  examples, of --help and a usage error; cases, checks and exit statuses; a progress line), with the
  machine and date, from the run's JSON (scripts/readme_figures.json, committed beside this script).

Usage (from the repository root, in the project's venv):

    python scripts/readme_figures.py            # run and time the commands (2-3 minutes), write the JSON,
                                                # rewrite README.md
    python scripts/readme_figures.py --suite    # the same, and time the test suite (make test's pytest)
    python scripts/readme_figures.py --render   # rewrite README.md from the stored JSON (no run)
    python scripts/readme_figures.py --check    # exit 1 when README.md is not what --render writes

A figure outside every region (a wall time typed by hand, "360 cases") fails the test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
JSON = REPO / "scripts" / "readme_figures.json"
SCHEMA = "derivcheck.readme-figures/1"

REGION = re.compile(r"<!-- figures:([a-z0-9-]+) -->(.*?)<!-- /figures -->", re.S)
OPEN_OR_CLOSE = re.compile(r"<!-- (?:figures:[a-z0-9-]+|/figures) -->")

#: figures the README may state only inside a region: times (a number and a unit of time), speed-ups
#: (3x, 3-5x; a target "<= 1.15x" is a requirement, not a figure), counts of cases, checks and nets, and
#: a product of counts (6 x 7 x 8 = 336); also time in words ("a minute or more")
FIGURE = re.compile(
    r"(?<![\w.^/])\d+(?:\.\d+)?(?:e[-+]?\d+)?(?:\s?(?:ms|µs|us)\b|\s(?:s|h|min|minutes?|seconds?|hours?|days?|years?)\b(?![\^*(\]]))"
    r"|(?<!<= )(?<![\w.])\d+(?:\.\d+)?(?:-\d+(?:\.\d+)?)?x(?=[\s),.;:]|$)"
    r"|\b\d+ (?:seeded |drawn |hypothesis-drawn )?(?:cases|checks|nets|draws)\b"
    r"|\b\d+(?: x \d+)+ = \d+"
    r"|\b(?:a|one|two|few) (?:minutes?|seconds?|hours?)\b(?: or more)?",
    re.I,
)


# ---------------------------------------------------------------------------------------------- regions


class RegionError(ValueError):
    """README.md's markers do not match the regions this script renders."""


def regions(text: str) -> dict[str, str]:
    """name -> inside of each region of `text`; unbalanced or repeated markers are a RegionError."""
    found: dict[str, str] = {}
    for m in REGION.finditer(text):
        if OPEN_OR_CLOSE.search(m.group(2)):
            raise RegionError(f"region {m.group(1)!r} holds another marker (regions do not nest)")
        if m.group(1) in found:
            raise RegionError(f"region {m.group(1)!r} appears twice")
        found[m.group(1)] = m.group(2)
    markers = len(OPEN_OR_CLOSE.findall(text))
    if markers != 2 * len(found):
        raise RegionError(f"{markers} figure markers for {len(found)} regions: an opening or closing marker is unpaired")
    return found


def outside(text: str) -> str:
    """`text` with every region's inside removed (what a hand wrote)."""
    return REGION.sub("<!-- region -->", text)


def rewrite(text: str, rendered: dict[str, str]) -> str:
    """`text` with each region's inside replaced by `rendered[name]`; every region of the text must be
    rendered and every rendered one must be in the text."""
    have = regions(text)
    if set(have) != set(rendered):
        missing, unknown = sorted(set(rendered) - set(have)), sorted(set(have) - set(rendered))
        raise RegionError(f"README regions differ: missing {missing}, unknown {unknown}")
    return REGION.sub(lambda m: f"<!-- figures:{m.group(1)} -->{rendered[m.group(1)]}<!-- /figures -->", text)


def figures_outside(text: str) -> list[str]:
    """The figures of `text` that no region holds, each with its line."""
    out = []
    for line in outside(text).splitlines():
        out += [f"{m.group(0)!r} in: {line.strip()}" for m in FIGURE.finditer(line)]
    return out


# ------------------------------------------------------------------------------------------ code figures


def _estimate(widths: tuple[int, ...], cases: int) -> str:
    """The guard's estimate for `verify --widths W --cases N` (the words of its refusal)."""
    from derivcheck.guard import check_verify
    from derive import SpecError

    try:
        seconds = check_verify(widths, 3, cases)
    except SpecError as exc:
        m = re.search(r"estimated at (.+?), over", str(exc))
        assert m, exc
        return m.group(1)
    raise AssertionError(f"the guard accepts verify --widths {widths} --cases {cases} ({seconds:.0f} s)")


def _secs(seconds: float) -> str:
    return f"{seconds:.2g} s" if seconds < 1 else f"{seconds:.0f} s"


def code_figures() -> dict[str, object]:
    """The figures the code computes at once (no command is run)."""
    import argparse as ap

    from derivcheck import guard
    from derivcheck.audit.penalty import PENALTY_CHECKS
    from derivcheck.audit.registry import CHECKS
    from derivcheck.checkgrad.args import add_arguments as checkgrad_arguments
    from derivcheck.verify import cases as verify_cases
    from derivcheck.verify.args import CASES, DRAWN, DRAWN_QUICK

    def default(add, flag: str):
        p = ap.ArgumentParser()
        add(p)
        return next(a.default for a in p._actions if flag in a.option_strings)

    return {
        "kernels": len(verify_cases.KERNELS),
        "activations": len(verify_cases.ACTS),
        "losses": len(verify_cases.LOSS_SPECS),
        "matrix": len(verify_cases.matrix_cases(0)),
        "matrix_quick": len(verify_cases.matrix_cases(0, quick=True)),
        "drawn": DRAWN,
        "drawn_quick": DRAWN_QUICK,
        "kernel_checks": len(CHECKS),
        "penalty_checks": len(PENALTY_CHECKS),
        "verify_cases": CASES,
        "checkgrad_cases": default(checkgrad_arguments, "--cases"),
        "verify_4882": guard.case_seconds("verify", (4, 8, 8, 2)),
        "verify_16": guard.case_seconds("verify", (16, 32, 32, 8)),
        "checkgrad_4882": guard.case_seconds("check-grad", (4, 8, 8, 2)),
        "checkgrad_16": guard.case_seconds("check-grad", (16, 32, 32, 8)),
        "train_eval": guard.TRAIN_EVAL,
        "budget_s": guard.MAX_SECONDS,
        "refuse_cases": _estimate((3, 4, 2), 1_000_000_000),
        "refuse_wide": _estimate((3000, 3000), 20),
        "refuse_deep": _estimate((2,) * 500, 20),
    }


def render_code(c: dict) -> dict[str, str]:
    """The code regions' insides."""
    full, quick = c["matrix"] + c["drawn"], c["matrix_quick"] + c["drawn_quick"]
    budget = c["budget_s"] / 60
    return {
        "matrix": f"({c['kernels']} x {c['activations']} x {c['losses']} = {c['matrix']} nets) + {c['drawn']} "
        f"hypothesis-drawn nets ({full} cases; `--quick`: {c['matrix_quick']} + {c['drawn_quick']} = {quick})",
        "kernel-checks": f"{c['kernel_checks']} checks",
        "penalty-checks": f"{c['penalty_checks']} checks",
        "verify-cases": f"`--cases` ({c['verify_cases']})",
        "checkgrad-cases": f"{c['checkgrad_cases']} seeded draws",
        "guard": f"the model now gives verify {_secs(c['verify_4882'])} per case at widths 4,8,8,2 and "
        f"{_secs(c['verify_16'])} at 16,32,32,8, check-grad {_secs(c['checkgrad_4882'])} and "
        f"{_secs(c['checkgrad_16'])} at the same widths, train {c['train_eval']:g} s per weight and example per evaluation); "
        f"a run estimated over {budget:g} minutes is one line with the estimate and the flag "
        "(`--max-seconds SECONDS` on verify, check-grad, train, claims, audit-kernel): "
        f"`verify --widths 3,4,2 --cases 1000000000` ({c['refuse_cases']}), `--widths 3000,3000` "
        f"({c['refuse_wide']}) or 500 layers of width 2 ({c['refuse_deep']})",
    }


# ------------------------------------------------------------------------------------------- run figures

MAKE_VERIFY = ["verify"]  # make verify: derivcheck verify --out reports/build/results.json, then the reports
REPORTS = ["report", "--which", "derivation,verification,errata,training"]
GRAD = ["check-grad", "examples/my_grad.py:grad", "--net", "examples/my_net.toml"]
GRAD_BUGGY = ["check-grad", "examples/my_grad.py:grad_buggy", "--net", "examples/my_net.toml"]
# check-grad on the nets people train (the bench's checkgrad section runs the same command)
GRAD_SIZES = [
    ["check-grad", "examples/my_grad.py:grad", "--widths", w, "--dim", "2", "--kernel", "exp(-r**2/s**2)"]
    + ["--param", "s=0.7", "--cases", "25"]
    for w in ("64,64,10", "256,128,10", "784,128,10")
]
SUITE = ["pytest", "-q", "-n", "2", "-p", "no:cacheprovider", "-p", "no:benchmark", "--hypothesis-profile=ci"]


def _derivcheck() -> str:
    exe = Path(sys.executable).parent / "derivcheck"
    if not exe.exists():
        sys.exit("readme_figures: no derivcheck console script beside this Python; run it in the project's venv")
    return str(exe)


def _run(argv: list[str], shown: list[str], cwd: Path, extra: Sequence[str] = ()) -> tuple[dict, subprocess.CompletedProcess]:
    """Run `derivcheck ARGV EXTRA` piped with COLUMNS=80 and time it (start-up included)."""
    env = {**os.environ, "COLUMNS": "80"}
    for k in ("FORCE_COLOR", "CLICOLOR_FORCE"):
        env.pop(k, None)
    t0 = time.perf_counter()
    proc = subprocess.run([_derivcheck(), *argv, *extra], cwd=cwd, env=env, capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - t0
    print(f"  {wall:7.2f} s  exit {proc.returncode}  derivcheck {shlex.join(shown)}", file=sys.stderr)
    return {"command": "derivcheck " + shlex.join(shown), "exit": proc.returncode, "wall_s": round(wall, 3)}, proc


def _repeat(argv: list[str], cwd: Path, n: int = 5) -> dict:
    runs = [_run(argv, argv, cwd)[0] for _ in range(n)]
    walls = [r["wall_s"] for r in runs]
    return {**runs[0], "exit": max(r["exit"] for r in runs), "wall_s": statistics.median(walls), "max_s": max(walls), "runs": n}


def _seconds(progress_line: str) -> float:
    """The seconds a claims progress line ends with ('... 2 false (3.8 s)')."""
    m = re.search(r"\(([\d.]+) s\)$", progress_line)
    return float(m.group(1)) if m else 0.0


def _summary(path: Path) -> dict:
    doc = json.loads(path.read_text())
    s = doc["summary"]
    return {**{k: s[k] for k in ("cases", "checks", "failures", "wall_time_s")}, "cuda": doc["provenance"]["machine"].get("cuda")}


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
    except (OSError, AttributeError):
        return None
    return round(kb / 2**20, 1)


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def machine() -> dict:
    from derivcheck.provenance import versions

    v = versions()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "uncommitted": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "platform": platform.platform(),
        "cpu": _cpu(),
        "cpus": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "python": v["python"],
        "torch": v["torch"],
        "numpy": v["numpy"],
        "sympy": v["sympy"],
        "load_start": round(os.getloadavg()[0], 2),
    }


def measure(suite: bool, previous: dict | None) -> dict:
    """Run and time the commands; the run's JSON."""
    run: dict = {"schema": SCHEMA, "machine": machine(), "rows": {}}
    rows = run["rows"]
    with tempfile.TemporaryDirectory(prefix="readme-figures-") as tmp:
        work = Path(tmp)
        rows["help"] = _repeat(["verify", "--help"], work)
        rows["usage"] = _repeat(["report", "--which", "derivaton"], work)
        results = work / "results.json"
        rows["verify"], _ = _run(MAKE_VERIFY, MAKE_VERIFY, work, ["--out", str(results)])
        rows["verify"].update(_summary(results))
        rows["reports"], proc = _run(REPORTS, REPORTS, work, ["--results", str(results), "--out", str(work)])
        rows["reports"]["pdfs"] = sorted(p.name for p in work.glob("*.pdf") if p.stem in REPORTS[2].split(","))
        progress = [ln for ln in proc.stderr.splitlines() if re.match(r"claims \d+/\d+: ", ln)]
        rows["reports"]["claims_lines"] = progress
        if not progress:
            sys.exit(f"readme_figures: the errata report printed no claims progress lines:\n{proc.stderr[-2000:]}")
        rows["reports"]["claims_s"] = round(sum(_seconds(ln) for ln in progress), 1)
        quick = work / "quick.json"
        rows["quick"], _ = _run(["verify", "--quick"], ["verify", "--quick"], work, ["--out", str(quick)])
        rows["quick"].update(_summary(quick))
        for name, argv in (("grad", GRAD), ("grad_buggy", GRAD_BUGGY)):
            rows[name], proc = _run(argv, argv, REPO)
            m = re.search(r"^(\d+) cases, seed", proc.stdout, re.M)
            rows[name]["cases"] = int(m.group(1)) if m else None
            unfolded = proc.stdout.replace("\n    ", " ")  # the report's lines, their folding at 80 columns undone
            said = [ln.removeprefix("diagnosis: ") for ln in unfolded.splitlines() if ln.startswith("diagnosis: ")]
            rows[name]["diagnosis"] = said[0] if said else None
        rows["sizes"] = []
        for argv in GRAD_SIZES:
            row, proc = _run(argv, argv, REPO)
            m = re.search(r"^(\d+) cases, seed", proc.stdout, re.M)
            rows["sizes"].append({**row, "cases": int(m.group(1)) if m else None})
    if suite:
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", *SUITE], cwd=REPO, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
        rows["suite"] = {
            "command": "make test",
            "exit": proc.returncode,
            "wall_s": round(wall, 1),
            "summary": tail,
            "date": run["machine"]["date"],
        }
    elif previous and "suite" in previous.get("rows", {}):
        rows["suite"] = previous["rows"]["suite"]  # kept with its own date
    run["machine"]["load_end"] = round(os.getloadavg()[0], 2)
    return run


def _t(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 1 else f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"


def render_run(run: dict) -> dict[str, str]:
    """The run regions' insides, from the run's JSON."""
    m, r = run["machine"], run["rows"]
    mem = f", {m['memory_gib']:g} GiB" if m.get("memory_gib") else ""
    dirty = " (with uncommitted changes)" if m.get("uncommitted") else ""
    head = (
        f"Measured by `make readme` (`scripts/readme_figures.py`, the run's JSON in `scripts/readme_figures.json`) "
        f"on {m['date']} at commit {m['commit']}{dirty}: {m['platform']}, {m['cpu']}, {m['cpus']} CPUs{mem}, "
        f"CUDA: {r['verify'].get('cuda') or 'none'}; "
        f"Python {m['python']}, torch {m['torch']}, NumPy {m['numpy']}, SymPy {m['sympy']}; load average "
        f"{m['load_start']:g} at the start and {m['load_end']:g} at the end (a machine shared with other work). "
        "Each time is the whole command's wall time, start-up included, piped with `COLUMNS=80`; the outputs "
        "went to a temporary folder."
    )

    def outcome(row: dict, text: str) -> str:
        return f"exit {row['exit']}: {text}" if text else f"exit {row['exit']}"

    v, q, rep, g, gb = r["verify"], r["quick"], r["reports"], r["grad"], r["grad_buggy"]

    def counted(row: dict) -> str:
        return f"{row['cases']} cases, {row['checks']} checks, {row['failures']} failures"

    reports = f"{len(rep['pdfs'])} PDFs; the errata runs the claims catalog, {_t(rep['claims_s'])} of it"
    buggy = f"a counterexample, diagnosed: {str(gb['diagnosis']).split(': ')[0]}"  # the mistake's name
    lines = [
        "",
        *textwrap.wrap(head, 110, break_on_hyphens=False, break_long_words=False),
        "",
        "| command | outcome | wall time |",
        "|---|---|---|",
        f"| `{r['help']['command']}` | {outcome(r['help'], '')} | {_t(r['help']['wall_s'])} "
        f"(median of {r['help']['runs']}, at most {_t(r['help']['max_s'])}) |",
        f"| `{r['usage']['command']}` (a usage error) | {outcome(r['usage'], 'one line')} | "
        f"{_t(r['usage']['wall_s'])} (median of {r['usage']['runs']}) |",
        f"| `{v['command']}` (the matrix; `make verify`'s first step) | {outcome(v, counted(v))} | {_t(v['wall_s'])} |",
        f"| `{rep['command']}` (the rest of `make verify`) | {outcome(rep, reports)} | {_t(rep['wall_s'])} |",
        f"| `{q['command']}` | {outcome(q, counted(q))} | {_t(q['wall_s'])} |",
        f"| `{g['command']}` | {outcome(g, str(g['cases']) + ' cases agree')} | {_t(g['wall_s'])} |",
        f"| `{gb['command']}` | {outcome(gb, buggy)} | {_t(gb['wall_s'])} |",
    ]
    for row in r.get("sizes", []):  # check-grad on the nets people train
        agreed = f"{row['cases']} cases agree" if row["exit"] == 0 else ""
        lines.append(f"| `{row['command']}` | {outcome(row, agreed)} | {_t(row['wall_s'])} |")
    s = r.get("suite")
    if s:
        lines.append(f"| `make test` (measured {s['date']}) | {outcome(s, s['summary'])} | {_t(s['wall_s'])} |")
    else:
        lines.append("| `make test` | not timed by this run (`python scripts/readme_figures.py --suite` times it) | - |")
    example = next((ln for ln in rep["claims_lines"] if "coordinate_note_000" in ln), rep["claims_lines"][0])
    return {"run": "\n".join(lines) + "\n", "claims-progress": f"`{example}`"}


# ---------------------------------------------------------------------------------------------- command


def render(run: dict) -> dict[str, str]:
    return {**render_code(code_figures()), **render_run(run)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="scripts/readme_figures.py", description=__doc__.split("\n\n")[0])
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--render", action="store_true", help="rewrite README.md from the stored JSON (no run)")
    mode.add_argument("--check", action="store_true", help="exit 1 when README.md is not what --render writes")
    p.add_argument("--suite", action="store_true", help="also time the test suite (make test's pytest command)")
    args = p.parse_args(argv)
    from derivcheck.provenance import atomic_write_text

    previous = json.loads(JSON.read_text()) if JSON.exists() else None
    text = README.read_text()
    if args.render or args.check:
        if previous is None:
            print(f"readme_figures: no {JSON.relative_to(REPO)}; run without --render first", file=sys.stderr)
            return 2
        new = rewrite(text, render(previous))
        if args.check:
            if new != text:
                print(
                    "readme_figures: README.md's figures differ from the code and the stored run; run make readme", file=sys.stderr
                )
                return 1
            return 0
    else:
        print("readme_figures: running the commands (2-3 minutes)", file=sys.stderr)
        run = measure(args.suite, previous)
        new = rewrite(text, render(run))  # before anything is written: a marker problem leaves both files alone
        atomic_write_text(JSON, json.dumps(run, indent=2) + "\n")
    leftover = figures_outside(new)
    if leftover:
        print("readme_figures: figures outside every region (put them in one):\n  " + "\n  ".join(leftover), file=sys.stderr)
    if new != text:
        atomic_write_text(README, new)
    print(f"readme_figures: {README.relative_to(REPO)} {'rewritten' if new != text else 'unchanged'}", file=sys.stderr)
    return 1 if leftover else 0


if __name__ == "__main__":
    sys.exit(main())
