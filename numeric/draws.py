"""Cases drawn with a NumPy generator from a printed seed (no hypothesis), the adversarial ones, and the
edits that shrink a failing case (fewer rows, nodes and layers, a wider node pair, rounder numbers).

A `Case` is (net, params, X, Y) plus what makes it special: `kind` ("drawn" or one of ADVERSARIAL_KINDS:
"near", "coincident", "saturated", "relu_kink") and, for near/coincident cases, the node pair it placed:
node i of layer l (0-based list index l, so Z[l]) at z^(l-1)_j + sep e_1 (MATH.md: layers l and l-1 are
joined by W_l); a case of `derivcheck verify` also has its `id` and the `seed` that drew it. It is the one
case type: check-grad, verify and the hypothesis strategies (`numeric.strategies.adversarial_cases`, whose
kinds are these) all make their hard cases with `make_adversarial`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from derive import MLP, Net, Params, compile_net

__all__ = [
    "Case",
    "draw_case",
    "suited_targets",
    "adversarial_cases",
    "make_adversarial",
    "place_pair",
    "drop_rows",
    "drop_node",
    "drop_nodes",
    "drop_layer",
    "rounded",
    "with_dtype",
    "ADVERSARIAL_KINDS",
    "NEAR_SEPARATIONS",
]

ADVERSARIAL_KINDS = ("near", "coincident", "saturated", "relu_kink")
NEAR_SEPARATIONS = (1e-3, 1e-5, 1e-7)
_KINKED = ("relu", "leaky_relu")


@dataclass
class Case:
    """One input of a check: the net, its parameters and a batch, and how it was made (and, for
    `derivcheck verify`, its case id and the seed that drew it)."""

    net: Net | MLP
    params: Params
    X: np.ndarray
    Y: np.ndarray
    kind: str = "drawn"
    pair: tuple[int, int, int] | None = None  # (l, i, j): node i of Z[l] sits next to node j of Z[l-1]
    sep: float | None = None
    id: str = ""  # verify's case id (m000, h000, n000, a00-near-1e-3, ...)
    seed: int | None = None  # verify: the seed that drew the case (recorded, and seeds its check directions)

    @property
    def batch(self) -> int:
        return int(self.X.shape[0])

    def describe(self) -> str:
        what = f"{self.kind}" + (f", separation {self.sep:g}" if self.sep is not None else "")
        if self.pair is not None:
            l, i, j = self.pair
            what += f" (node {i + 1} of layer {l + 1} and node {j + 1} of layer {l})"
        return what


def suited_targets(loss: str, shape: tuple[int, int], uniform: Callable[[float, float, tuple[int, int]], np.ndarray]) -> np.ndarray:
    """Targets Y (B x K) that suit the loss, the one place their ranges are written: bce probabilities in
    [0.05, 0.95] (log stays finite), softmax_ce rows summing to 1 (uniform + 0.01, normalised), any
    other loss entries in [-1.5, 1.5].

    Args:
        loss: the net's loss name. shape: (B, K).
        uniform: uniform(lo, hi, shape) -> array, the source of the entries (a seeded generator,
            rounded or not, or a hypothesis draw).
    """
    if loss == "bce":
        return uniform(0.05, 0.95, shape)
    if loss == "softmax_ce":
        Y = uniform(0.0, 1.0, shape) + 0.01
        return Y / Y.sum(axis=1, keepdims=True)
    return uniform(-1.5, 1.5, shape)


def _targets(net: Net | MLP, rng: np.random.Generator, B: int) -> np.ndarray:
    return suited_targets(net.loss, (B, net.widths[-1]), lambda lo, hi, shape: np.round(rng.uniform(lo, hi, shape), 3))


def draw_case(
    net: Net | MLP,
    rng: np.random.Generator,
    *,
    batch: int = 3,
    coordinate_range: tuple[float, float] = (-1.5, 1.5),
    input_range: tuple[float, float] = (-2.0, 2.0),
    weight_range: tuple[float, float] = (-1.5, 1.5),
) -> Case:
    """Uniform coordinates (or weights), biases in [-1, 1], inputs and loss-suited targets, rounded to
    3 decimals (short numbers in a counterexample). Exact coincidences that rounding creates are nudged
    apart for kernels whose gradient is undefined at r = 0."""
    N = net.widths
    b = [np.round(rng.uniform(-1, 1, n), 3) for n in N[1:]] if net.bias else None
    if net.spatial:
        Z = [np.round(rng.uniform(coordinate_range[0], coordinate_range[1], (n, net.dim)), 3) for n in N]
        if not _coincidence_ok(net):
            for l in range(1, net.L):
                for i in range(N[l]):
                    while any(np.array_equal(Z[l][i], z) for z in Z[l - 1]):
                        Z[l][i, 0] += 0.5
        params = Params(Z=Z, b=b)
        if net.free:  # amplitudes theta drawn like MLP weights
            lo, hi = weight_range
            params.theta = [np.round(rng.uniform(lo, hi, (N[l + 1], N[l])), 3) for l in range(net.L - 1)]
    else:
        lo, hi = weight_range
        params = Params(W=[np.round(rng.uniform(lo, hi, (N[l + 1], N[l])), 3) for l in range(net.L - 1)], b=b)
    X = np.round(rng.uniform(input_range[0], input_range[1], (batch, N[0])), 3)
    return Case(net, params, X, _targets(net, rng, batch))


def _coincidence_ok(net: Net | MLP) -> bool:
    """dJ/dz exists where two nodes meet: the kernel's phi(0) is finite and every penalty has a gradient
    there (derive decides both)."""
    return bool(np.isfinite(compile_net(net).phi0)) and all(p.gradient_at_0 for p in getattr(net, "penalties", ()))


def _copy(case: Case, **changes) -> Case:
    p = case.params
    params = Params(
        Z=None if p.Z is None else [z.copy() for z in p.Z],
        W=None if p.W is None else [w.copy() for w in p.W],
        b=None if p.b is None else [v.copy() for v in p.b],
        theta=None if p.theta is None else [t.copy() for t in p.theta],
    )
    return replace(case, params=params, X=case.X.copy(), Y=case.Y.copy(), **changes)


def place_pair(case: Case, l: int, i: int, j: int, sep: float, kind: str | None = None) -> Case:
    """A copy with node i of layer l+1 (Z[l]) at z^l_j + sep e_1 (sep = 0: coincident)."""
    out = _copy(case, kind=kind or case.kind, pair=(l, i, j), sep=sep)
    assert out.params.Z is not None
    out.params.Z[l][i] = out.params.Z[l - 1][j] + sep * np.eye(case.net.dim)[0]  # type: ignore[union-attr]
    return out


def make_adversarial(case: Case, kind: str, rng: np.random.Generator, *, sep: float | None = None) -> Case:
    """A copy of `case` made hard in the way `kind` (one of ADVERSARIAL_KINDS) names: "near" places a
    node of a random layer l >= 1 at distance `sep` from a random node of layer l-1 (`place_pair`),
    "coincident" on it (spatial nets); "saturated" sets every input to -30 or +30 at random;
    "relu_kink" sets inputs and biases to 0, so every hidden pre-activation is exactly 0. `rng` picks the
    pair or the signs. Whether the kind suits the net (coincidence where phi(0) is finite, a kinked
    activation) is the caller's choice: `adversarial_cases` makes only those that do."""
    if kind in ("near", "coincident"):
        at = 0.0 if kind == "coincident" else sep
        if at is None:
            raise ValueError("a near pair needs its separation sep")
        net = case.net
        l = int(rng.integers(1, net.L))
        i, j = int(rng.integers(net.widths[l])), int(rng.integers(net.widths[l - 1]))
        return place_pair(case, l, i, j, at, kind)
    if kind == "saturated":
        out = _copy(case, kind=kind)
        out.X = np.where(rng.uniform(size=case.X.shape) < 0.5, -30.0, 30.0)
        return out
    if kind == "relu_kink":
        out = _copy(case, kind=kind)
        out.X = np.zeros_like(case.X)
        if out.params.b is not None:
            out.params.b = [np.zeros_like(v) for v in out.params.b]
        return out
    raise ValueError(f"unknown adversarial kind {kind!r}; the kinds are {', '.join(ADVERSARIAL_KINDS)}")


