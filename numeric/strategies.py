"""Public hypothesis strategies: networks, parameters, data, and adversarial draws.

Users can test their own code with them::

    from hypothesis import given
    from numeric import strategies as st_dc

    @given(st_dc.cases())
    def test_mine(case):
        net, params, X, Y = case
        ...

Essentials are positional, tuning is keyword-only; every argument accepts a value or a strategy.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from hypothesis.strategies import SearchStrategy

from derive import ACTIVATIONS, KERNELS, LOSSES, MLP, Net, Params
from numeric.draws import ADVERSARIAL_KINDS, Case, make_adversarial, suited_targets

__all__ = ["nets", "mlps", "params_for", "data_for", "cases", "adversarial_cases", "KERNEL_NAMES", "ACTIVATION_SPECS", "LOSS_SPECS"]

KERNEL_NAMES = tuple(KERNELS)
ACTIVATION_SPECS = tuple(n for n in ACTIVATIONS if n != "leaky_relu") + ("leaky_relu(alpha=0.1)",)
LOSS_SPECS = tuple(n for n in LOSSES if n != "huber") + ("huber(delta=0.5)",)


def _st(value) -> SearchStrategy:
    return value if isinstance(value, SearchStrategy) else st.just(value)


@cache
def _floats(lo: float, hi: float) -> SearchStrategy[float]:
    # Built once per range (hypothesis re-inspects a new mapped strategy each time it is created).
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


@st.composite
def nets(
    draw,
    *,
    layers=st.integers(2, 4),
    width=st.integers(1, 4),
    dim=st.integers(1, 3),
    kernel=st.sampled_from(KERNEL_NAMES),
    hidden=st.sampled_from(ACTIVATION_SPECS),
    output=st.sampled_from(("identity", "tanh", "sigmoid")),
    loss=st.sampled_from(LOSS_SPECS),
    bias=st.booleans(),
) -> Net:
    """Spatial nets: L in 2..4, widths 1..4, D 1..3, every kernel, activation and loss.

    Losses are paired with a compatible output: bce gets a sigmoid output (predictions in (0, 1)).
    """
    L = draw(_st(layers))
    widths = tuple(draw(_st(width)) for _ in range(L))
    lossname = draw(_st(loss))
    out = "sigmoid" if lossname == "bce" else draw(_st(output))
    return Net(
        widths,
        dim=draw(_st(dim)),
        kernel=draw(_st(kernel)),
        hidden=draw(_st(hidden)),
        output=out,
        loss=lossname,
        bias=draw(_st(bias)),
    )


@st.composite
def mlps(
    draw,
    *,
    layers=st.integers(2, 4),
    width=st.integers(1, 4),
    activation=st.sampled_from(ACTIVATION_SPECS),
    loss=st.sampled_from(LOSS_SPECS),
    bias=st.booleans(),
) -> MLP:
    """Ordinary MLPs with explicit weights (the worked examples' setting)."""
    L = draw(_st(layers))
    widths = tuple(draw(_st(width)) for _ in range(L))
    acts = [draw(_st(activation)) for _ in range(L - 1)]
    lossname = draw(_st(loss))
    if lossname == "bce":
        acts[-1] = "sigmoid"
    return MLP(widths, activations=tuple(acts), loss=lossname, bias=draw(_st(bias)))


def _array(draw, shape, lo, hi):
    # Rounded to 3 decimals: shrinks to short, readable counterexamples.
    return np.round(draw(arrays(np.float64, shape, elements=_floats(lo, hi))), 3)


@st.composite
def params_for(draw, net: Net | MLP, *, scale: float = 1.5) -> Params:
    """Coordinates in [-scale, scale]^D (or weights) and biases for `net`.

    Kernels whose gradient is undefined at r = 0 (g'(0) != 0) never get coincident nodes here;
    use `adversarial_cases` for those draws.
    """
    N = net.widths
    b = [_array(draw, (n,), -1, 1) for n in N[1:]] if net.bias else None
    if not net.spatial:
        return Params(W=[_array(draw, (N[l + 1], N[l]), -scale, scale) for l in range(net.L - 1)], b=b)
    Z = [_array(draw, (n, net.dim), -scale, scale) for n in N]
    if not net.g.gradient_at_0:
        for l in range(1, net.L):  # nudge exact coincidences apart (rounding can create them)
            for i in range(N[l]):
                for j in range(N[l - 1]):
                    if np.array_equal(Z[l][i], Z[l - 1][j]):
                        Z[l][i, 0] += 0.5
    return Params(Z=Z, b=b)


@st.composite
def data_for(draw, net: Net | MLP, *, batch=st.integers(1, 3)) -> tuple[np.ndarray, np.ndarray]:
    """Inputs X (B x N_1) in [-2, 2] and targets Y (B x N_L) suited to the loss
    (probabilities in (0, 1) for bce, one-hot-like rows summing to 1 for softmax_ce)."""
    B = draw(_st(batch))
    X = _array(draw, (B, net.widths[0]), -2, 2)
    Y = suited_targets(net.loss, (B, net.widths[-1]), lambda lo, hi, shape: _array(draw, shape, lo, hi))
    return X, Y


@st.composite
def cases(draw, net=None, **net_kwargs):
    """(net, params, X, Y) for a drawn (or given) network."""
    net = draw(nets(**net_kwargs)) if net is None else draw(_st(net))
    params = draw(params_for(net))
    X, Y = draw(data_for(net))
    return net, params, X, Y


@st.composite
def adversarial_cases(draw, *, kind=st.sampled_from(ADVERSARIAL_KINDS), **net_kwargs):
    """Hard inputs, made by `numeric.draws.make_adversarial` (check-grad's and verify's code) on a drawn
    case, with its kind names (`numeric.draws.ADVERSARIAL_KINDS`): nearly coincident nodes (separations
    1e-3..1e-7), exactly coincident nodes (kernels with g'(0) = 0 only), saturated sigmoids (every input
    -30 or +30), ReLU pre-activations exactly at 0 ("relu_kink": inputs and biases 0).

    Returns (kind, net, params, X, Y).
    """
    kind = draw(_st(kind))
    if kind not in ADVERSARIAL_KINDS:
        raise ValueError(f"unknown adversarial kind {kind!r}; the kinds are {', '.join(ADVERSARIAL_KINDS)}")
    if kind == "coincident":
        net_kwargs.setdefault("kernel", st.sampled_from([k for k in KERNEL_NAMES if k != "exponential"]))
    if kind == "relu_kink":
        net_kwargs.setdefault("hidden", "relu")
    if kind == "saturated":
        net_kwargs.setdefault("hidden", "sigmoid")
        # bce after a saturated sigmoid output is ill-conditioned in float64 (1 - sigmoid(h) keeps no
        # digits for h > 37), a limit of the dtype, not of an engine: saturate hidden layers only.
        net_kwargs.setdefault("loss", st.sampled_from([x for x in LOSS_SPECS if x != "bce"]))
    net = draw(nets(**net_kwargs))
    params = draw(params_for(net))
    X, Y = draw(data_for(net))
    if kind in ("near", "coincident") and not net.spatial:
        return kind, net, params, X, Y  # no nodes to place
    sep = 10.0 ** -draw(st.integers(3, 7)) if kind == "near" else None
    # the pair (or the signs) from a drawn seed, placed by the same code as draws' seeded cases
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    case = make_adversarial(Case(net, params, X, Y), kind, rng, sep=sep)
    return kind, case.net, case.params, case.X, case.Y
