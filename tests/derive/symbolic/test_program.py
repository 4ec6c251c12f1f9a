"""derive/symbolic/program.py: the straight-line program the exact engine runs (flat route == program route,
exact numbers kept), its backends (SymPy and SymEngine) and lambdify targets (numpy, mpmath)."""

import mpmath
import numpy as np
import pytest
import sympy as sp
from helpers import NETS, random_case
from helpers import net_id as _ids

from derive import Net, SpecError
from derive import symbolic as sym
from derive.decide import is_zero
from derive.lambdify import lambdify
from derive.symbolic.build import flat_names
from derive.symbolic.codegen import lambdify_program
from derive.symbolic.templates import activation_template, loss_template
from derive.symbolic.truth_inputs import exact_inputs
from numeric.compare import rel_error


# -- flat route == program route --------------------------------------------------------------------
# tanh and sigmoid are left to the 50-digit test below: the program uses their simplified derivatives
# (cosh^-2, stable when saturated) and sp.diff gives 1 - tanh^2; equal, but simplify() needs minutes to see it.
@pytest.mark.parametrize(
    "net",
    [
        Net((1, 2, 1), dim=2, kernel="gaussian", hidden="softplus", loss="mse", bias=True),
        Net((1, 2, 1), dim=1, kernel="inverse_quadratic", hidden="softplus", output="softplus", bias=True),
    ],
    ids=_ids,
)
def test_flat_equals_program_symbolically(net):
    built = sym.build_program(net, batch=1)
    leaves = flat_names(built.params) + flat_names(built.biases)
    fl, grads = sym.flat_gradient(net, batch=1)
    symbols = {s.name: s for s in fl.leaves + list(fl.x) + list(fl.y)}
    program = built.prog.to_sympy([built.loss] + [built.bar[n] for n in leaves], symbols, expand=True)
    assert is_zero(program[0] - fl.expr)
    for n, exact, ours in zip(leaves, grads, program[1:]):
        assert is_zero(exact - ours), n  # expand (then simplify) to exactly 0


@pytest.mark.parametrize(
    "net",
    [
        NETS[0],
        NETS[7],
        Net((2, 2, 1), dim=2, kernel="wendland_c2", hidden="leaky_relu(alpha=0.1)", output="sigmoid", loss="bce"),
        Net((1, 2, 2), dim=1, kernel="cosine_cutoff", hidden="gelu", loss="softmax_ce"),
    ],
    ids=_ids,
)
def test_flat_equals_program_at_50_digits(net):
    p, X, Y = random_case(net, batch=2)
    fl, grads = sym.flat_gradient(net, batch=2)
    syms = fl.leaves + list(fl.x) + list(fl.y)
    arrays = (p.Z if net.spatial else p.W) + (p.b or []) + [X, Y]
    vals = [mpmath.mpf(float(v)) for A in arrays for v in np.ravel(A)]
    with mpmath.workdps(50):
        flat = lambdify(syms, [fl.expr] + grads, "mpmath")(*vals)
    truth = sym.gradients(net, p, X, Y).extra["mp"]
    ours = [truth["loss"]] + [v for A in (truth["dZ"] if net.spatial else truth["dW"]) for v in np.ravel(A)]
    ours += [v for A in (truth["db"] or []) for v in np.ravel(A)]
    assert len(flat) == len(ours)
    for a, b in zip(flat, ours):
        assert abs(a - b) <= mpmath.mpf(10) ** -45 * max(1, abs(a))


# -- backends ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("net", [NETS[0], NETS[2], NETS[5]], ids=_ids)
def test_symengine_equals_sympy(net):
    pytest.importorskip("symengine")  # an optional extra (derivcheck[fast])
    p, X, Y = random_case(net, batch=2)
    _, _, vals = exact_inputs(net, p, X, Y)
    out = {}
    for backend in ("sympy", "symengine"):
        cp = sym.compile_program(net, 2, hessian=True, backend=backend, targets=("mpmath",))
        with mpmath.workdps(50):
            out[backend] = cp.gradient["mpmath"](*vals) + cp.hessian["mpmath"](*vals)
    # Same exact program; the CASes write the primitives' derivatives in different (equal) forms, so
    # the 50-digit values may differ in the last digit or two, no more.
    for a, b in zip(out["sympy"], out["symengine"]):
        assert abs(a - b) <= mpmath.mpf(10) ** -46 * max(1, abs(a))
    # ... and those derivatives are equal symbolically, first and second order.
    K = net.widths[-1]
    pairs = [
        (activation_template(net.hidden, "sympy"), activation_template(net.hidden, "symengine")),
        (loss_template(net.loss, K, "sympy"), loss_template(net.loss, K, "symengine")),
    ]
    for t0, t1 in pairs:
        if t0 is None:
            continue
        for k in t0.diff_args:
            p0, p1 = t0.part(k), t1.part(k)
            for q0, q1 in [(p0, p1)] + ([(p0.part(j), p1.part(j)) for j in p0.diff_args] if hasattr(p0, "part") else []):
                e0, e1 = (q.expr if hasattr(q, "expr") else sp.sympify(q) for q in (q0, q1))
                assert is_zero(e0 - e1), (t0.name, k)


def test_numpy_target_matches_mpmath_target():
    net = NETS[5]
    p, X, Y = random_case(net, batch=2)
    cp = sym.compile_program(net, 2, hessian=True, targets=("numpy", "mpmath"))
    _, _, vals = exact_inputs(net, p, X, Y)
    with mpmath.workdps(50):
        exact = [float(v) for v in cp.hessian["mpmath"](*vals)]
    fast = cp.hessian["numpy"](*[float(v) for v in vals])
    assert rel_error(fast, exact) < 1e-12
    assert set(cp.timings) == {"derive", "codegen"}


def test_program_keeps_numbers_exact():
    net = Net((2, 2), dim=1, kernel="exp(-r**2/c)", kernel_params={"c": 0.3}, loss="mse")
    built = sym.build_program(net, batch=3)
    repl, outs = built.prog.to_sympy([built.loss], {}, expand=False)
    for _, e in repl:
        assert not e.has(sp.Float), e
    assert any(e.has(sp.Rational(1, 6)) for _, e in repl)  # the mse divisor B*K = 6, exactly


def test_lambdify_program_rejects_unknown_target():
    built = sym.build_program(Net((1, 1), dim=1))
    with pytest.raises(SpecError, match="unknown target"):
        lambdify_program(built.prog, built.inputs, [built.loss], "fortran")
