"""Hypothesis writes spec files (issue 22.5): [network], [[network.penalty]] and [data] tables with keys,
types and values drawn from what a user or an attacker writes (widths, dim, kernel formulas from a small
grammar, parameters 0, negative, 5e-324 .. 1e308, NaN and strings, losses, activations, penalties, junk
keys). The spec reader (derivcheck.netspec.load_net) answers each with a net, whose flags rebuild it, or
a one-line SpecError, never another exception; through the command line (a subprocess, a few examples)
with exit 0, 1 or 2, one line on stderr for 2, never a traceback."""

from __future__ import annotations

import math
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from derivcheck.netspec import load_net, net_flags
from derive import MLP, Net, SpecError
from tests.helpers import REPO

# ---- values ----------------------------------------------------------------------------------------------
NUMBERS = st.sampled_from([0, 1, 2, -1, 0.5, 0.7, -0.3, 1e-8, 1e8, 1e-300, 1e308, 5e-324, 1e154, 2**63, math.nan, math.inf])
HOSTILE = st.one_of(
    NUMBERS,
    st.booleans(),
    st.sampled_from(["", "1e3", "nan", "7", "\uff17", "r", "__import__('os')", "x" * 200]),
    st.lists(st.integers(-2, 4), max_size=3),
    st.just({"a": 1}),
)


@st.composite
def formulas(draw, variables=("r",), params=("s",)):
    """Formulas from a small grammar, mostly valid, sometimes not."""
    atoms = st.sampled_from([*variables, *params, "2", "0.5", "1", "pi", "1e300", "1e-300", "0"])

    def term(depth):
        if depth == 0 or draw(st.booleans()):
            return draw(atoms)
        kind = draw(st.integers(0, 3))
        if kind == 0:
            return f"{draw(st.sampled_from(['exp', 'tanh', 'abs', 'sqrt', 'log', 'sin', 'cos']))}({term(depth - 1)})"
        if kind == 1:
            return f"({term(depth - 1)}{draw(st.sampled_from(['+', '-', '*', '/', '**']))}{term(depth - 1)})"
        if kind == 2:
            return f"where(r < {draw(atoms)}, {term(depth - 1)}, {term(depth - 1)})"
        return draw(st.sampled_from(["r +", "exp(-r", "lambda: 1", "r[0]", "r.__class__", "1/0"]))

    return term(2)


KERNELS = st.one_of(st.sampled_from(["gaussian", "exponential", "wendland_c2", "cosine_cutoff", "1", "bogus"]), formulas())
ACTIVATIONS = st.sampled_from(
    ["tanh", "sigmoid", "relu", "identity", "softplus", "leaky_relu(alpha=0.1)", "leaky_relu(alpha=1e308)", "gelu", "nope"]
)
LOSSES = st.sampled_from(
    ["mse", "mse_half", "sse_half", "bce", "mae", "huber(delta=0.5)", "huber(delta=0)", "huber(-1)", "softmax_ce", "nope"]
)
PARAMS = st.dictionaries(st.sampled_from(["s", "q0", "c", "rc", "r", "w", "lam"]), st.one_of(NUMBERS, HOSTILE), max_size=2)


def _maybe(draw, valid, hostile=HOSTILE):
    """Mostly a plausible value, sometimes (1 in 16) anything: a spec has ten keys, and a test of the values
    needs most of them to get past the reader's type checks."""
    return draw(hostile) if draw(st.integers(0, 15)) == 0 else draw(valid)


@st.composite
def penalties(draw):
    t = {
        "rho": _maybe(draw, formulas(variables=("r", "w"), params=("s", "q0"))),
        "params": _maybe(draw, PARAMS),
        "scale": _maybe(draw, NUMBERS),
        "reduce": _maybe(draw, st.sampled_from(["sum", "mean", "max"])),
        "layers": _maybe(draw, st.lists(st.integers(0, 4), min_size=1, max_size=2)),
    }
    keep = draw(st.sets(st.sampled_from(sorted(t)), max_size=len(t)))
    return {k: v for k, v in t.items() if k in keep or k == "rho"}


