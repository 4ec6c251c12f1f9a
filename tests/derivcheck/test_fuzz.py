"""Fuzzing the command line in-process (derivcheck.cli.main): hypothesis-drawn kernel strings, claims
TOML files and arrays. The contract (issue 14): a verdict (exit 0/1) or one line (exit 2), no
traceback, no file but the one asked for, and no hang (each run is in a supervised child killed at a
time bound, derive.step_limits.run_limited; a run that hits it fails the test)."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from derive.step_limits import Timeout, run_limited
from tests.hostile import BASE_CLAIMS, assert_verdict_or_one_line

SECONDS = 40.0  # a run taking longer is a hang (the audit's own SymPy budget is set to 1 s below)
FUZZ = settings(max_examples=8, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
FUZZ_FAST = settings(FUZZ, max_examples=40)  # claims files answer in milliseconds


def _run(argv, allowed=frozenset()):
    with tempfile.TemporaryDirectory() as tmp:
        return _bounded(argv, Path(tmp), set(allowed))


def _bounded(argv, cwd: Path, allowed: set):
    """The run in a child killed after SECONDS; the SymPy steps inside it keep their own limits (nest)."""
    try:
        return run_limited(lambda: assert_verdict_or_one_line(argv, cwd, allowed=allowed), seconds=SECONDS, nest=True)
    except Timeout:
        pytest.fail(f"no answer within {SECONDS} s: {argv}")


# ------------------------------------------------------------------------------------------------- kernels
ATOMS = st.sampled_from(["r", "s", "2", "0.5", "1e12", "1e-12", "1e300", "pi", "E", "-1", "r**2", "x", "", "1/0"])
FUNCS = st.sampled_from(["exp", "sin", "cos", "sqrt", "log", "tanh", "abs", "sinh", "cbrt", "gamma", "__import__"])
OPS = st.sampled_from(["+", "-", "*", "/", "**", "<", ",", "(", ")"])


@st.composite
def kernel_strings(draw):
    """Formulas from a small grammar (mostly valid), with junk and deep nesting mixed in."""

    def term(depth):
        if depth == 0 or draw(st.booleans()):
            return draw(ATOMS)
        kind = draw(st.integers(0, 3))
        if kind == 0:
            return f"{draw(FUNCS)}({term(depth - 1)})"
        if kind == 1:
            return f"({term(depth - 1)}{draw(OPS)}{term(depth - 1)})"
        if kind == 2:
            return f"where(r < {draw(ATOMS)}, {term(depth - 1)}, {term(depth - 1)})"
        return "exp(" * draw(st.integers(1, 14)) + "-r" + ")" * draw(st.integers(0, 14))

    return term(3)


@FUZZ
@given(kernel_strings(), st.sampled_from(["s=0.5", "s=1e-5", "s=1e300", "s=-1", "r=1", "s=nan"]))
def test_fuzz_kernel_strings(formula, param):
    _run(["audit-kernel", formula, "--param", param, "--examples", "1", "--budget", "1"])


# ---------------------------------------------------------------------------------------------- TOML files
VALUES = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.booleans(),
    st.lists(st.integers(-3, 3), max_size=3),
    st.sampled_from(['"1e400"', '"7_0"', '"\uff17"', "[[[]]]", "{a = 1}", '"leaky_relu(alpha=1e999)"']),
)
KEYS = st.sampled_from(
    [
        "widths",
        "layer",
        "index",
        "value",
        "tolerance",
        "learning_rate",
        "input_layer",
        "dim",
        "kernel",
        "kernel_params",
        "loss",
        "activations",
        "x",
        "y",
        "weights",
        "biases",
        "quantity",
        "rounding_allowance",
        "bogus",
    ]
)


def _toml(v) -> str:
    if isinstance(v, str) and (v.startswith(('"', "[", "{"))):
        return v  # already TOML
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return str(v).replace("'", '"') if isinstance(v, list) else str(v)


@FUZZ_FAST
@given(
    st.lists(st.tuples(st.sampled_from(["[document]", "[network]", "[data]", "[[claim]]"]), KEYS, VALUES), min_size=1, max_size=3)
)
def test_fuzz_claims_toml(edits):
    text = BASE_CLAIMS
    for table, key, value in edits:
        line = f"{key} = {_toml(value)}"
        # replace the key where the table has it, else add it to the table
        start = text.find(table)
        if start < 0:
            text += f"\n{table}\n{line}\n"
            continue
        head = text.find("\n", start) + 1
        nxt = text.find("\n[", head)
        body = text[head : nxt if nxt >= 0 else len(text)]
        lines = [ln for ln in body.splitlines() if not ln.startswith(f"{key} =")] + [line]
        text = text[:head] + "\n".join(lines) + "\n" + (text[nxt:] if nxt >= 0 else "")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.toml"
        path.write_text(text)
        _bounded(["claims", str(path)], Path(tmp), {"c.toml"})


# -------------------------------------------------------------------------------------------------- arrays
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64), st.sampled_from([1e154, 1e-160, 1e-170, 1e300, -1e308, 5e-324, 0.0])
)


@FUZZ_FAST
@given(
    st.lists(NUMBERS, min_size=1, max_size=3), st.lists(NUMBERS, min_size=1, max_size=3), st.lists(NUMBERS, min_size=1, max_size=2)
)
def test_fuzz_arrays_through_claims(x, w, y):
    """Arrays reach the engines through a claims file's x, y and weights (widths [len(x), 1])."""
    rows = lambda v: "[[" + ", ".join(_toml(t) for t in v) + "]]"  # noqa: E731
    text = BASE_CLAIMS.replace("widths = [1, 1]", f"widths = [{len(x)}, 1]")
    text = text.replace("weights = [[[3.0]]]", f"weights = [[{rows(w)[1:-1]}]]")
    text = text.replace("x = [[2.0]]", f"x = {rows(x)}").replace("y = [[1.0]]", f"y = {rows(y[:1])}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "c.toml"
        path.write_text(text)
        _bounded(["claims", str(path)], Path(tmp), {"c.toml"})
