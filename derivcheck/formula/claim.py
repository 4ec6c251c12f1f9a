"""A formula claim: what it computes (`FormulaClaim`), on which networks (`Family`, a hypothesis
strategy of cases), and what checking it returns (`Counterexample`, `FormulaVerdict`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st

from derivcheck.formula.view import QUANTITIES, View
from derive import MLP, Net, Params, SpecError
from numeric.compare import Finding

__all__ = ["LAYER_SETS", "Family", "FormulaClaim", "Counterexample", "FormulaVerdict", "layers_of"]


#: which layers a claim covers (0-based; L layers).
LAYER_SETS: dict[str, Callable[[int], list[int]]] = {
    "all": lambda L: list(range(L)),
    "weighted": lambda L: list(range(1, L)),
    "hidden": lambda L: list(range(1, L - 1)),
    "output": lambda L: [L - 1],
    "input": lambda L: [0],
    "below_output": lambda L: list(range(0, L - 1)),
    "above_first_hidden": lambda L: list(range(2, L)),
}
# One module-level strategy for every number: values in [-1.5, 1.5] rounded to 2 decimals, so
# shrinking reaches short, readable counterexamples (0, 1, 0.5 ...). Built once: hypothesis
# inspects a mapped lambda's source each time a strategy is constructed.
_NUMBER = st.floats(-1.5, 1.5, allow_nan=False).map(lambda v: round(v, 2))


@dataclass(frozen=True)
class Family:
    """The networks a claim is stated for (what hypothesis draws from).

    Args:
        kind: "mlp" (explicit weights) or "spatial" (coordinates, kernel weights).
        layers, width, dim, batch: inclusive (min, max) ranges; hypothesis shrinks toward the minimum.
        uniform_width: all layers the same width (the Hilbert-space note's N neurons per layer).
        hidden: activations allowed for hidden layers; output: for the output layer.
        activations: a fixed per-layer tuple (layers 2..L) instead of hidden/output (fixes L).
        loss: allowed losses. bias: allowed bias settings. kernels: allowed kernels (spatial).
        kernel_params: kernel parameter values, name -> a value or a tuple of values to draw from
            (e.g. {"s": (0.5, 1.0)} with kernels=("exp(-r**2/s**2)",)); library defaults fill the rest.
        scalar_output: output width fixed to 1.
        near: also draw nearly coincident node pairs (spatial): one node of layer 2 placed at
            10^-k (k in 3..7) from a node of layer 1, where formulas with a division by the distance
            or an epsilon in it break.
    """

    kind: str = "mlp"
    layers: tuple[int, int] = (2, 4)
    width: tuple[int, int] = (1, 3)
    dim: tuple[int, int] = (1, 2)
    batch: tuple[int, int] = (1, 2)
    uniform_width: bool = False
    hidden: tuple[str, ...] = ("identity", "tanh", "sigmoid", "relu", "softplus")
    output: tuple[str, ...] = ("identity", "sigmoid", "tanh")
    activations: tuple[str, ...] | None = None
    loss: tuple[str, ...] = ("sse_half",)
    bias: tuple[bool, ...] = (True,)
    kernels: tuple[str, ...] = ("gaussian", "inverse_quadratic", "exponential")
    scalar_output: bool = False
    kernel_params: Any = ()  # a mapping (or (name, value) pairs); a frozen dataclass keeps it as given
    near: bool = False

    def describe(self) -> str:
        acts = f"activations={self.activations}" if self.activations else f"hidden={self.hidden}, output={self.output}"
        return (
            f"{self.kind}: L in {self.layers}, widths in {self.width}{' (uniform)' if self.uniform_width else ''}"
            f"{', D in ' + str(self.dim) if self.kind == 'spatial' else ''}, batch in {self.batch}, {acts}, "
            f"loss in {self.loss}, bias in {self.bias}"
            + (f", kernel_params {dict(self.kernel_params)}" if self.kernel_params else "")
            + (", nearly coincident nodes" if self.near else "")
        )

    def net_strategy(self) -> st.SearchStrategy:
        @st.composite
        def build(draw):
            if self.activations is not None:
                L = len(self.activations) + 1
            else:
                L = draw(st.integers(*self.layers))
            if self.uniform_width:
                widths = (draw(st.integers(*self.width)),) * L
            else:
                widths = tuple(draw(st.integers(*self.width)) for _ in range(L))
            if self.scalar_output:
                widths = widths[:-1] + (1,)
            loss = draw(st.sampled_from(self.loss))
            bias = draw(st.sampled_from(self.bias))
            if self.activations is not None:
                acts = self.activations
            else:
                acts = tuple(draw(st.sampled_from(self.hidden)) for _ in range(L - 2))
                acts = acts + (draw(st.sampled_from(self.output)),)
            if self.kind == "mlp":
                return MLP(widths, activations=acts, loss=loss, bias=bias)
            # spatial nets have one hidden activation for all hidden layers
            choices = dict(self.kernel_params)
            kp = {k: float(draw(st.sampled_from(v)) if isinstance(v, (tuple, list)) else v) for k, v in choices.items()}
            return Net(
                widths,
                dim=draw(st.integers(*self.dim)),
                kernel=draw(st.sampled_from(self.kernels)),
                kernel_params=kp,
                hidden=acts[0] if L > 2 else self.hidden[0],
                output=acts[-1],
                loss=loss,
                bias=bias,
            )

        return build()

    def cases(self) -> st.SearchStrategy:
        nets = self.net_strategy()  # built once: hypothesis inspects a composite's source when built

        @st.composite
        def build(draw):
            net = draw(nets)
            N = net.widths

            def arr(shape):
                return np.array([draw(_NUMBER) for _ in range(int(np.prod(shape)))], dtype=float).reshape(shape)

            b = [arr((n,)) for n in N[1:]] if net.bias else None
            if net.spatial:
                Z = [arr((n, net.dim)) for n in N]
                if not net.g.gradient_at_0:  # g'(0) != 0: the loss is not differentiable at coincident nodes
                    for l in range(1, net.L):
                        for i in range(N[l]):
                            for j in range(N[l - 1]):
                                if np.array_equal(Z[l][i], Z[l - 1][j]):
                                    Z[l][i, 0] += 0.5
                if self.near and draw(st.booleans()):  # node i of layer 2 next to node j of layer 1
                    i, j = draw(st.integers(0, N[1] - 1)), draw(st.integers(0, N[0] - 1))
                    Z[1][i] = Z[0][j] + 10.0 ** -draw(st.integers(3, 7)) * np.eye(net.dim)[0]
                params = Params(Z=Z, b=b)
            else:
                params = Params(W=[arr((N[l + 1], N[l])) for l in range(net.L - 1)], b=b)
            B = draw(st.integers(*self.batch))
            return net, params, arr((B, N[0])), arr((B, N[-1]))

        return build()


@dataclass
class FormulaClaim:
    """A formula as written in a document.

    Args:
        id: short identifier (unique within its file).
        quantity: key of `QUANTITIES` the formula claims to compute.
        fn: ``fn(view, l) -> array`` the claimed value at 0-based layer `l`.
        layers: key of `LAYER_SETS`, or a tuple of 0-based layer indices, the layers the formula is
            stated for (indices beyond a drawn network's depth are ignored).
        family: the networks it is stated for.
        where: location in the document ("eq. (8)", "Corollary 1.2.1").
        text: the formula as printed (LaTeX, for the report).
        correct: the correct formula (LaTeX), shown in the errata when the claim fails.
        note: reading chosen and the alternative, for ambiguous formulas.
        proof_size: (widths, dim, batch) for the symbolic proof; None picks the smallest in the family.
        rtol, atol: this claim's tolerance, |claimed - true| <= atol + rtol |true| entrywise (default:
            numeric.compare.TOLERANCES' formula rows; a claim about a lossy approximation states its own).
    """

    id: str
    quantity: str
    fn: Callable[[View, int], Any]
    layers: str | tuple[int, ...] = "weighted"
    family: Family = field(default_factory=Family)
    where: str = ""
    text: str = ""
    correct: str = ""
    note: str = ""
    proof_size: tuple | None = None
    rtol: float | None = None
    atol: float | None = None

    def __post_init__(self):
        for name in ("rtol", "atol"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, (int, float)) and v >= 0 and np.isfinite(v)):
                raise SpecError(f"claim {self.id!r}: {name} = {v!r}", f"give {name} as a number >= 0")
        if self.quantity not in QUANTITIES:
            raise SpecError(f"claim {self.id!r}: unknown quantity {self.quantity!r}", f"use one of {', '.join(QUANTITIES)}")
        if not isinstance(self.layers, tuple) and self.layers not in LAYER_SETS:
            raise SpecError(f"claim {self.id!r}: unknown layer set {self.layers!r}", f"use one of {', '.join(LAYER_SETS)}")
        if self.quantity == "db" and True not in self.family.bias:
            raise SpecError(f"claim {self.id!r}: db does not exist for a family without biases", "use Family(bias=(True,))")
        if self.quantity == "dZ" and self.family.kind != "spatial":
            raise SpecError(f"claim {self.id!r}: dZ does not exist for a {self.family.kind!r} family", 'use Family(kind="spatial")')


@dataclass
class Counterexample:
    """The minimal failing case hypothesis reached, with where and by how much the claim fails;
    `message` is its `numeric.compare.Finding`'s line (quantity, layer, entry, both values, error,
    tolerance, seed) and `finding` the finding itself."""

    net: str
    params: dict
    X: list
    Y: list
    layer: int  # 1-based, as in MATH.md
    index: tuple
    claimed: Any
    true: Any
    message: str
    finding: Finding | None = field(default=None, repr=False, compare=False)


@dataclass
class FormulaVerdict:
    """Result of `check_formula`: `holds`, how (`evidence`), and the counterexample when false."""

    claim: FormulaClaim
    holds: bool
    cases: int
    seed: int
    counterexample: Counterexample | None = None
    proof: str = ""
    command: str = ""

    @property
    def finding(self) -> Finding | None:
        """The failed check (None when the claim holds)."""
        return None if self.counterexample is None else self.counterexample.finding

    @property
    def evidence(self) -> str:
        if not self.holds:
            return "counterexample found"
        return self.proof or f"no counterexample in {self.cases} cases (no symbolic proof reached)"


def layers_of(claim: FormulaClaim, L: int) -> list[int]:
    """0-based layers of an L-layer network that `claim` covers."""
    if isinstance(claim.layers, tuple):
        return [l for l in claim.layers if 0 <= l < L]
    return LAYER_SETS[claim.layers](L)
