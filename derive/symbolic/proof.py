"""The derivation report's exact objects (`Derivation`): W, delta, dW, dZ, dtheta and a Hessian block from
the flat objective, the note's eq. (8) in its two variants (with free amplitudes and penalties when the net
has them), and its symbolic proof (`proof_eq8`)."""

from __future__ import annotations

import sympy as sp

from derive.decide import zero_verdict
from derive.errors import SpecError
from derive.net import Net
from derive.primitives import R, X
from derive.symbolic.flat_route import flat_loss
from derive.symbolic.template import drop_dirac

__all__ = ["Derivation", "derivation", "MAX_EDGES", "MAX_COORDS"]

#: size budget of one derivation (edges x batch rows): it writes out every entry and proves each
#: coordinate's formula, so its time grows faster than the edges (6,10,5 in D = 3, 110 edges: ~50 s;
#: 10,20,10, 400 edges: over 5 minutes)
MAX_EDGES = 128
#: and of its coordinates (each one's formula is proved; 2,2,1 in D = 40, 200 coordinates, ran past 90 s)
MAX_COORDS = 64


class Derivation:
    """Exact SymPy objects that a report typesets, for one net and batch (MATH.md, first and second
    order), all derived from `flat_loss` by `sympy.diff`:

    Attributes (lazy):
        W: per layer 2..L, the N_l x N_(l-1) Matrix of W_ij as functions of the coordinates.
        loss: the exact objective J = L + penalties (L alone for the note's model).
        data_loss, penalty: its two parts (penalty 0 without penalty terms).
        delta: per layer 2..L, B x N_l Matrix of dL/dh_l (differentiating L as a function of h_l).
        dW: per layer 2..L, dL/dW_l with the weights treated as free symbols (eq. (4)).
        dZ: per layer 1..L, N_l x D Matrix of dJ/dZ_l (spatial nets).
        dtheta: per layer 2..L, dJ/dtheta_l (free amplitudes; [] otherwise).
        hessian_block: D x D block d2L/dz dz^T for node 0 of layer min(2, L-1)+... (the first hidden
            node, or node 0 of layer 2 for L = 2).
    """

    def __init__(self, net: Net, batch: int = 1):
        if not net.spatial:
            raise SpecError("derivation() needs a spatial Net", "pass a derive.Net (coordinates), not an MLP")
        edges = sum(a * b for a, b in zip(net.widths, net.widths[1:]))
        if net.n_coords > MAX_COORDS:
            raise SpecError(
                f"a derivation of widths {','.join(map(str, net.widths))} in D = {net.dim} has {net.n_coords} "
                f"coordinates, over the {MAX_COORDS} it writes out and proves in minutes",
                "derive a smaller net or fewer dimensions, e.g. --widths 3,4,2 --dim 3",
            )
        if edges * batch > MAX_EDGES:
            raise SpecError(
                f"a derivation of widths {','.join(map(str, net.widths))} (batch {batch}) has {edges * batch} edge "
                f"terms, over the {MAX_EDGES} it writes out and proves in minutes",
                "derive a smaller net with the same layers, e.g. --widths 3,4,2",
            )
        self.net, self.batch = net, batch
        self.flat = flat_loss(net, batch)
        self.loss = self.flat.expr
        self.penalty = self.flat.penalty
        self.data_loss = self.loss - self.penalty
        self.W = self.flat.W
        self._cache: dict = {}

    def _memo(self, key, fn):
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    def _loss_from(self, l: int, start: sp.Matrix, free_W=None):
        """The loss with layer l's pre-activation (or weights) replaced by free symbols."""
        fl, net, B = self.flat, self.net, self.batch
        L = net.L
        if free_W is None:
            a = start.applyfunc(lambda v: net.f(l).expr.xreplace({X: v}))
            first = l + 1
        else:
            h = fl.a[l - 2] * free_W.T
            if net.bias:
                h = h + sp.ones(B, 1) * fl.biases[l - 2]
            a = h.applyfunc(lambda v: net.f(l).expr.xreplace({X: v}))
            first = l + 1
        for m in range(first, L + 1):
            h = a * fl.W[m - 2].T
            if net.bias:
                h = h + sp.ones(B, 1) * fl.biases[m - 2]
            a = h.applyfunc(lambda v: net.f(m).expr.xreplace({X: v}))
        obj = net.objective
        return sp.Add(*[obj.row(list(a.row(b)), list(fl.y.row(b))) for b in range(B)]) / obj.divisor(B, net.widths[-1])

    @property
    def delta(self) -> list[sp.Matrix]:
        def make():
            out = []
            for l in range(2, self.net.L + 1):
                Hs = sp.Matrix(self.batch, self.net.widths[l - 1], lambda b, i: sp.Symbol(f"H{b}_{i}", real=True))
                Ll = self._loss_from(l, Hs)
                sub = dict(zip(Hs, self.flat.h[l - 2]))
                out.append(Hs.applyfunc(lambda s: drop_dirac(sp.diff(Ll, s)).xreplace(sub)))
            return out

        return self._memo("delta", make)

    @property
    def dW(self) -> list[sp.Matrix]:
        def make():
            out = []
            for l in range(2, self.net.L + 1):
                Ws = sp.Matrix(*self.flat.W[l - 2].shape, lambda i, j: sp.Symbol(f"W{i}_{j}", real=True))
                Ll = self._loss_from(l, None, free_W=Ws)
                sub = dict(zip(Ws, self.flat.W[l - 2]))
                out.append(Ws.applyfunc(lambda s: drop_dirac(sp.diff(Ll, s)).xreplace(sub)))
            return out

        return self._memo("dW", make)

    @property
    def dZ(self) -> list[sp.Matrix]:
        Zs = self.flat.params[: self.net.L]
        return self._memo("dZ", lambda: [Z.applyfunc(lambda s: drop_dirac(sp.diff(self.loss, s))) for Z in Zs])

    @property
    def thetas(self) -> list[sp.Matrix]:
        """The amplitude symbols theta_l (layers 2..L), [] unless the amplitudes are free."""
        return self.flat.params[self.net.L :] if self.net.free else []

    @property
    def dtheta(self) -> list[sp.Matrix]:
        return self._memo("dtheta", lambda: [T.applyfunc(lambda s: drop_dirac(sp.diff(self.loss, s))) for T in self.thetas])

    @property
    def hessian_block(self) -> sp.Matrix:
        l = 1 if self.net.L > 2 else 0
        z = self.flat.params[l]
        return self._memo("hess", lambda: sp.Matrix(self.net.dim, self.net.dim, lambda d, e: sp.diff(self.dZ[l][0, d], z[0, e])))

    def penalty_partials(self, l: int) -> tuple[sp.Matrix, sp.Matrix]:
        """(P_r, P_w) for layer l (2..L): N_l x N_(l-1) Matrices of sum_p c_p d rho_p/dr and d rho_p/dw at
        (r_ij, W_ij), over the penalty terms covering layer l (zeros without any)."""
        from derive.primitives.penalty import RW, WW

        fl = self.flat
        terms = self.net.layer_penalties(l)

        def part(key):
            def at(i, j):
                sub = {RW: fl.dist[l - 2][i, j], WW: fl.W[l - 2][i, j]}
                return sp.Add(*[sp.Rational(p.coef_exact(self.net.widths)) * p.d[key].xreplace(sub) for p, _ in terms])

            return sp.Matrix(*fl.W[l - 2].shape, at)

        return self._memo(("penalty_partials", l), lambda: (part("rho_r"), part("rho_w")))

    def _dW_formula(self, variant: str) -> list[sp.Matrix]:
        """dJ/dW per layer 2..L as the formula writes it: sum_b delta_bi v_bj + P_w (v = a or h)."""
        if variant not in ("a", "h"):
            raise SpecError(f"unknown eq. (8) variant {variant!r}", "use 'a' (MATH.md) or 'h' (the note as printed)")
        fl = self.flat
        v = fl.a if variant == "a" else [fl.x] + fl.h
        return self._memo(
            ("dJdW", variant),  # eq8 and dtheta_formula both use it: one symbolic product per layer
            lambda: [self.delta[l - 2].T * v[l - 2] + self.penalty_partials(l)[1] for l in range(2, self.net.L + 1)],
        )

    def eq8(self, variant: str = "a") -> list[sp.Matrix]:
        """The note's eq. (8) instantiated for this net, per layer 1..L (N_l x D Matrices), widened to free
        amplitudes and penalties (theta = 1 and P = 0 give the note's formula):
        dJ/dz^l_i = sum_j e^l_ij (z^l_i - z^(l-1)_j)/r^l_ij + sum_k e^(l+1)_ki (z^l_i - z^(l+1)_k)/r^(l+1)_ki,
        e_ij = (dW_ij + P_w) theta_ij g'(r_ij) + P_r, with dW^l_ij = sum_b delta^l_bi v^(l-1)_bj, v = a
        (MATH.md, `variant="a"`) or v = h (the note as printed, `variant="h"`; h of the input layer is x),
        P_r, P_w the penalties' partial derivatives on the edge (`penalty_partials`)."""
        net, fl = self.net, self.flat
        Z = fl.params
        dg = net.g.dg
        dJdW = self._dW_formula(variant)

        def edge(l, i, j):  # e^l_ij: the factor of (z^l_i - z^(l-1)_j) / r^l_ij
            r = fl.dist[l - 2][i, j]
            theta = self.thetas[l - 2][i, j] if net.free else sp.S.One
            return (dJdW[l - 2][i, j] * theta * dg.subs(R, r) + self.penalty_partials(l)[0][i, j]) / r

        def term(l, i, j, d, sign):  # edge between node i of layer l (1-based) and node j of layer l-1
            return edge(l, i, j) * sign * (Z[l - 1][i, d] - Z[l - 2][j, d])

        def entry(l, i, d):
            s = sp.S.Zero
            if l >= 2:
                s += sum(term(l, i, j, d, 1) for j in range(net.widths[l - 2]))
            if l < net.L:
                s += sum(term(l + 1, k, i, d, -1) for k in range(net.widths[l]))
            return s

        return self._memo(
            ("eq8", variant),
            lambda: [sp.Matrix(net.widths[l - 1], net.dim, lambda i, d: entry(l, i, d)) for l in range(1, net.L + 1)],
        )

    def dtheta_formula(self, variant: str = "a") -> list[sp.Matrix]:
        """dJ/dtheta^l_ij = (dW^l_ij + P_w) g(r^l_ij) per layer 2..L (free amplitudes; [] otherwise)."""
        if not self.net.free:
            return []
        g = self.net.g.bound
        dJdW = self._dW_formula(variant)
        return [M.multiply_elementwise(D.applyfunc(lambda r: g.subs(R, r))) for M, D in zip(dJdW, self.flat.dist)]

    def n_checked(self) -> int:
        """How many differences `proof_eq8` decides: every coordinate, and every amplitude when free."""
        return self.net.n_coords + sum(len(T) for T in self.thetas)

    def proof_eq8(self, variant: str = "a", on_step=None) -> bool | None:
        """True when formula - exact expands or simplifies to 0 for every coordinate (eq. (8)) and every
        amplitude (`dtheta_formula`, free amplitudes): a symbolic proof. False when a difference is
        nonzero at an exact rational point (40 digits): a disproof. None when neither is reached within
        the step budgets (`derive.decide.zero_verdict`): undecided, never reported as either.
        `on_step(done, total)` is called after each difference (a progress display)."""
        pairs = list(zip(self.eq8(variant), self.dZ)) + list(zip(self.dtheta_formula(variant), self.dtheta))
        diffs = [f - ex for F, G in pairs for f, ex in zip(F, G)]
        rest = []  # SymEngine's expansion proves most differences zero at once; SymPy decides the rest together
        for k, e in enumerate(diffs):  # (one rational point disproves any of them first: a fast "no")
            if not _expands_to_zero(_generic(e)):
                rest.append(e)
            if on_step is not None:
                on_step(k + 1, len(diffs))
        return zero_verdict(rest, proof_form=_generic) if rest else True


