"""The bench's problems and engine calls: a seeded spatial net with its data (`problem`), one engine
as a zero-argument callable (`engine_fn`), and one engine's peak resident memory measured in a fresh
subprocess (`rss_extra`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from derive import Net, Params

__all__ = ["REPO", "problem", "engine_fn", "rss_extra"]

REPO = Path(__file__).resolve().parents[2]  # the child runs here so it imports this checkout


def problem(widths, batch, dim, seed):
    """A spatial Net (gaussian kernel, tanh, mse) with coordinates spread so weights are O(1)."""
    rng = np.random.default_rng(seed)
    net = Net(tuple(widths), dim=dim)
    Z = [rng.uniform(-1, 1, (n, dim)) for n in widths]
    X = rng.standard_normal((batch, widths[0]))
    Y = rng.standard_normal((batch, widths[-1]))
    return net, Params(Z=Z), X, Y


def engine_fn(engine, net, p, X, Y, V=None, *, device="cpu", **torch_kw):
    """A zero-argument callable running one engine (gradient or HVP) on one problem.

    Engines: "manual", "manual_hvp", "torch_<formulation>" (gradient), "torch_hvp_<method>" (HVP);
    `device` and `torch_kw` (dtype, as_numpy; quantities for the gradient) apply to the torch ones.
    Every call goes through `numeric.engines.ENGINES` (float64 unless `torch_kw` gives a dtype), the
    torch tuning (formulation, method) as the contract's keyword arguments."""
    from numeric.engines import ENGINES

    if engine in ("manual", "manual_hvp"):
        man = ENGINES["manual"]
        if engine == "manual":
            return lambda: man.gradients(net, p, X, Y)
        assert man.hvp is not None  # the manual engine has second order (R-operator)
        return lambda: man.hvp(net, p, X, Y, V)
    torch_ = ENGINES["torch-cuda" if device == "cuda" else "torch-cpu"]
    kw = {"dtype": torch_.dtype, **torch_kw}
    if engine.startswith("torch_hvp_"):
        assert torch_.contract_hvp is not None  # the torch engine has second order
        hvp, method = torch_.contract_hvp, engine[len("torch_hvp_") :]
        return lambda: hvp(net, p, X, Y, V, device=device, method=method, **kw)
    grad, formulation = torch_.contract_gradients, engine[len("torch_") :]
    return lambda: grad(net, p, X, Y, device=device, formulation=formulation, **kw)


# Peak RSS of this process's own address space: VmHWM (ru_maxrss would not do: on Linux it carries
# the parent's high-water mark across fork+exec). Writing 5 to clear_refs resets VmHWM to VmRSS.
CHILD = """
import json, sys
from derivcheck.bench.problems import engine_fn, problem
def status(key):
    with open("/proc/self/status") as fh:
        return 1024 * int(next(l for l in fh if l.startswith(key + ":")).split()[1])
spec = json.loads(sys.argv[1])
tiny = problem([4] * len(spec["widths"]), 2, spec["dim"], 1)
net, p, X, Y = problem(spec["widths"], spec["batch"], spec["dim"], spec["seed"])
engine_fn(spec["engine"], *tiny)()
fn = engine_fn(spec["engine"], net, p, X, Y)
try:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    before = status("VmRSS")
except OSError:
    before = status("VmHWM")
fn()
print(json.dumps({"extra_bytes": status("VmHWM") - before}))
"""


def rss_extra(engine, widths, batch, dim, seed) -> int | None:
    """Peak resident memory (bytes) one engine call adds, measured in a fresh interpreter (`CHILD`);
    None when the child fails (e.g. no /proc)."""
    spec = json.dumps({"engine": engine, "widths": list(widths), "batch": batch, "dim": dim, "seed": seed})
    out = subprocess.run([sys.executable, "-c", CHILD, spec], capture_output=True, text=True, timeout=600, cwd=REPO)
    if out.returncode != 0:
        return None
    return int(json.loads(out.stdout.strip().splitlines()[-1])["extra_bytes"])
