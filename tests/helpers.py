"""Shared test helpers: seeded parameters and data for a net, the zoo of nets the exact-engine tests
run on, and a flat view of a `Gradients`."""

from pathlib import Path

import numpy as np

from derive import MLP, Net, Params
from numeric.draws import suited_targets

#: the repository root (presets/, examples/, README.md, Makefile)
REPO = Path(__file__).resolve().parent.parent

#: nets covering every kernel family, activation and loss shape the exact engine handles (spatial and MLP)
NETS = [
    Net((2, 3, 2), dim=2, kernel="gaussian", hidden="tanh", loss="mse", bias=True),
    Net((3, 2, 2), dim=3, kernel="exponential", hidden="sigmoid", loss="sse_half"),
    Net((2, 2, 3), dim=2, kernel="inverse_quadratic", hidden="relu", output="tanh", loss="huber(delta=0.5)", bias=True),
    Net((2, 3, 1), dim=1, kernel="inverse_multiquadric", hidden="softplus", loss="mae"),
    Net((3, 2, 2), dim=2, kernel="wendland_c2", hidden="leaky_relu(alpha=0.1)", output="sigmoid", loss="bce"),
    Net((2, 2, 2, 3), dim=2, kernel="cosine_cutoff", hidden="gelu", loss="softmax_ce", bias=True),
    Net((2, 2), dim=3, kernel="exp(-r**2/c)", kernel_params={"c": 0.7}, output="tanh", loss="mse"),
    MLP((2, 3, 2), activations="tanh", loss="sse_half", bias=True),
    MLP((3, 2, 2, 1), activations=("relu", "sigmoid", "identity"), loss="mse", bias=False),
]


def net_id(net) -> str:
    """pytest id of a net: its one-line description."""
    return net.describe()


def random_params(net, seed=0, scale=1.5):
    """Coordinates (or weights) uniform in [-scale, scale] and biases in [-1, 1], seeded."""
    rng = np.random.default_rng(seed)
    if net.spatial:
        Z = [rng.uniform(-scale, scale, size=(n, net.dim)) for n in net.widths]
        W = None
    else:
        Z, W = None, [rng.uniform(-scale, scale, size=(net.widths[l + 1], net.widths[l])) for l in range(net.L - 1)]
    b = [rng.uniform(-1, 1, size=n) for n in net.widths[1:]] if net.bias else None
    return Params(Z=Z, W=W, b=b)


def random_data(net, batch=3, seed=1):
    """Inputs X (batch x N_1) in [-2, 2] and targets that suit the loss (numeric.draws.suited_targets)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(batch, net.widths[0]))
    return X, suited_targets(net.loss, (batch, net.widths[-1]), rng.uniform)


def random_case(net, seed=0, batch=3):
    """(params, X, Y): parameters in [-1, 1] (seed) and data (seed + 1)."""
    p = random_params(net, seed, scale=1.0)
    X, Y = random_data(net, batch, seed + 1)
    return p, X, Y


def all_grads(g):
    """Concatenate every present quantity of a Gradients into one flat vector."""
    parts = [np.atleast_1d(g.loss)]
    for q in (g.dW, g.dZ, g.db, [g.dX]):
        if q is not None:
            parts += [np.asarray(a, dtype=np.float64).reshape(-1) for a in q]
    return np.concatenate(parts)


#: The start of a user's gradient module for check-grad tests: the example's correct gradient as `_dz(Z, X, Y)`
#: (dZ per layer, float arrays) and the modules a hostile `grad` may use; a test appends its own `grad`.
USER_PRELUDE = f"""
import importlib.util, os, signal, sys, threading, time
import numpy as np
_spec = importlib.util.spec_from_file_location("_mine", {str(REPO / "examples" / "my_grad.py")!r})
_g = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_g)

def _dz(Z, X, Y):
    out = _g.grad(Z, X, Y)
    return [np.array(a, dtype=float) for a in (out["dZ"] if isinstance(out, dict) else out)]
"""


def fits_80(line: str) -> bool:
    """A terminal line within 80 columns, or one unbreakable word alone on its line: a path longer than
    the width stands whole, by design, and pytest's tmp paths (.../pytest-272/popen-gw1/...) vary in
    length with the run number and the xdist worker."""
    return len(line) <= 80 or len(line.split()) == 1