def adversarial_cases(net: Net | MLP, rng: np.random.Generator, **draw: Any) -> list[Case]:
    """Hard inputs for `net` (`make_adversarial` on cases drawn by `draw_case`): nearly coincident nodes
    at separations 1e-3, 1e-5, 1e-7; exactly coincident nodes (kernels with g'(0) = 0 only); saturated
    activations (|inputs| 30); ReLU kinks (inputs and biases 0, so every hidden pre-activation is exactly
    0; nets with (leaky) ReLU only)."""
    out: list[Case] = []
    acts = [net.f(l).name for l in range(2, net.L + 1)]
    if net.spatial:
        for sep in NEAR_SEPARATIONS:
            out.append(make_adversarial(draw_case(net, rng, **draw), "near", rng, sep=sep))
        if _coincidence_ok(net):
            out.append(make_adversarial(draw_case(net, rng, **draw), "coincident", rng))
    if net.loss != "bce":  # 1 - sigmoid(h) keeps no float64 digits for h > 37: a limit of the dtype
        out.append(make_adversarial(draw_case(net, rng, **draw), "saturated", rng))
    if any(a in _KINKED for a in acts[:-1]) or (not net.spatial and acts[0] in _KINKED):
        out.append(make_adversarial(draw_case(net, rng, **draw), "relu_kink", rng))
    return out


