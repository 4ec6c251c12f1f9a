"""Formula claims: a hand-derived formula, written as a Python function of the forward cache, is
searched for a counterexample over hypothesis-drawn networks and, when none is found, proved for a
fixed small size (claimed minus exact simplifies to 0).

A formula is ``fn(c, l) -> array``: `c` is a `View` (below), `l` a 0-based layer index (0 = layer 1,
as everywhere in the project); it returns the claimed value of `quantity` at layer `l`::

    def delta_hidden(c, l):            # delta_l = (delta_(l+1) W_(l+1)) * f_l'(h_l), batch rows
        return (c.delta[l + 1] @ c.W[l + 1]) * c.dact[l]

    claim = FormulaClaim("my-delta", "delta", delta_hidden, layers="hidden", family=Family(hidden=("tanh",)))
    verdict = check_formula(claim, seed=0)   # verdict.holds, verdict.counterexample, verdict.proof
    check_formula(claim, seed=0, raise_=True)  # or: a false claim raises derive.VerificationError

A false claim's counterexample carries its `numeric.compare.Finding` (`verdict.finding`): quantity,
layer and entry, both values, absolute error against TOLERANCES' formula rows, seed and command.

The true values come from `numeric.manual.gradients`; the search is hypothesis' own (`find`, seeded,
with its shrinking, so the counterexample has the fewest layers, nodes and dimensions and the
simplest numbers it could reach).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import HealthCheck, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from derive import MLP, Net, Params, SpecError
from derive.decide import Timeout, all_zero, time_limit
from derive.formula_view import symbolic_view
from numeric import manual
from numeric.compare import Finding, report, tolerance

__all__ = ["View", "Family", "FormulaClaim", "Counterexample", "FormulaVerdict", "view", "check_formula",
           "QUANTITIES", "LAYER_SETS"]

#: quantity name -> what it is (per layer, batch rows first).
QUANTITIES = {
    "delta": "dL/dh_l (B x N_l)", "dA": "dL/da_l (B x N_l)", "dW": "dL/dW_l (N_l x N_(l-1))",
    "db": "dL/db_l (N_l)", "dZ": "dL/dZ_l (N_l x D)", "dX": "dL/dX (B x N_1)", "dact": "f_l'(h_l) (B x N_l)",
    "W": "W_l = g(R_l) (N_l x N_(l-1))", "h": "h_l (B x N_l)", "a": "a_l (B x N_l)",
}
#: which layers a claim covers (0-based; L layers).
LAYER_SETS: dict[str, Callable[[int], list[int]]] = {
    "all": lambda L: list(range(L)), "weighted": lambda L: list(range(1, L)),
    "hidden": lambda L: list(range(1, L - 1)), "output": lambda L: [L - 1], "input": lambda L: [0],
    "below_output": lambda L: list(range(0, L - 1)), "above_first_hidden": lambda L: list(range(2, L)),
}
# One module-level strategy for every number: values in [-1.5, 1.5] rounded to 2 decimals, so
# shrinking reaches short, readable counterexamples (0, 1, 0.5 ...). Built once: hypothesis
# inspects a mapped lambda's source each time a strategy is constructed.
_NUMBER = st.floats(-1.5, 1.5, allow_nan=False).map(lambda v: round(v, 2))


@dataclass
class View:
    """The documented forward cache a formula reads; every list has L entries (index 0 = layer 1),
    entries that do not exist for a layer are None (h, W, b, dact, R, phi, dg, dW, db at layer 1).

    Attributes:
        X, Y: inputs B x N_1 and targets B x N_L.
        a, h: activations and pre-activations, B x N_l (a[0] = X).
        W: weights N_l x N_(l-1) (kernel weights g(R_l) for spatial nets). b: biases (N_l) or None.
        dact: f_l'(h_l), B x N_l. Z: coordinates N_l x D (spatial). R: distances N_l x N_(l-1).
        phi: phi(R_l) = g'(R_l)/R_l (its limit at 0). dg: g'(R_l).
        delta, dA: dL/dh_l and dL/da_l (B x N_l), true values.
        dW, db, dZ, dX, loss: true gradients (dZ only for spatial nets).
        net: the network.
    """

    net: Any
    X: Any
    Y: Any
    a: list
    h: list
    W: list
    b: list | None
    dact: list
    Z: list | None
    R: list
    phi: list
    dg: list
    delta: list
    dA: list
    dW: list
    db: list | None
    dZ: list | None
    dX: Any
    loss: Any

    @property
    def L(self) -> int:
        return self.net.L


def view(net: Net | MLP, params: Params, X, Y) -> View:
    """Forward cache plus true first derivatives (manual engine) for one case, as a `View`."""
    from derive import compile_net

    cache = manual.forward(net, params, X, Y)
    g = manual.gradients(net, params, X, Y)
    c = compile_net(net, "numpy")
    L = net.L
    with np.errstate(all="ignore"):
        dact: list[Any] = [None] + [np.broadcast_to(np.asarray(c.df[l - 1](cache.h[l]), dtype=float), cache.h[l].shape)
                                    for l in range(1, L)]
        dg: list[Any] = [None] * L
        if net.spatial:
            assert c.dg is not None  # compile_net gives every spatial net g'
            dg = [None] + [np.asarray(c.dg(r), dtype=float) for r in cache.R[1:]]
    pad = lambda xs: None if xs is None else [None, *xs]  # noqa: E731  (layers 2..L -> index 1..L-1)
    assert g.delta is not None and g.dA is not None  # every engine fills delta and dA
    return View(net=net, X=cache.X, Y=cache.Y, a=cache.a, h=cache.h, W=cache.W,
                b=pad(cache.b), dact=dact, Z=cache.Z, R=cache.R, phi=cache.phiR, dg=dg,
                delta=g.delta, dA=g.dA, dW=[None, *g.dW], db=pad(g.db), dZ=g.dZ, dX=g.dX,
                loss=g.loss)


def true_value(v: View, quantity: str, l: int):
    """The true value of `quantity` at 0-based layer `l` from a view."""
    if quantity == "dX":
        return v.dX
    # per-layer lists; db and dZ are None for nets without them (FormulaClaim rejects such families)
    table: dict[str, Any] = {"delta": v.delta, "dA": v.dA, "dW": v.dW, "db": v.db, "dZ": v.dZ, "dact": v.dact,
                             "W": v.W, "h": v.h, "a": v.a}
    return table[quantity][l]


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
        return (f"{self.kind}: L in {self.layers}, widths in {self.width}{' (uniform)' if self.uniform_width else ''}"
                f"{', D in ' + str(self.dim) if self.kind == 'spatial' else ''}, batch in {self.batch}, {acts}, "
                f"loss in {self.loss}, bias in {self.bias}"
                + (f", kernel_params {dict(self.kernel_params)}" if self.kernel_params else "")
                + (", nearly coincident nodes" if self.near else ""))

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
            return Net(widths, dim=draw(st.integers(*self.dim)), kernel=draw(st.sampled_from(self.kernels)),
                       kernel_params=kp, hidden=acts[0] if L > 2 else self.hidden[0], output=acts[-1], loss=loss,
                       bias=bias)
        return build()

    def cases(self) -> st.SearchStrategy:
        nets = self.net_strategy()  # built once: hypothesis inspects a composite's source when built

        @st.composite
        def build(draw):
            net = draw(nets)
            N = net.widths
            arr = lambda shape: np.array([draw(_NUMBER) for _ in range(int(np.prod(shape)))],  # noqa: E731
                                         dtype=float).reshape(shape)
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
            raise SpecError(f"claim {self.id!r}: unknown quantity {self.quantity!r}",
                            f"use one of {', '.join(QUANTITIES)}")
        if not isinstance(self.layers, tuple) and self.layers not in LAYER_SETS:
            raise SpecError(f"claim {self.id!r}: unknown layer set {self.layers!r}", f"use one of {', '.join(LAYER_SETS)}")
        if self.quantity == "db" and True not in self.family.bias:
            raise SpecError(f"claim {self.id!r}: db does not exist for a family without biases", "use Family(bias=(True,))")
        if self.quantity == "dZ" and self.family.kind != "spatial":
            raise SpecError(f"claim {self.id!r}: dZ does not exist for a {self.family.kind!r} family",
                            "use Family(kind=\"spatial\")")


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


def _compare(claim: FormulaClaim, l: int, claimed, true) -> tuple[tuple, Any, Any, Finding]:
    """(index, claimed entry, true entry, finding) for one layer: the worst entry of
    |claimed - true| - (atol + rtol |true|) against the manual engine (the claims report adds the
    relative error |claimed - true| / |true| of that entry)."""
    def finding(error, tol, where="", value=float("nan"), truth=float("nan"), note=""):
        return Finding(claim.quantity, f"claim {claim.id!r}", error, tol, where=f" of layer {l + 1}{where}",
                       value=value, truth=truth, measure="abs", reference="manual engine", note=note)

    try:
        c = np.asarray(claimed, dtype=float)
    except (TypeError, ValueError):
        return (), claimed, None, finding(float("inf"), 0.0, value=claimed, truth=None,
                                          note="the formula did not return a numeric array")
    t = np.asarray(true, dtype=float)
    if c.shape != t.shape:
        if c.size == t.size == 1:
            c = c.reshape(t.shape)
        else:
            return (), c.tolist(), t.tolist(), finding(float("inf"), 0.0, value=c.shape, truth=t.shape,
                                                       note=f"shape {c.shape} where the true value has shape {t.shape}")
    # float64 engine against a formula evaluated in float64 (numeric.compare.TOLERANCES says why these values)
    atol = tolerance(np.float64, "formula_atol") if claim.atol is None else claim.atol
    rtol = tolerance(np.float64, "formula_rtol") if claim.rtol is None else claim.rtol
    band = atol + rtol * np.abs(t)
    err = np.abs(c - t) - band
    if np.all(err <= 0):
        return (), None, None, finding(0.0, 0.0)
    idx = tuple(int(i) for i in np.unravel_index(int(np.nanargmax(np.where(np.isnan(err), np.inf, err))), t.shape))
    diff = abs(float(c[idx]) - float(t[idx]))
    return idx, float(c[idx]), float(t[idx]), finding(float("inf") if np.isnan(diff) else diff, float(band[idx]),
                                                      f", entry {list(idx)}", float(c[idx]), float(t[idx]))


def layers_of(claim: FormulaClaim, L: int) -> list[int]:
    """0-based layers of an L-layer network that `claim` covers."""
    if isinstance(claim.layers, tuple):
        return [l for l in claim.layers if 0 <= l < L]
    return LAYER_SETS[claim.layers](L)


def _evaluate(claim: FormulaClaim, net, params, X, Y):
    """None when the claim holds on this case, else a Counterexample. Cases where the formula as
    written is undefined (a division by a zero distance) are skipped: they say nothing."""
    v = view(net, params, X, Y)
    for l in layers_of(claim, net.L):
        try:
            with np.errstate(all="ignore"):
                claimed = claim.fn(v, l)
        except (ValueError, IndexError) as exc:  # a product whose shapes do not match
            msg = str(exc).splitlines()[0]
            true = np.asarray(true_value(v, claim.quantity, l)).tolist()
            f = Finding(claim.quantity, f"claim {claim.id!r}", float("inf"), 0.0, where=f" of layer {l + 1}",
                        value=None, truth=true, measure="abs", reference="manual engine",
                        note=f"the formula is undefined here ({msg})")
            return Counterexample(net.describe(), _params_dict(params), X.tolist(), Y.tolist(), l + 1, (),
                                  None, true, f.describe(), f)
        if claimed is not None and not np.all(np.isfinite(np.asarray(claimed, dtype=float))):
            if net.spatial and any(np.any(r == 0) for r in v.R[1:]):
                return None
        idx, c, t, f = _compare(claim, l, claimed, true_value(v, claim.quantity, l))
        if not f.ok:
            return Counterexample(net.describe(), _params_dict(params), X.tolist(), Y.tolist(), l + 1, idx, c, t,
                                  f.describe(), f)
    return None


def _params_dict(p: Params) -> dict:
    out = {}
    for k in ("Z", "W", "b"):
        val = getattr(p, k)
        if val is not None:
            out[k] = [np.asarray(x).tolist() for x in val]
    return out


def check_formula(claim: FormulaClaim, *, seed: int = 0, cases: int = 60, prove: bool = True,
                  source: str = "", raise_: bool = False) -> FormulaVerdict:
    """Search for a counterexample to `claim`; prove it for a small size when none is found.

    Args:
        claim: the formula. seed: hypothesis' random seed (printed in the reproducing command).
        cases: how many drawn networks to try. prove: attempt the symbolic proof when it holds.
        source: the claims file (for the reproducing command).
        raise_: raise the counterexample's finding instead of returning it.

    Returns:
        A `FormulaVerdict`; `counterexample` is the shrunk case when the claim fails.

    Raises:
        VerificationError: the claim is false and `raise_` is set (via `numeric.compare.report`).
    """
    found: list = []

    def fails(case) -> bool:
        net, params, X, Y = case
        try:
            ce = _evaluate(claim, net, params, X, Y)
        except SpecError:  # e.g. a loss not finite at this draw: not a case of the claim
            return False
        if ce is not None:
            found.append(ce)
        return ce is not None

    cfg = settings(max_examples=cases, database=None, deadline=None,
                   suppress_health_check=list(HealthCheck))
    command = f"derivcheck claims {source or '<file>'} --only {claim.id} --seed {seed}"
    try:
        net, params, X, Y = find(claim.family.cases(), fails, settings=cfg, random=random.Random(seed))
    except NoSuchExample:
        proof = ""
        if prove:
            proof = prove_formula(claim)
        return FormulaVerdict(claim, True, cases, seed, None, proof, command)
    ce = _evaluate(claim, net, params, X, Y)
    if ce is not None and ce.finding is not None:
        ce.finding.seed, ce.finding.command = seed, command
        ce.message = ce.finding.describe(reproduce=False)
        report(ce.finding, raise_=raise_)
    return FormulaVerdict(claim, False, cases, seed, ce, "", command)


# --------------------------------------------------------------------------------------------------
# Symbolic proof for a fixed small size: the View's entries are exact SymPy expressions
# (derive.formula_view.symbolic_view), and claimed minus true must be exactly 0 (derive.decide.is_zero).


def _proof_net(claim: FormulaClaim):
    """The smallest network of the family on which the claim covers at least one layer, with widths
    of at least 2 where the family allows (a 1-wide proof cannot see a transposed product)."""
    fam = claim.family
    if claim.proof_size is not None:
        widths, dim, batch = claim.proof_size
    else:
        lo = len(fam.activations) + 1 if fam.activations else fam.layers[0]
        hi = len(fam.activations) + 1 if fam.activations else fam.layers[1]
        # three layers when allowed: input, hidden and output roles all appear (at L = 2 a formula
        # that confuses h and a of a hidden layer cannot be told apart from the right one)
        L = min(max(lo, 3), hi)
        if not layers_of(claim, L):
            L = next((n for n in range(max(lo, 2), hi + 1) if layers_of(claim, n)), hi)
        w = min(max(2, fam.width[0]), fam.width[1])
        widths = (w,) * L
        if fam.scalar_output:
            widths = widths[:-1] + (1,)
        dim, batch = fam.dim[0], fam.batch[0]
    L = len(widths)
    acts = fam.activations or tuple([fam.hidden[0]] * (L - 2) + [fam.output[0]])
    generic = fam.activations is None and (len(fam.hidden) > 1 or len(fam.output) > 1)
    net: Net | MLP
    if fam.kind == "mlp":
        net = MLP(tuple(widths), activations=acts, loss=fam.loss[0], bias=fam.bias[0])
    else:
        net = Net(tuple(widths), dim=dim, kernel=fam.kernels[0], hidden=acts[0], output=acts[-1],
                  loss=fam.loss[0], bias=fam.bias[0])
    return net, batch, generic


#: seconds a symbolic proof may take before the verdict rests on the numeric search alone
PROOF_SECONDS = 20.0


def prove_formula(claim: FormulaClaim, seconds: float = PROOF_SECONDS) -> str:
    """Try to prove `claim` symbolically on the smallest suitable size; returns "proved for ..." or
    "" when the difference does not simplify to 0 within `seconds` (the numeric evidence then stands
    alone)."""
    try:
        with time_limit(seconds):
            return _prove(claim) or ""
    except Timeout:
        return ""


def _prove(claim: FormulaClaim) -> str:
    net, batch, generic = _proof_net(claim)
    if net.spatial and claim.quantity == "dW":
        return ""  # kernel weights are not free symbols here; dW is checked numerically
    try:
        v = View(**symbolic_view(net, batch, generic))
        for l in layers_of(claim, net.L):
            claimed = np.asarray(claim.fn(v, l), dtype=object)
            exact = np.asarray(true_value(v, claim.quantity, l), dtype=object)
            if claimed.shape != exact.shape:
                if claimed.size == exact.size == 1:
                    claimed = claimed.reshape(exact.shape)
                else:
                    return ""
            if not all_zero([c - t for c, t in zip(claimed.ravel(), exact.ravel())]):
                return ""
    except (ValueError, TypeError, AttributeError, IndexError):
        return ""
    L = net.L
    dims = f", D = {net.dim}" if net.spatial else ""
    acts = "any differentiable activations" if generic else "activations " + ", ".join(
        net.f(l).name if hasattr(net.f(l), "name") else str(l) for l in range(2, L + 1))
    return (f"proved for (L, N, B) = ({L}, {'x'.join(map(str, net.widths))}, {batch}){dims} "
            f"with {acts}, loss {net.loss}")
