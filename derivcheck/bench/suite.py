"""Bench section 6, suite time: wall time of `make test`'s pytest command and of `derivcheck verify
--quick`, each in a fresh subprocess from the repository root (full runs only)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from derivcheck.bench.config import BenchConfig
from derivcheck.bench.problems import REPO
from derivcheck.bench.targets import record

__all__ = ["SUITE_COMMANDS", "bench_suite"]


SUITE_COMMANDS = {
    # exactly what `make test` runs (Makefile), with the `ci` hypothesis profile
    "suite.make_test": (
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-n",
            "2",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:benchmark",
            "--hypothesis-profile=ci",
        ],
        600.0,
        "`make test` (pytest -n 2, hypothesis profile ci)",
    ),
    "suite.verify_quick": (
        [sys.executable, "-m", "derivcheck.cli", "verify", "--quick", "--out", "{tmp}/results.json"],
        60.0,
        "`derivcheck verify --quick`",
    ),
}


def bench_suite(cfg: BenchConfig, log) -> tuple[list, dict]:
    """Wall time of the test suite and of the quick verification, each in a fresh subprocess from the
    repository root (what a developer waits for on every change)."""
    import tempfile

    recs, raw = [], {}
    root = REPO
    for tid, (cmd, limit, what) in SUITE_COMMANDS.items():
        if not cfg.suite:
            recs.append(
                record(
                    tid,
                    f"wall time of {what}",
                    None,
                    "s",
                    limit,
                    None,
                    skipped="not run in quick/tiny configurations (the suite runs the bench's tests)",
                )
            )
            continue
        with tempfile.TemporaryDirectory() as tmp:
            argv = [a.replace("{tmp}", tmp) for a in cmd]
            env = {**os.environ, "HYPOTHESIS_PROFILE": "ci"}
            t0 = time.perf_counter()
            out = subprocess.run(argv, cwd=root, capture_output=True, text=True, env=env, timeout=3 * limit)
            wall = time.perf_counter() - t0
        lines = [ln for ln in out.stdout.splitlines() if ln.strip()]
        # pytest ends with "N passed in T s"; verify's summary line is the one naming its checks
        tail = next((ln for ln in reversed(lines) if " passed" in ln or " checks" in ln), lines[-1] if lines else "")
        log(f"{tid}: {wall:.1f} s, exit {out.returncode}: {tail}")
        ok = wall <= limit and out.returncode == 0
        recs.append(
            record(
                tid,
                f"wall time of {what}",
                wall,
                "s",
                limit,
                ok,
                exit_code=out.returncode,
                summary=tail,
                command=" ".join(argv[1:]),
            )
        )
        raw[tid] = {"wall_s": wall, "exit_code": out.returncode, "summary": tail}
    return recs, raw
