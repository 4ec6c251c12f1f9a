"""The "error grows as nodes approach" sweep measures the error against the edge's whole term of eq. (8),
theta included (numeric.variants.edge_term; issue 23.2d): with W = theta / r and d(1/r)/dz_i wrong, the
user's term vanishes as the nodes meet and the error is 1.00 x the edge's term, not 1/|theta| of it."""

import re

import numpy as np
import wild_grads as W  # tests/ is on sys.path

from derivcheck.checkgrad.shrink import Judge, separation_sweep
from derive import Net
from numeric.draws import draw_case
from numeric.variants import edge_term


def test_share_of_the_edge_term_includes_theta():
    net = Net((1, 1), dim=2, kernel="1/r", amplitudes="free", hidden="tanh", loss="mse", bias=True)
    case = draw_case(net, np.random.default_rng(0))
    assert abs(float(case.params.theta[0][0, 0])) != 1.0
    text = separation_sweep(Judge(W.positioned_kernel, False, np.float64), case)
    assert text is not None and text.startswith("error grows as nodes approach: ")
    share = float(re.search(r"; ([0-9.e+-]+) of that edge's term of eq\. \(8\) at 1e-6", text).group(1))
    assert share == 1.0, text


def test_edge_term_scales_with_theta():
    net = Net((1, 1), dim=2, kernel="1/r", amplitudes="free")
    Z = [np.array([[0.0, 0.0]]), np.array([[0.5, 0.0]])]
    dW = [np.array([[2.0]])]
    plain = edge_term(net, Z, dW, 1, 0, 0)
    assert np.allclose(plain, [2.0 * (-1 / 0.5**3) * 0.5, 0.0])  # dW phi(r) (z_i - z_j), phi = -1/r^3
    assert np.allclose(edge_term(net, Z, dW, 1, 0, 0, [np.array([[-0.3]])]), -0.3 * plain)


def test_a_large_counterexample_shrinks_by_halves_to_one_edge():
    """256-128-10 shrank node by node to 107-10 within the call budget; halving first reaches one edge
    (widths 1-1), and the shrunk case still fails on dZ, the quantity the user was shown."""
    import importlib.util
    import sys

    from derivcheck.checkgrad import check_grad
    from derive import Net
    from tests.helpers import REPO

    spec = importlib.util.spec_from_file_location("my_grad_example", REPO / "examples/my_grad.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("my_grad_example", mod)
    spec.loader.exec_module(mod)
    g = {"kernel": "exp(-r**2/s**2)", "kernel_params": (("s", 0.7),)}  # the example's kernel: its bug is the eps
    net = Net((64, 32, 10), dim=2, hidden="tanh", output="identity", loss="mse", **g)
    res = check_grad(mod.grad_buggy, net, cases=1)
    assert not res.agrees and res.shrunk is not None
    assert sum(res.shrunk.net.widths) <= 3, res.shrunk.net.widths
    assert any(f.quantity == "dZ" for f in res.shrunk_findings)
