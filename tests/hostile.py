"""Shared by the hostile-input tests: run a CLI command in-process and judge its outcome.

The contract of issue 14: every input gets a verdict (exit 0/1) or one line (exit 2), never a
traceback, a hang or a file nobody asked for.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

from derivcheck import cli

BASE_CLAIMS = """\
[document]
id = "hostile"
title = "one sigmoid neuron"

[network]
kind = "mlp"
widths = [1, 1]
activations = ["sigmoid"]
loss = "sse_half"
input_layer = 1
weights = [[[3.0]]]
biases = [[1.0]]

[data]
x = [[2.0]]
y = [[1.0]]

[[claim]]
id = "z"
quantity = "z"
layer = 2
value = "7"

[[claim]]
id = "loss"
quantity = "loss"
value = "4.16e-7"
"""


def run_cli(argv: list[str], cwd: Path) -> tuple[int, str, str, set[str]]:
    """(exit code, stdout, stderr, files created in `cwd`) of `derivcheck ARGV` run in-process."""
    before = set(os.listdir(cwd))
    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(argv)
            except SystemExit as exc:  # argparse usage errors
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        os.chdir(old)
    return code, out.getvalue(), err.getvalue(), set(os.listdir(cwd)) - before


def assert_verdict_or_one_line(argv: list[str], cwd: Path, *, allowed: set[str] = frozenset()) -> tuple[int, str]:
    """Run `argv`; assert exit 0/1/2, no traceback, one error line on exit 2, no stray files.
    Returns (exit code, stderr)."""
    code, out, err, new = run_cli(argv, cwd)
    assert code in (0, 1, 2), (argv, code, err[-500:])
    assert "Traceback" not in out + err, (argv, err[-2000:])
    if code == 2:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        verb = argv[0]
        errs = [ln for ln in lines if ln.startswith(f"derivcheck {verb}: error:")]
        assert len(errs) == 1, (argv, err[-1000:])
        assert lines[-1] == errs[0], (argv, err[-1000:])
    assert new <= set(allowed), (argv, new)
    return code, err
