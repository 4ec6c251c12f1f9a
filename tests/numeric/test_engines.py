"""numeric.engines: every engine in the one table follows the one contract (issue 12) — keyword-only
tuning after Y (or V), the same `Gradients` fields filled, H v in V's form, `wrt` with one meaning —
and agrees with the symbolic ground truth."""

import inspect

import numpy as np
import pytest
from helpers import random_case

from derive import MLP, Gradients, Net, SpecError, layout, symbolic
from numeric import autograd, manual
from numeric.compare import rel_error, tolerance
from numeric.engines import ENGINES
from numeric.flat import flatten

NETS = [
    Net((2, 2, 2), dim=2, kernel="gaussian", hidden="tanh", loss="mse", bias=True),
    MLP((2, 3, 2), activations="tanh", loss="sse_half", bias=True),
]
NAMES = list(ENGINES)


def _case(net):
    return net, *random_case(net, seed=3, batch=2)  # parameters in [-1, 1] (seed 3), data (seed 4)


def _engine(name):
    engine = ENGINES[name]
    ok, why = engine.available()
    if not ok:
        pytest.skip(f"{name}: {why}")
    return engine


def _contract_ok(fn, positional):
    """True iff fn's parameters are exactly `positional`, then keyword-only ones including dtype, device."""
    ps = list(inspect.signature(fn).parameters.values())
    head, rest = ps[: len(positional)], ps[len(positional) :]
    return (
        [p.name for p in head] == positional
        and all(p.kind is p.POSITIONAL_OR_KEYWORD for p in head)
        and all(p.kind is p.KEYWORD_ONLY for p in rest)
        and {"dtype", "device"} <= {p.name for p in rest}
    )


GRAD, HVP = ["net", "params", "X", "Y"], ["net", "params", "X", "Y", "V"]


def test_table_names_and_capabilities():
    assert set(ENGINES) == {"symbolic", "manual", "manual-f32", "torch-cpu", "torch-cuda"}
    for name, e in ENGINES.items():
        assert e.name == name
        caps = e.capabilities
        assert caps["first_order"] is True and caps["hvp"] is (e.hvp is not None)
        assert e.dtype in caps["dtypes"] and e.device in caps["devices"]
    assert ENGINES["manual-f32"].dtype == np.float32
    import torch

    assert ENGINES["torch-cuda"].available()[0] == torch.cuda.is_available()
    assert all(ENGINES[n].available() == (True, "") for n in NAMES if n != "torch-cuda")
    if not torch.cuda.is_available():
        assert "cuda" in ENGINES["torch-cuda"].available()[1]


@pytest.mark.parametrize("name", NAMES)
def test_contract_signatures(name):
    e = ENGINES[name]
    assert _contract_ok(e.contract_gradients, GRAD)
    assert e.contract_hvp is not None and _contract_ok(e.contract_hvp, HVP)
    assert e.contract_hessian is not None and _contract_ok(e.contract_hessian, GRAD)
    assert inspect.signature(e.contract_hessian).parameters["wrt"].kind is inspect.Parameter.KEYWORD_ONLY


@pytest.mark.parametrize(
    "fn, positional",
    [
        (symbolic.gradients, GRAD),
        (symbolic.hvp, HVP),
        (symbolic.hessian, GRAD),
        (autograd.gradients, GRAD),
        (autograd.hvp, HVP),
        (autograd.hessian, GRAD),
        (manual.gradients, GRAD),
        (manual.hvp, HVP),
        (manual.hessian, GRAD),
    ],
)
def test_engine_modules_follow_the_contract(fn, positional):
    assert _contract_ok(fn, positional), inspect.signature(fn)
    for name in ("dps", "method", "formulation"):  # engine-specific tuning: keyword-only where it exists
        p = inspect.signature(fn).parameters.get(name)
        assert p is None or p.kind is p.KEYWORD_ONLY


@pytest.mark.parametrize("net", NETS, ids=lambda n: n.describe())
@pytest.mark.parametrize("name", NAMES)
def test_every_engine_fills_the_same_fields_and_agrees_with_symbolic(name, net):
    engine = _engine(name)
    net, p, X, Y = _case(net)
    truth = symbolic.gradients(net, p, X, Y)
    g = engine.gradients(net, p, X, Y)
    assert isinstance(g, Gradients)
    B, N, L = X.shape[0], net.widths, net.L
    assert (g.dZ is not None) == net.spatial and (g.db is not None) == net.bias
    assert g.delta is not None and g.dA is not None
    assert len(g.delta) == L and len(g.dA) == L and g.delta[0] is None
    assert np.array_equal(g.dA[0], g.dX)
    for l in range(1, L):
        assert np.shape(g.delta[l]) == (B, N[l]) and np.shape(g.dA[l]) == (B, N[l])
    flat = g.flat()
    assert flat.dtype == np.float64 and flat.shape == flatten(net, p).shape
    dt = engine.dtype
    for q in ("loss", "dW", "dZ", "db", "dX"):
        if getattr(truth, q) is not None:
            assert rel_error(getattr(g, q), getattr(truth, q)) <= tolerance(dt, q), q
    # delta_l and dA_l are computed as dX is (dA_1 = dX): dX's tolerance
    for l in range(1, L):
        assert rel_error(g.delta[l], truth.delta[l]) <= tolerance(dt, "dX"), ("delta", l)
        assert rel_error(g.dA[l], truth.dA[l]) <= tolerance(dt, "dX"), ("dA", l)
    assert rel_error(flat, truth.flat()) <= tolerance(dt, "dZ" if net.spatial else "dW")