@st.composite
def network_tables(draw):
    kind = _maybe(draw, st.sampled_from(["spatial", "spatial", "mlp"]))
    t: dict = {
        "kind": kind,
        "widths": _maybe(draw, st.lists(st.integers(1, 3), min_size=1, max_size=4)),
        "loss": _maybe(draw, LOSSES),
        "bias": _maybe(draw, st.booleans()),
        "loss_reduction": _maybe(draw, st.sampled_from(["mean", "batch", "sum", "avg"])),
        "relu_grad_at_zero": _maybe(draw, st.sampled_from([0, 0.5, 1, 2, -1])),
    }
    if kind == "mlp":
        t["activations"] = _maybe(draw, st.lists(ACTIVATIONS, min_size=1, max_size=3))
    else:
        t.update(
            dim=_maybe(draw, st.integers(1, 3)),
            kernel=_maybe(draw, KERNELS),
            kernel_params=_maybe(draw, PARAMS),
            hidden=_maybe(draw, ACTIVATIONS),
            output=_maybe(draw, ACTIVATIONS),
            amplitudes=_maybe(draw, st.sampled_from(["none", "free", "fixed"])),
            penalty=_maybe(draw, st.lists(penalties(), max_size=2)),
        )
    keep = draw(st.sets(st.sampled_from(sorted(t)), max_size=len(t)))
    out = {k: v for k, v in t.items() if k in keep or k == "widths"}
    if draw(st.integers(0, 9)) == 0:
        out[draw(st.sampled_from(["widht", "kernal", "Dim", "penalties", "seed"]))] = draw(HOSTILE)
    return out


@st.composite
def data_tables(draw):
    rng = st.lists(NUMBERS, min_size=2, max_size=2)
    t = {
        "batch": _maybe(draw, st.integers(1, 4)),
        "coordinate_range": _maybe(draw, rng),
        "input_range": _maybe(draw, rng),
        "weight_range": _maybe(draw, rng),
        "seed": _maybe(draw, st.integers(0, 10)),
    }
    keep = draw(st.sets(st.sampled_from(sorted(t)), max_size=3))
    return {k: v for k, v in t.items() if k in keep}


def _toml(v) -> str:
    """A TOML value (inline)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v) if abs(v) < 2**63 else f"{float(v)!r}"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml(x)}" for k, x in v.items()) + " }"
    return "[" + ", ".join(_toml(x) for x in v) + "]"


@st.composite
def spec_texts(draw):
    lines = []
    top = draw(st.sampled_from(["", "", "", "", "", "", "", "data = 5\n", "data = [1, 2]\n", "extra = 1\n"]))
    lines.append(top)
    net = draw(network_tables())
    lines.append("[network]")
    lines += [f"{k} = {_toml(v)}" for k, v in net.items()]
    if draw(st.booleans()) and "data = " not in top:
        lines.append("[data]")
        lines += [f"{k} = {_toml(v)}" for k, v in draw(data_tables()).items()]
    return "\n".join(lines) + "\n"


def _load(text: str):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "net.toml"
        path.write_text(text)
        return load_net(path)


@given(spec_texts())
def test_a_spec_file_is_a_net_or_one_line(text):
    try:
        spec = _load(text)
    except SpecError as exc:
        message = str(exc)
        assert message and "\n" not in message and "Traceback" not in message, message
        return
    assert isinstance(spec.net, (Net, MLP)), text
    # a net read is a net the engines can take: its flags rebuild it (what every reproduce command relies on)
    import argparse

    from derivcheck.netspec import add_net_arguments, net_from_args

    parser = argparse.ArgumentParser()
    add_net_arguments(parser)
    assert net_from_args(parser.parse_args(shlex.split(net_flags(spec.net)))).net == spec.net, text


# each a fresh interpreter that imports torch and SymPy and runs verify (4-5 s): one under dev and ci, 12 nightly
@settings(max_examples=max(1, settings.default.max_examples // 25))
@given(spec_texts())
def test_a_spec_file_through_the_command_line(text):
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "net.toml").write_text(text)
        env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
        argv = ["verify", "--net", "net.toml", "--cases", "1", "--engines", "manual", "--out", "r.json", "--max-seconds", "60"]
        proc = subprocess.run(
            [sys.executable, "-m", "derivcheck", *argv], cwd=tmp, capture_output=True, text=True, timeout=120, env=env
        )
    assert proc.returncode in (0, 1, 2), (proc.returncode, proc.stderr[-2000:], text)
    assert "Traceback" not in proc.stdout + proc.stderr, (proc.stderr[-3000:], text)
    if proc.returncode == 2:
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("derivcheck verify: error:"), (proc.stderr, text)
