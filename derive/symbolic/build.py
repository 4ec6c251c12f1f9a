"""The forward pass of a net on a batch as a `Program` of intermediate symbols, and its symbolic reverse
sweep: `build_program` returns a `Built` (leaf and node names, the loss node, the adjoints)."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from derive import layout
from derive.errors import SpecError
from derive.net import MLP, Net
from derive.symbolic.program import Program
from derive.symbolic.templates import (
    activation_template,
    kernel_templates,
    loss_template,
    penalty_template,
    weight_penalty_template,
)

__all__ = ["Built", "build_program"]


# -- the program ------------------------------------------------------------------------------------
@dataclass
class Built:
    """A net's forward program and its gradient (names in the program).

    Attributes:
        prog: the program. params: leaf names of the trainable parameters (Z or W), layer by layer,
            node by node, dim (or column) last. biases: leaf names of b (layers 2..L) or [].
        x, y: leaf names of the batch inputs/targets (B x N_1, B x N_L, row-major).
        W: node names of the weights, per layer 2..L, N_l x N_(l-1) nested lists.
        loss: the loss node. bar: adjoints {name: adjoint}.
    """

    net: Net | MLP
    batch: int
    prog: Program
    params: list[list]
    biases: list[list]
    x: list[list[str]]
    y: list[list[str]]
    W: list[list[list[str]]]
    h: list = field(default_factory=list)
    a: list = field(default_factory=list)
    loss: str = ""
    bar: dict = field(default_factory=dict)

    @property
    def inputs(self) -> list[str]:
        return flat_names(self.params) + flat_names(self.biases) + flat_names(self.x) + flat_names(self.y)


def flat_names(nested):
    """The names in nested lists, depth-first in order (the flat order of `Built`'s fields)."""
    out = []
    for v in nested:
        out.extend(flat_names(v) if isinstance(v, list) else [v])
    return out


def build_program(net: Net | MLP, batch: int = 1, backend: str = "sympy") -> Built:
    """The forward pass of `net` on a batch of `batch` rows as a `Program`, and its reverse sweep.

    Forward (MATH.md): r2_ij = sum_d (z_id - z_jd)^2, W_ij = G0(r2_ij), h_l = a_(l-1) W_l^T + b_l,
    a_l = f_l(h_l), L = sum_b row(a_L[b], y[b]) / divisor(B, K); penalties add c rho(r_ij, W_ij) per
    covered edge (an MLP's: c rho(W_ij) on its weight leaves), J = L + their sum.
    """
    if backend not in ("sympy", "symengine"):
        raise SpecError(f"unknown symbolic backend {backend!r}", "use backend='sympy' or 'symengine'")
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise SpecError(f"batch size {batch!r} must be an integer >= 1", "pass batch=B with B >= 1")
    p = Program()
    N, L, B = net.widths, net.L, batch
    thetas: list = []
    if net.spatial:
        params = [[[p.leaf(f"z{l + 1}_{i}_{d}") for d in range(net.dim)] for i in range(N[l])] for l in range(L)]
        G0 = kernel_templates(net, backend)[0]
        if net.free:  # amplitudes theta_ij: leaves after the coordinates (derive.layout)
            thetas = [[[p.leaf(f"t{l + 2}_{i}_{j}") for j in range(N[l])] for i in range(N[l + 1])] for l in range(L - 1)]
    else:
        params = [[[p.leaf(f"w{l + 2}_{i}_{j}") for j in range(N[l])] for i in range(N[l + 1])] for l in range(L - 1)]
    biases = [[p.leaf(f"b{l + 2}_{i}") for i in range(N[l + 1])] for l in range(L - 1)] if net.bias else []
    x = [[p.leaf(f"x{b}_{j}") for j in range(N[0])] for b in range(B)]
    y = [[p.leaf(f"y{b}_{k}") for k in range(N[-1])] for b in range(B)]
    params = params + thetas
    for n in flat_names(params) + flat_names(biases) + flat_names(x) + flat_names(y):
        p.labels[n] = n
    Ws, hs, As = [], [], [x]
    pen_nodes: list[tuple] = []  # (coefficient, node) of every penalty term on every edge
    a = x
    for l in range(1, L):
        if net.spatial:
            Wl = []
            for i in range(N[l]):
                row = []
                for j in range(N[l - 1]):
                    dz = [
                        p.lin([(1, (params[l][i][d],)), (-1, (params[l - 1][j][d],))], f"dz[{l + 1}]({i},{j},{d})", inline=False)
                        for d in range(net.dim)
                    ]
                    r2 = p.lin([(1, (v, v)) for v in dz], f"r2[{l + 1}]({i},{j})", inline=False)
                    if net.free:
                        k = p.tmpl(G0, (r2,), f"g[{l + 1}]({i},{j})")
                        w = p.lin([(1, (thetas[l - 1][i][j], k))], f"W[{l + 1}]({i},{j})", inline=False)
                    else:
                        w = p.tmpl(G0, (r2,), f"W[{l + 1}]({i},{j})")
                    for t, (pen, _) in enumerate(net.layer_penalties(l + 1)):
                        node = p.tmpl(penalty_template(pen, backend), (r2, w), f"rho{t}[{l + 1}]({i},{j})")
                        pen_nodes.append((pen.coef_exact(net.widths), node))
                    row.append(w)
                Wl.append(row)
        else:
            Wl = params[l - 1]
            for t, (pen, _) in enumerate(net.layer_penalties(l + 1)):  # rho(w) on the weight leaves
                T = weight_penalty_template(pen, backend)
                for i in range(N[l]):
                    for j in range(N[l - 1]):
                        pen_nodes.append((pen.coef_exact(net.widths), p.tmpl(T, (Wl[i][j],), f"rho{t}[{l + 1}]({i},{j})")))
        f = activation_template(
            net.hidden if (net.spatial and l < L - 1) else (net.output if net.spatial else net.activations[l - 1]),
            backend,
            net.relu_grad_at_zero,
        )
        h = [
            [
                p.lin(
                    [(1, (Wl[i][j], a[b][j])) for j in range(N[l - 1])] + ([(1, (biases[l - 1][i],))] if net.bias else []),
                    f"h[{l + 1}]({b},{i})",
                    inline=False,
                )
                for i in range(N[l])
            ]
            for b in range(B)
        ]
        a = h if f is None else [[p.tmpl(f, (v,), f"a[{l + 1}]({b},{i})") for i, v in enumerate(hb)] for b, hb in enumerate(h)]
        Ws.append(Wl)
        hs.append(h)
        As.append(a)
    K = N[-1]
    T = loss_template(net.loss, K, backend)
    rows = [p.tmpl(T, tuple(a[b]) + tuple(y[b]), f"row({b})") for b in range(B)]
    div = net.objective.divisor(B, K)
    # J = L + sum of penalty terms (coefficients exact: the float's decimal repr as a fraction)
    loss = p.lin([(Fraction(1, div), (r,)) for r in rows] + [(c, (n,)) for c, n in pen_nodes], "L", inline=False)
    built = Built(net, B, p, params, biases, x, y, Ws, hs, As, loss)
    wrt = flat_names(params) + flat_names(biases) + flat_names(x)
    built.bar = p.reverse(loss, wrt)
    return built


def adjoint_expr(built: Built, name):
    """The adjoint dL/d`name` materialized from the reverse sweep (None for a non-name)."""
    return built.prog.materialize(built.bar.get(name)) if isinstance(name, str) else None


def gradient_outputs(built: Built) -> list:
    """[loss, d params..., d biases..., dW (spatial), dX, delta_2..delta_L, dA_2..dA_L] in the flat
    order of `Built`. delta_l = dL/dh_l and dA_l = dL/da_l are the adjoints the reverse sweep already
    holds (exact values, not derived from dW)."""
    outs = [built.loss] + [adjoint_expr(built, n) for n in flat_names(built.params) + flat_names(built.biases)]
    if built.net.spatial:
        outs += [adjoint_expr(built, n) for n in flat_names(built.W)]
    outs += [adjoint_expr(built, n) for n in flat_names(built.x)]
    outs += [adjoint_expr(built, n) for n in flat_names(built.h)]
    return outs + [adjoint_expr(built, n) for n in flat_names(built.a[1:])]


def hessian_variables(built: Built, wrt: str | None) -> list[str]:
    """Hessian variables (derive.layout): None = all parameters (main group, then biases);
    "Z" (spatial) / "W" (MLP) = the main group only."""
    layout.check_wrt(built.net, wrt)
    return flat_names(built.params) + ([] if wrt is not None else flat_names(built.biases))
