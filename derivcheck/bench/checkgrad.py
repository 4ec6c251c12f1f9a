"""Bench section "checkgrad" (issue 25, item 2): the command a user runs on the nets people train,

    derivcheck check-grad examples/my_grad.py:grad --widths W --dim 2 --kernel 'exp(-r**2/s**2)' \\
        --param s=0.7 --cases 25

in a fresh subprocess (start-up, the supervised child running the user's function, the drawn and
adversarial cases and the ball ground truth, derive.symbolic.layered, all included), its wall time
against the issue's targets (64,64,10 <= 5 s, 256,128,10 <= 20 s, 784,128,10 <= 60 s) and its peak
resident memory (the largest process of the run, the child included) against 1 GB."""

from __future__ import annotations

import subprocess
import sys
import time

from derivcheck.bench.config import BenchConfig
from derivcheck.bench.problems import REPO
from derivcheck.bench.targets import record

__all__ = ["bench_checkgrad", "checkgrad_command"]

#: peak resident memory of one check-grad run (bytes)
MEMORY_TARGET = 2**30

# runs the command and prints the largest resident set of its process tree (RUSAGE_CHILDREN: the
# largest descendant waited for, in KiB on Linux), so each size is measured in its own launcher
_LAUNCHER = (
    "import resource, subprocess, sys\n"
    "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode\n"
    "print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)\n"
)


def checkgrad_command(widths, cases: int) -> list[str]:
    """The check-grad command line timed for `widths` (the example gradient, gaussian kernel, D = 2)."""
    return [
        sys.executable,
        "-m",
        "derivcheck.cli",
        "check-grad",
        "examples/my_grad.py:grad",
        "--widths",
        ",".join(map(str, widths)),
        "--dim",
        "2",
        "--kernel",
        "exp(-r**2/s**2)",
        "--param",
        "s=0.7",
        "--cases",
        str(cases),
    ]


def bench_checkgrad(cfg: BenchConfig, log) -> tuple[list, dict]:
    """Wall time and peak memory of check-grad at each of `cfg.checkgrad` ((widths, seconds target), ...)."""
    recs, raw = [], {}
    for widths, goal in cfg.checkgrad:
        key = "-".join(map(str, widths))
        cmd = checkgrad_command(widths, cfg.checkgrad_cases)
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", _LAUNCHER, *cmd],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=20 * goal,
        )
        wall = time.perf_counter() - t0
        try:
            rc, peak = (int(v) for v in out.stdout.split())
        except ValueError:
            rc, peak = -1, 0
        log(f"checkgrad {key}: {wall:.1f} s, peak {peak / 2**30:.2f} GiB, exit {rc}")
        raw[key] = {"wall_s": wall, "peak_bytes": peak, "exit": rc, "command": " ".join(cmd[2:])}
        error = None if rc == 0 else f"exit {rc}: {out.stderr.strip()[-200:]}"
        details = {"peak_gib": peak / 2**30, "cases": float(cfg.checkgrad_cases)} | ({"error": error} if error else {})
        recs.append(
            record(
                f"checkgrad.wall.w{key}",
                f"wall time of check-grad on widths {key} (D = 2, {cfg.checkgrad_cases} cases), start-up included",
                wall,
                "s",
                float(goal),
                rc == 0 and wall <= goal,
                **details,
            )
        )
        recs.append(
            record(
                f"checkgrad.memory.w{key}",
                "peak resident memory of that check-grad run (its child included)",
                peak / 2**30,
                "GiB",
                MEMORY_TARGET / 2**30,
                rc == 0 and 0 < peak <= MEMORY_TARGET,
                **({"error": error} if error else {}),
            )
        )
    return recs, raw
