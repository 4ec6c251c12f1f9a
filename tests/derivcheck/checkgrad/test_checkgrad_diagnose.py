"""check-grad's diagnoses in the user's terms (derivcheck.checkgrad.diagnose, diagnose_family; issue 23.2b, c):
one term of eq. (8) flipped, in every layer or in one; factors named by what they equal (K, B, B K, the 1/2
of a half-loss, a penalty's edge count); "per example" where dX is B x the truth. The code is written as it
is in the wild (tests/wild_grads.py, tests/catalog_grads.py)."""

import catalog_grads as C  # tests/ is on sys.path
import wild_grads as W

import derivcheck
from derive import Net

FORWARD = "(the sum over the nodes k of layer l+1: each edge's term for its source node"


def test_source_node_term_sign_flipped_is_named():
    """`dZ[l - 1] += contrib.sum(0)` where -= belongs (before: 'none of the known mistakes fits')."""
    result = derivcheck.check_grad(W.positioned_source_sign, W.POS_NET, cases=3, seed=0)
    assert not result and result.failed == result.checked
    assert result.diagnoses == [f"dZ: matches the truth with the sign of the forward term of eq. (8) flipped {FORWARD})"]


def test_source_node_term_flipped_in_one_layer_is_named_with_its_layer():
    result = derivcheck.check_grad(W.positioned_source_sign_input, W.POS_NET, cases=3, seed=0)
    assert not result
    assert result.diagnoses == [
        f"dZ: matches the truth with the sign of the forward term of eq. (8) of layer 1 flipped {FORWARD}; "
        "the other layers are right)"
    ]


def test_missing_forward_term_keeps_its_name():
    result = derivcheck.check_grad(C.no_forward_term, C.NET, cases=2, seed=3)
    assert result.diagnoses[0].startswith("dZ: matches the truth without the forward term of eq. (8) (the sum over")


def test_factor_k_is_named_as_the_number_of_outputs():
    """del_loss = 2 (a - y) / B, not divided by K = 2 (before: 'factor 2.0000 on dtheta and db', unnamed)."""
    result = derivcheck.check_grad(W.positioned_per_k, W.POS_NET, cases=3, seed=0)
    assert not result
    assert result.diagnoses == [
        "dZ, dW, dtheta, db, dX: off by a constant factor 2.0000 on every entry = K = 2, the number of outputs: "
        "your gradient is that of a loss divided by B, derivcheck's 'mse' by B K (your loss itself is right)"
    ]


def test_factor_b_on_dx_is_named_per_example():
    """dX kept per example (row b = d(loss of example b)/dx_b): B = 3 x the truth (before: 'factor 3.0000 on dX')."""
    result = derivcheck.check_grad(W.positioned_per_example_dX, W.POS_NET, cases=3, seed=0)
    assert not result and {f.quantity for f in result.findings} == {"dX"}
    assert result.diagnoses == [
        "dX: off by a constant factor 3.0000 on every entry = B = 3, the batch size, row by row: a per-example dX "
        "(row b = d(loss of example b)/dx_b), where derivcheck's dX is d(loss)/dX of the whole batch's 'mse'"
    ]


def test_factor_b_k_with_the_loss_off_too_is_mean_vs_sum():
    result = derivcheck.check_grad(C.loss_sum, C.NET, cases=2, seed=3)
    assert result.diagnoses == [
        "loss, dZ, dW, db, dX: off by a constant factor 6.0000 on every entry = B K = 6, the batch size times the "
        "number of outputs: loss mean vs sum (derivcheck's 'mse' divides by B K; yours by 1 (a sum)); "
        'if that is your convention, state loss_reduction = "sum" (--loss-reduction sum)'
    ]


def test_the_half_of_a_half_loss_is_named():
    net = Net((2, 3, 2), dim=2, kernel="exp(-r**2/s**2)", kernel_params={"s": C.S}, hidden="tanh", loss="sse_half", bias=True)

    def fn(Z, X, Y, b=None):  # d/da of sum (a - y)^2 where sse_half has 1/2 sum (a - y)^2
        out = C.correct(Z, X, Y, b=b)  # mse's gradient: 1/(B K) of d/da sum (a - y)^2
        return {q: [Y.size * v for v in x] if isinstance(x, list) else Y.size * x for q, x in out.items() if q != "loss"}

    result = derivcheck.check_grad(fn, net, cases=3, seed=0)
    assert not result
    assert result.diagnoses == [
        "dZ, dW, db, dX: off by a constant factor 2.0000 on every entry = 2: the 1/2 of 'sse_half' left out "
        "(d/da 1/2 (a - y)^2 = a - y)"
    ]


def test_a_factor_on_dz_alone_is_not_named_as_the_loss_reduction():
    """A factor 1/2 on dZ alone (dW right) is not 1/K: K would scale every gradient."""
    import functools

    result = derivcheck.check_grad(functools.partial(W.gaussian, dg="half"), W.GAUSS_NET, cases=3, seed=0)
    assert result.diagnoses[0] == "dZ: off by a constant factor 0.5000 on every entry"


def test_penalty_mean_differentiated_as_a_sum_is_named_by_its_edge_count():
    """The wiring cost c mean |w| r over E = 20 edges, its gradient taken as c sum: E x its part."""

    def fn(Z, X, Y, b=None, theta=None):
        good, without = C.user_correct(Z, X, Y, b=b, theta=theta), C.user_wire_missing(Z, X, Y, b=b, theta=theta)
        E = sum(len(Z[l]) * len(Z[l - 1]) for l in range(1, len(Z)))
        return {q: [g + (E - 1) * (g - n) for g, n in zip(v, without[q])] if isinstance(v, list) else v for q, v in good.items()}

    result = derivcheck.check_grad(fn, C.USER_NET, cases=2, seed=0)
    assert not result
    assert result.diagnoses == [
        "dZ, dW, dtheta: matches with the gradient of the penalty 'abs(w)*r' at 20 x its value = its edge count 20: "
        "a mean over the edges differentiated as a sum"
    ]


def test_a_half_that_is_also_a_stated_reductions_factor_names_both():
    """A new user's trial (issue 24): textbook mse code (divided by B K) checked with loss_reduction = "batch"
    on K = 2 outputs is off by 1/2 = 1/K; the diagnosis named only a half-loss, not the stated convention."""
    net = Net(
        (3, 4, 2),
        dim=2,
        kernel="exp(-r**2/s**2)",
        kernel_params={"s": C.S},
        hidden="tanh",
        loss="mse",
        bias=True,
        loss_reduction="batch",
    )
    result = derivcheck.check_grad(C.correct, net, cases=2, seed=0)
    assert not result
    (d,) = result.diagnoses
    assert "= 1/2: the gradient of a half-loss" in d and "; or 1/K, K = 2 the number of outputs" in d
    assert 'state loss_reduction = "mean" (--loss-reduction mean)' in d
