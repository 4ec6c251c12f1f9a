"""check-grad's ground truth: balls (derive.symbolic.gradients(backend="arb")), by layers on nets too large
for the whole-loss program; right code passes and wrong code fails there too; a case whose exact value
no precision decides is not judged, and said, never counted as agreeing."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from derivcheck.checkgrad import check_grad
from derivcheck.checkgrad import shrink as shrink_module
from derive import Net, SpecError
from derive.symbolic.balls import Undecided
from derive.symbolic.layered import route_for
from tests.helpers import REPO


def _example():
    spec = importlib.util.spec_from_file_location("my_grad_example", REPO / "examples/my_grad.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("my_grad_example", mod)
    spec.loader.exec_module(mod)
    return mod


NET = Net((40, 24, 6), dim=2, kernel="exp(-r**2/s**2)", kernel_params=(("s", 0.7),), hidden="tanh", output="identity", loss="mse")


def test_a_net_on_the_layers_route_passes_right_code_and_fails_wrong_code():
    assert route_for(NET, 3) == "layers"
    mod = _example()
    ok = check_grad(mod.grad, NET, cases=3)
    assert ok.agrees and ok.checked >= 4 and not ok.undecided, ok.report()

    def flipped(Z, X, Y):  # eq. (8)'s sign flipped on layer 2's coordinates only
        out = mod.grad(Z, X, Y)
        dZ = out if isinstance(out, list) else out["dZ"]
        dZ = [(-d if i == 1 else d) for i, d in enumerate(dZ)]
        return dZ

    bad = check_grad(flipped, NET, cases=2, shrink=False)
    assert not bad.agrees and bad.findings[0].quantity == "dZ", bad.report()


def test_an_undecided_case_is_not_judged_and_is_said(monkeypatch):
    mod = _example()
    real = shrink_module.truth_of
    seen = []

    def truth_of(case):
        seen.append(case)
        if len(seen) == 1:
            raise Undecided("dW of layer 2, entry (1, 1)", 200, float("inf"), "[+/- 1e-201]")
        return real(case)

    monkeypatch.setattr(shrink_module, "truth_of", truth_of)
    small = Net(
        (3, 4, 2), dim=2, kernel="exp(-r**2/s**2)", kernel_params=(("s", 0.7),), hidden="tanh", output="identity", loss="mse"
    )
    res = check_grad(mod.grad, small, cases=3)
    assert res.agrees and len(res.undecided) == 1 and res.checked == len(seen) - 1
    text = res.report()
    assert "1 more case(s) not judged: the exact value is undecided" in text
    assert f"agrees with the ground truth on every case judged ({res.checked})" in text
    assert res.to_dict()["undecided"] == res.undecided

    monkeypatch.setattr(shrink_module, "truth_of", lambda case: (_ for _ in ()).throw(Undecided("loss", 200, 1.0, "[0 +/- 1]")))
    with pytest.raises(SpecError, match="no case could be judged: the exact value is undecided on all"):
        check_grad(mod.grad, small, cases=2)


def test_the_truth_check_grad_uses_is_balls():
    from derivcheck.checkgrad.compare import truth_of
    from numeric.draws import draw_case

    case = draw_case(NET, np.random.default_rng(0), batch=2)
    t = truth_of(case)
    from derive import symbolic as sym

    g = sym.gradients(NET, case.params, case.X, case.Y, backend="arb")
    assert g.extra["backend"] == "arb" and g.extra["route"] == "layers"
    for a, b in zip(t["dZ"], g.dZ):
        np.testing.assert_array_equal(a, b)