# -- shrinking edits -------------------------------------------------------------------------------
def drop_rows(case: Case, rows) -> Case:
    """The case on a subset of its batch rows."""
    rows = list(rows)
    return replace(_copy(case), X=case.X[rows].copy(), Y=case.Y[rows].copy())


def drop_node(case: Case, layer: int, k: int) -> Case | None:
    """Remove node k of Z[layer] (its row in W_l, column in W_(l+1), bias, input/target column).
    None when the layer has one node left."""
    net = case.net
    N = list(net.widths)
    if N[layer] == 1:
        return None
    out = _copy(case, net=replace(net, widths=tuple(n - (i == layer) for i, n in enumerate(N))))
    p = out.params
    if p.Z is not None:
        p.Z[layer] = np.delete(p.Z[layer], k, axis=0)
        if out.pair is not None:
            pl, pi, pj = out.pair
            if (pl, pi) == (layer, k) or (pl - 1, pj) == (layer, k):
                out.pair, out.sep = None, None
            else:
                out.pair = (pl, pi - (pl == layer and pi > k), pj - (pl - 1 == layer and pj > k))
    for mats in (p.W, p.theta):  # weights, or amplitudes: row k of layer `layer`, column k of the next
        if mats is not None:
            if layer > 0:
                mats[layer - 1] = np.delete(mats[layer - 1], k, axis=0)
            if layer < net.L - 1:
                mats[layer] = np.delete(mats[layer], k, axis=1)
    if p.b is not None and layer > 0:
        p.b[layer - 1] = np.delete(p.b[layer - 1], k)
    if layer == 0:
        out.X = np.delete(out.X, k, axis=1)
    if layer == net.L - 1:
        out.Y = np.delete(out.Y, k, axis=1)
        if net.loss == "softmax_ce":
            out.Y = out.Y / out.Y.sum(axis=1, keepdims=True)
    return out


def drop_nodes(case: Case, layer: int, ks) -> Case | None:
    """Remove the nodes `ks` of layer `layer` at once (`drop_node` for each, highest index first); None
    when that would leave the layer empty."""
    ks = sorted(set(int(k) for k in ks), reverse=True)
    if not ks or len(ks) >= case.net.widths[layer]:
        return None
    out: Case | None = case
    for k in ks:
        assert out is not None  # at least one node stays, so drop_node never refuses
        out = drop_node(out, layer, k)
    return out


def drop_layer(case: Case, layer: int) -> Case | None:
    """Remove hidden layer Z[layer] (0 < layer < L-1); an MLP joins its two weight matrices by their
    product. None when the net has no hidden layer."""
    net = case.net
    if not 0 < layer < net.L - 1:
        return None
    if any(p.layers is not None for p in net.penalties):
        return None  # a penalty on listed layers names them by number: dropping one changes its meaning
    widths = tuple(n for i, n in enumerate(net.widths) if i != layer)
    new_net = (
        replace(net, widths=widths)
        if net.spatial
        else replace(net, widths=widths, activations=tuple(a for i, a in enumerate(net.activations) if i != layer - 1))
    )
    out = _copy(case, net=new_net)
    p = out.params
    if p.Z is not None:
        del p.Z[layer]
        if out.pair is not None and layer in (out.pair[0], out.pair[0] - 1):
            out.pair, out.sep = None, None
        elif out.pair is not None and out.pair[0] > layer:
            out.pair = (out.pair[0] - 1, out.pair[1], out.pair[2])
    for mats in (p.W, p.theta):  # (amplitudes: any matrix of the joined shape keeps the case valid)
        if mats is not None:
            mats[layer - 1 : layer + 1] = [mats[layer] @ mats[layer - 1]]
    if p.b is not None:
        del p.b[layer - 1]
    return out


def rounded(case: Case, decimals: int) -> Case:
    """All numbers rounded to `decimals` (the placed pair, if any, is placed again at its separation)."""
    out = _copy(case)
    p = out.params
    for arrays in (p.Z, p.W, p.b, p.theta):
        if arrays is not None:
            arrays[:] = [np.round(a, decimals) + 0.0 for a in arrays]  # + 0.0: no -0. in a printed case
    out.X = np.round(out.X, decimals) + 0.0
    if case.net.loss not in ("bce", "softmax_ce"):  # targets keep their valid range otherwise
        out.Y = np.round(out.Y, decimals) + 0.0
    if out.pair is not None and out.sep is not None:
        out = place_pair(out, *out.pair, out.sep)
    return out


def with_dtype(case: Case, dtype) -> Case:
    """The case with every number rounded to `dtype` (the ground truth is then taken at those values)."""
    out = _copy(case)
    p = out.params
    for arrays in (p.Z, p.W, p.b, p.theta):
        if arrays is not None:
            arrays[:] = [np.asarray(a, dtype=dtype).astype(np.float64) for a in arrays]
    out.X, out.Y = (np.asarray(a, dtype=dtype).astype(np.float64) for a in (out.X, out.Y))
    return out