def test_flat_layout_is_dZ_or_dW_then_db():
    net, p, X, Y = _case(NETS[0])
    g = ENGINES["manual"].gradients(net, p, X, Y)
    expected = np.concatenate([d.reshape(-1) for d in g.dZ] + [d.reshape(-1) for d in g.db])
    assert np.array_equal(g.flat(), expected)
    mlp, q, Xm, Ym = _case(NETS[1])
    gm = ENGINES["manual"].gradients(mlp, q, Xm, Ym)
    assert np.array_equal(gm.flat(), np.concatenate([d.reshape(-1) for d in gm.dW] + list(gm.db)))
    assert Gradients(loss=0.0, dW=[]).flat().shape == (0,)


def test_delta_and_dA_fields_and_extra_stay_one_view():
    d, a = [None, np.ones((1, 2))], [np.zeros((1, 2)), np.ones((1, 2))]
    old = Gradients(loss=0.0, dW=[], extra={"delta": d, "dA": a})  # an engine that fills only `extra`
    assert old.delta is d and old.dA is a
    new = Gradients(loss=0.0, dW=[], delta=d, dA=a)
    assert new.extra["delta"] is d and new.extra["dA"] is a
    assert Gradients(loss=0.0, dW=[]).delta is None


def _hvp_engines():
    return [n for n in NAMES if ENGINES[n].hvp is not None]


@pytest.mark.parametrize("net", NETS, ids=lambda n: n.describe())
@pytest.mark.parametrize("name", _hvp_engines())
def test_hvp_returns_the_form_of_V(name, net):
    engine = _engine(name)
    hvp = engine.hvp
    assert hvp is not None
    net, p, X, Y = _case(net)
    rng = np.random.default_rng(7)
    blocks = layout.shapes(net)
    full = [rng.standard_normal(s) for _, _, s in blocks]
    main = full[: layout.n_main(net)]
    flat = np.concatenate([v.reshape(-1) for v in full])
    exact_full = symbolic.hvp(net, p, X, Y, full)
    exact_main = symbolic.hvp(net, p, X, Y, main)
    tol = tolerance(engine.dtype, "hvp")

    out = hvp(net, p, X, Y, full)
    assert isinstance(out, list) and [np.shape(h) for h in out] == [v.shape for v in full]
    assert rel_error(out, exact_full) <= tol
    out = hvp(net, p, X, Y, main)  # no bias direction: only the main group comes back
    assert isinstance(out, list) and [np.shape(h) for h in out] == [v.shape for v in main]
    assert rel_error(out, exact_main) <= tol
    out = hvp(net, p, X, Y, flat)
    assert isinstance(out, np.ndarray) and out.shape == flat.shape
    assert rel_error(out, exact_full) <= tol
    assert isinstance(exact_main, list) and isinstance(symbolic.hvp(net, p, X, Y, flat), np.ndarray)


@pytest.mark.parametrize("net", NETS, ids=lambda n: n.describe())
@pytest.mark.parametrize("name", ["symbolic", "manual", "torch-cpu"])
def test_hessian_wrt_means_the_same_everywhere(name, net):
    engine = _engine(name)
    hessian = engine.hessian
    assert hessian is not None
    net, p, X, Y = _case(net)
    n = flatten(net, p).size
    m = sum(int(np.prod(s)) for _, _, s in layout.shapes(net)[: layout.n_main(net)])
    group = "Z" if net.spatial else "W"
    H_all, H_main = hessian(net, p, X, Y), hessian(net, p, X, Y, wrt=group)
    assert H_all.shape == (n, n) and H_main.shape == (m, m) and m < n  # biases in None, not in the group
    assert rel_error(H_main, H_all[:m, :m]) <= tolerance(np.float64, "hvp")
    assert rel_error(H_all, symbolic.hessian(net, p, X, Y)) <= tolerance(np.float64, "hvp")
    with pytest.raises(SpecError, match="wrt"):
        hessian(net, p, X, Y, wrt="W" if net.spatial else "Z")


def test_engines_refuse_what_they_cannot_do():
    net, p, X, Y = _case(NETS[0])
    with pytest.raises(SpecError, match="float64"):
        symbolic.gradients(net, p, X, Y, dtype=np.float32)
    with pytest.raises(SpecError, match="device"):
        symbolic.gradients(net, p, X, Y, device="cuda")
    with pytest.raises(SpecError, match="device"):
        symbolic.hvp(net, p, X, Y, p.Z, device="cuda")
    with pytest.raises(SpecError, match="device"):
        ENGINES["manual"].contract_gradients(net, p, X, Y, device="cuda")
    assert symbolic.gradients(net, p, X, Y, device=None).engine == "symbolic"