def _generic(e: sp.Expr) -> sp.Expr:
    """`e` with sign(u) written u/|u|, for the proof: the formulas hold where r > 0 and w != 0, and in
    D = 1 (r = |z - z'|) the exact side says sign(z - z') where the formula says (z - z')/r."""
    return e.replace(sp.sign, lambda u: u / sp.Abs(u)) if e.has(sp.sign) else e


def _expands_to_zero(e: sp.Expr) -> bool:
    """True when SymEngine's expansion of `e` is exactly 0: a proof (exact arithmetic, functions kept as
    they are), about 10x faster than SymPy's expand on eq. (8)'s differences. False proves nothing: the
    caller falls back to `derive.decide.zero_verdict` (rational-point disproof, expand, simplify)."""
    try:
        import symengine as se
    except ImportError:  # pragma: no cover  (a core dependency; a bare environment without it: SymPy alone decides)
        return False
    try:
        return bool(se.expand(se.sympify(e)) == 0)
    except Exception:  # noqa: BLE001  a function SymEngine cannot convert: SymPy decides
        return False


def derivation(net: Net | None = None, batch: int = 1) -> Derivation:
    """The report's derivation; default net L=3, widths (2, 2, 1), D=3, gaussian, tanh, mse."""
    return Derivation(net or Net((2, 2, 1), dim=3, kernel="gaussian", hidden="tanh", loss="mse"), batch)
