"""The exact symbolic engine: loss, gradients and Hessians of a `Net` or `MLP`, exactly, and their
50-digit values (the ground truth every other engine is judged against).

Two routes to the same derivatives, compared in the tests:

* **program** (`compile_program`): the forward pass as a program of intermediate symbols
  (r2_ij, W_ij, h, a, row losses), symbolic reverse mode over it for the gradient and sparse
  forward-over-reverse for the Hessian (derive/program.py), then lambdified. Fast.
* **flat** (`flat_loss`, `flat_gradient`): the loss as one SymPy expression of the coordinate symbols,
  differentiated by `sympy.diff`. Independent, for tiny nets and the derivation report.

Coincident nodes (r = 0): the kernel enters as W = G(s) with s = r^2, G(s) = g(sqrt s), so
G'(s) = phi(r)/2 and G''(s) = phi'(r)/(4 r) (phi = g'/r, MATH.md "Coincident nodes"); at s = 0 their
limits are taken symbolically. The gradient exists there iff g'(0) = 0 (else `SpecError`); the Hessian
needs in addition lim r phi'(r) = 0 (then G'' only ever multiplies r2's tangent, which is 0 there).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache

import mpmath
import numpy as np
import sympy as sp

from . import layout
from .compiled import row_symbols
from .decide import all_zero, finite
from .errors import SpecError, coincidence_error
from .lambdify import lambdify
from .net import MLP, Gradients, Net, Params
from .primitives import R, X
from .program import Program, Template, lambdify_program

__all__ = [
    "gradients",
    "hessian",
    "hvp",
    "compile_program",
    "build_program",
    "CompiledProgram",
    "flat_loss",
    "flat_gradient",
    "derivation",
    "Derivation",
    "kernel_templates",
]

S = sp.Symbol("s2", nonnegative=True)  # the squared distance r^2


# -- primitives as templates ------------------------------------------------------------------------
def kernel_templates(net: Net, backend: str = "sympy") -> tuple[Template, Template, Template]:
    """Templates G0(s) = g(sqrt s), G1 = G0' = phi(r)/2, G2 = G1' = psi(r)/4 (psi = phi'(r)/r), s = r^2,
    with their exact limits at s = 0 used when the argument is exactly 0 (cached per kernel, not per net)."""
    return _kernel_templates(net.kernel, net.kernel_params, backend)


@lru_cache(maxsize=64)
def _kernel_templates(name, params, backend):
    from .primitives import kernel

    k = kernel(name, params)
    sq = sp.sqrt(S)
    exprs = (k.bound.subs(R, sq), (k.phi / 2).subs(R, sq), (k.psi / 4).subs(R, sq))
    # Values at s = 0 (None: undefined there, the call raises the coincidence error). G2 only
    # multiplies the tangent of r^2, which is exactly 0 at coincident nodes: where psi(0) is infinite
    # but the Hessian exists (lim r phi'(r) = 0), 0 is its value.
    at0 = (k.g0, k.phi0 / 2 if k.phi0_finite else None, k.psi0 / 4 if finite(k.psi0) else (sp.S.Zero if k.hessian_at_0 else None))

    def impl(i):
        return {target: _with_limit(lambdify([S], exprs[i], target), at0[i], target, k, i) for target in ("numpy", "mpmath")}

    t2 = Template("G2", [S], exprs[2], backend=backend, impl=impl(2), fixed_parts=[None])
    t1 = Template("G1", [S], exprs[1], backend=backend, impl=impl(1), fixed_parts=[t2])
    t0 = Template("G0", [S], exprs[0], backend=backend, impl=impl(0), fixed_parts=[t1])
    for t, n in zip((t0, t1, t2), ("G0", "G1", "G2")):
        t.name = n
    return t0, t1, t2


def _with_limit(f, at0, target, k, order):
    """`f` with the value `at0` at s = 0 (or the coincidence error of kernel `k` when it is None)."""
    if target == "mpmath":

        def call(s):
            if s == 0:
                if at0 is None:
                    raise _coincident(k, order)
                return +mpmath.mpf(mpmath.mpmathify(sp.N(at0, mpmath.mp.dps + 10)))
            return f(s)
    else:
        v0 = None if at0 is None else float(at0)

        def call(s):
            if s == 0:
                if v0 is None:
                    raise _coincident(k, order)
                return v0
            return float(f(s))

    return call


@lru_cache(maxsize=64)
def penalty_template(pen, backend: str = "sympy") -> Template:
    """P(s, w) = rho(sqrt s, w) (s = r^2) and its partials to second order, as templates:
    P_s = phi/2, P_w = rho_w, P_ss = psi/4, P_sw = phi_w/2, P_ww = rho_ww (derive.penalty's `d`).
    At s = 0 their limits (functions of w) are used, or the penalty's coincidence error is raised
    where dJ/dz does not exist there; P_ss only multiplies the tangent of s, which is 0 there."""
    from .penalty import WW, coincidence_error

    sq = sp.sqrt(S)
    d, at0 = pen.d, pen.at0
    ok = pen.gradient_at_0

    def make(name, expr, zero, parts):
        if expr == 0 and zero in (0, None):
            return 0  # an exactly-zero partial: an exact constant for the program, no node

        def impl(target):
            f = lambdify([S, WW], expr.subs(R, sq), target)
            f0 = None if zero is None else lambdify([WW], zero, target)

            def call(s, w):
                if s == 0:
                    if f0 is None or not ok and name != "P":
                        raise coincidence_error(pen, "two nodes of adjacent layers")
                    v = f0(w)
                else:
                    v = f(s, w)
                return float(v) if target == "numpy" else v

            return call

        t = Template(
            name, [S, WW], expr.subs(R, sq), backend=backend, impl={tg: impl(tg) for tg in ("numpy", "mpmath")}, fixed_parts=parts
        )
        t.name = name
        return t

    dphi0 = None if at0["phi"] is None else sp.diff(at0["phi"], WW)
    pss = make("P_ss", d["psi"] / 4, sp.S.Zero, [None, None])
    psw = make("P_sw", d["phi_w"] / 2, None if dphi0 is None else dphi0 / 2, [None, None])
    pww = make("P_ww", d["rho_ww"], at0["rho_ww"], [None, None])
    ps = make("P_s", d["phi"] / 2, None if at0["phi"] is None else at0["phi"] / 2, [pss, psw])
    pw = make("P_w", d["rho_w"], at0["rho_w"], [psw, pww])
    return make("P", d["rho"], at0["rho"], [ps, pw])


def _coincident(k, order: int, where: str = "two nodes of adjacent layers") -> SpecError:
    """The coincidence error of `k`, a Net or Kernel (derive.errors.coincidence_error)."""
    return coincidence_error(k.g if isinstance(k, Net) else k, where, order)


@lru_cache(maxsize=128)
def _act_template(spec: str, backend: str) -> Template | None:
    from .primitives import activation

    a = activation(spec)
    if a.expr == X:
        return None  # identity: a = h, no node
    # f' is the primitive's own simplified derivative (cosh^-2 for tanh, not 1 - tanh^2): even at 50
    # digits 1 - tanh(60)^2 cancels to 0, while the true value is ~4e-52.
    d1 = Template(f"d{a.name}/dx", [X], a.deriv, backend=backend)  # differentiated further as usual
    return Template(a.name, [X], a.expr, backend=backend, fixed_parts=[d1])


@lru_cache(maxsize=64)
def _loss_template(spec: str, K: int, backend: str) -> Template:
    from .primitives import loss

    a, y = row_symbols(K)
    return Template(spec, [*a, *y], loss(spec).row(a, y), diff_args=range(K), backend=backend)


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
        return _flat(self.params) + _flat(self.biases) + _flat(self.x) + _flat(self.y)


def _flat(nested):
    out = []
    for v in nested:
        out.extend(_flat(v) if isinstance(v, list) else [v])
    return out


def build_program(net: Net | MLP, batch: int = 1, backend: str = "sympy") -> Built:
    """The forward pass of `net` on a batch of `batch` rows as a `Program`, and its reverse sweep.

    Forward (MATH.md): r2_ij = sum_d (z_id - z_jd)^2, W_ij = G0(r2_ij), h_l = a_(l-1) W_l^T + b_l,
    a_l = f_l(h_l), L = sum_b row(a_L[b], y[b]) / divisor(B, K).
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
    for n in _flat(params) + _flat(biases) + _flat(x) + _flat(y):
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
                    for t, (pen, coef) in enumerate(net.layer_penalties(l + 1)):
                        node = p.tmpl(penalty_template(pen, backend), (r2, w), f"rho{t}[{l + 1}]({i},{j})")
                        pen_nodes.append((Fraction(repr(float(coef))), node))
                    row.append(w)
                Wl.append(row)
        else:
            Wl = params[l - 1]
        f = _act_template(
            net.hidden if (net.spatial and l < L - 1) else (net.output if net.spatial else net.activations[l - 1]), backend
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
    T = _loss_template(net.loss, K, backend)
    rows = [p.tmpl(T, tuple(a[b]) + tuple(y[b]), f"row({b})") for b in range(B)]
    div = net.objective.divisor(B, K)
    # J = L + sum of penalty terms (coefficients exact: the float's decimal repr as a fraction)
    loss = p.lin([(Fraction(1, div), (r,)) for r in rows] + [(c, (n,)) for c, n in pen_nodes], "L", inline=False)
    built = Built(net, B, p, params, biases, x, y, Ws, hs, As, loss)
    wrt = _flat(params) + _flat(biases) + _flat(x)
    built.bar = p.reverse(loss, wrt)
    return built


def _bar(built: Built, name):
    return built.prog.materialize(built.bar.get(name)) if isinstance(name, str) else None


def _grad_outputs(built: Built) -> list:
    """[loss, d params..., d biases..., dW (spatial), dX, delta_2..delta_L, dA_2..dA_L] in the flat
    order of `Built`. delta_l = dL/dh_l and dA_l = dL/da_l are the adjoints the reverse sweep already
    holds (exact values, not derived from dW)."""
    outs = [built.loss] + [_bar(built, n) for n in _flat(built.params) + _flat(built.biases)]
    if built.net.spatial:
        outs += [_bar(built, n) for n in _flat(built.W)]
    outs += [_bar(built, n) for n in _flat(built.x)]
    outs += [_bar(built, n) for n in _flat(built.h)]
    return outs + [_bar(built, n) for n in _flat(built.a[1:])]


def _hess_wrt(built: Built, wrt: str | None) -> list[str]:
    """Hessian variables (derive.layout): None = all parameters (main group, then biases);
    "Z" (spatial) / "W" (MLP) = the main group only."""
    layout.check_wrt(built.net, wrt)
    return _flat(built.params) + ([] if wrt is not None else _flat(built.biases))


@dataclass
class CompiledProgram:
    """Lambdified exact derivatives of one net at one batch size.

    Attributes:
        built: the symbolic program (`Built`); inputs: argument order of the callables
            (params, biases, X row-major, Y row-major).
        gradient: {target: f(*inputs) -> [loss, dparams..., dbiases..., (dW...), dX..., delta..., dA...]}
            (delta_l = dL/dh_l and dA_l = dL/da_l for layers 2..L, B x N_l row-major each).
        hessian: {target: f(*inputs) -> upper triangle of H, row by row} or {} without Hessian.
        wrt: Hessian variables (leaf names). timings: seconds for "derive" and "codegen".
        n_nodes, n_lines: program size and generated lines (all targets' code is built lazily).
    """

    built: Built
    wrt: list[str]
    hess_entries: list
    targets: tuple[str, ...]
    gradient: dict = field(default_factory=dict)
    hessian: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)

    @property
    def inputs(self) -> list[str]:
        return self.built.inputs

    @property
    def n_nodes(self) -> int:
        return len(self.built.prog.nodes)

    def hessian_matrix(self, values, target="numpy"):
        """Full symmetric n x n Hessian (list of lists) from the upper-triangle callable."""
        flat = self.hessian[target](*values)
        n = len(self.wrt)
        H = [[None] * n for _ in range(n)]
        it = iter(flat)
        for k in range(n):
            for m in range(k, n):
                H[k][m] = H[m][k] = next(it)
        return H


def compile_program(
    net: Net | MLP, batch: int = 1, hessian: bool = True, backend: str = "sympy", wrt: str | None = None, targets=("numpy",)
) -> CompiledProgram:
    """Derive the exact gradient (and Hessian) program of `net` and lambdify it.

    Args:
        net: the network. batch: B. hessian: also derive the full Hessian (upper triangle).
        backend: "sympy" or "symengine": the CAS that differentiates the primitives.
        wrt: Hessian variables (derive.layout): None (default) = all parameters, coordinates or
            weights then biases; "Z" (spatial) / "W" (MLP) = that group only, no biases.
        targets: lambdify targets among "numpy" (float64) and "mpmath".

    Returns:
        `CompiledProgram` with callables and ``timings = {"derive": s, "codegen": s}``.
    """
    t0 = time.perf_counter()
    built = build_program(net, batch, backend)
    wrt_names = _hess_wrt(built, wrt) if hessian else []
    entries = []
    if hessian:
        bar_outs = [_bar(built, n) for n in wrt_names]
        rows = built.prog.hessian(bar_outs, wrt_names)
        entries = [e for row in rows for e in row]
    t1 = time.perf_counter()
    cp = CompiledProgram(built, wrt_names, entries, tuple(targets))
    for target in targets:
        cp.gradient[target] = lambdify_program(built.prog, built.inputs, _grad_outputs(built), target)
        if hessian:
            cp.hessian[target] = lambdify_program(built.prog, built.inputs, entries, target)
    t2 = time.perf_counter()
    cp.timings = {"derive": t1 - t0, "codegen": t2 - t1}
    return cp


@lru_cache(maxsize=32)
def _cached(net, batch, hessian, wrt):
    return compile_program(net, batch, hessian=hessian, wrt=wrt, targets=("mpmath",))


# -- evaluation (ground truth) ----------------------------------------------------------------------
def _finite64(what: str, values) -> None:
    """The ground truth returns float64: an exact value beyond its range (|v| > 1.8e308) or not a number
    is a one-line error, never a silent inf/NaN (Y = 1e300 makes the loss 1e600)."""
    arr = np.asarray(values, dtype=np.float64) if not isinstance(values, np.ndarray) else values
    if arr.size and not np.all(np.isfinite(arr.astype(np.float64))):
        raise SpecError(f"the exact {what} overflows float64 (beyond 1.8e308) at these inputs", "rescale X, Y or the parameters")


def _arr(x, name, shape):
    try:
        complex_values = np.iscomplexobj(np.asarray(x))
    except (TypeError, ValueError):
        complex_values = False  # ragged: refused below
    if complex_values:
        raise SpecError(f"{name} has complex values", f"pass the real part explicitly (np.real({name})) if it is meant")
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise SpecError(f"{name} is not a numeric array", f"pass {name} as a float array") from None
    if a.shape != shape:
        raise SpecError(f"{name} has shape {a.shape}, expected {shape}", f"give {name} the shape {shape}")
    if not np.all(np.isfinite(a)):
        raise SpecError(f"{name} contains NaN or Inf", f"clean {name} before verifying")
    return a


def _values(net, params: Params, X, Y):
    """Exact mpf inputs in `Built.inputs` order (float64 values converted exactly)."""
    N, L = net.widths, net.L
    X = _arr(X, "X", np.shape(X))
    if X.ndim != 2:
        raise SpecError(f"X has shape {X.shape}, expected (B, {N[0]})", "give one row per example")
    B = X.shape[0]
    X = _arr(X, "X", (B, N[0]))
    Y = _arr(Y, "Y", (B, N[-1]))
    T: list = []
    if net.spatial:
        if params.Z is None or len(params.Z) != L:
            raise SpecError(f"params.Z must hold {L} coordinate arrays", "pass one N_l x D array per layer")
        P = [_arr(z, f"Z[layer {l + 1}]", (N[l], net.dim)) for l, z in enumerate(params.Z)]
        if net.free:
            if params.theta is None or len(params.theta) != L - 1:
                raise SpecError(
                    f"amplitudes are free: params.theta must hold {L - 1} arrays", "pass one N_l x N_(l-1) array per layer"
                )
            T = [_arr(t, f"theta[layer {l + 2}]", (N[l + 1], N[l])) for l, t in enumerate(params.theta)]
    else:
        if params.W is None or len(params.W) != L - 1:
            raise SpecError(f"params.W must hold {L - 1} weight matrices", "pass one N_l x N_(l-1) array per layer")
        P = [_arr(w, f"W[layer {l + 2}]", (N[l + 1], N[l])) for l, w in enumerate(params.W)]
    Bs = []
    if net.bias:
        if params.b is None or len(params.b) != L - 1:
            raise SpecError(f"net has biases: params.b must hold {L - 1} vectors", "pass biases or set bias=False")
        Bs = [_arr(np.reshape(v, -1), f"b[layer {l + 2}]", (N[l + 1],)) for l, v in enumerate(params.b)]
    if net.spatial:
        _check_coincident(net, P)
        _check_weights(net, P)
    flat = [v for a in P + T + Bs + [X, Y] for v in a.reshape(-1)]
    return B, P, [mpmath.mpf(float(v)) for v in flat]


@lru_cache(maxsize=64)
def _g_numpy(name, params):
    from .primitives import kernel

    return lambdify([R], kernel(name, params).bound, "numpy")


def _check_weights(net: Net, Z) -> None:
    """Refuse coordinates whose kernel weights g(r) overflow float64 (exp(r**64) at r = 3 is
    exp(3.4e30)): the exact result could not be returned as float64, and mpmath would spend minutes
    (and gigabytes, beyond any time limit: one huge integer operation) on tanh of such a weight."""
    g = _g_numpy(net.kernel, net.kernel_params)
    with np.errstate(all="ignore"):
        for l in range(1, net.L):
            d = Z[l][:, None, :] - Z[l - 1][None, :, :]
            r = np.sqrt(np.sum(d * d, axis=-1))
            w = np.asarray(g(r), dtype=np.float64) * np.ones_like(r)
            bad = (r > 0) & ~np.isfinite(w)
            if bad.any():
                i, j = (int(v) for v in np.argwhere(bad)[0])
                raise SpecError(
                    f"kernel weight g(r) overflows float64 between node {i} of layer {l + 1} and node {j} "
                    f"of layer {l} (r = {r[i, j]:.4g})",
                    "place the nodes where g is finite in float64",
                )


def _check_coincident(net: Net, Z, order: int = 1):
    """Raise the coincidence error if two nodes of adjacent layers coincide where the derivative of
    this `order` is undefined (first order: phi(0) infinite; second: also lim r phi'(r) != 0)."""
    k = net.g
    if k.phi0_finite and (order == 1 or k.hessian_at_0):
        return
    worst = 1 if not k.phi0_finite else 2
    for l in range(1, net.L):
        for i, zi in enumerate(Z[l]):
            for j, zj in enumerate(Z[l - 1]):
                if np.array_equal(zi, zj):
                    raise _coincident(net, worst, f"node {i} of layer {l + 1} and node {j} of layer {l}")


def _unflat(vals, shapes):
    out, pos = [], 0
    for shp in shapes:
        n = int(np.prod(shp))
        out.append(np.array(vals[pos : pos + n], dtype=object).reshape(shp))
        pos += n
    return out, pos


def _on_host(dtype, device) -> None:
    """The symbolic engine evaluates in mpmath on the host and returns float64: say so for anything else."""
    try:
        ok = np.dtype(dtype) == np.float64
    except TypeError:
        ok = False
    if not ok:
        raise SpecError(f"the symbolic engine returns float64, not dtype={dtype!r}", "use dtype=np.float64")
    if device not in (None, "cpu"):
        raise SpecError(f"the symbolic engine runs on the host, not device={device!r}", "use device='cpu'")


def gradients(net: Net | MLP, params: Params, X, Y, *, dtype=np.float64, device: str | None = "cpu", dps: int = 50) -> Gradients:
    """Loss and first derivatives, exactly, evaluated at `dps` digits (the ground truth).

    Args:
        net: Net or MLP. params: Z (spatial) or W, and b. X: B x N_1. Y: B x N_L (float64 values are
            converted to mpmath exactly).
        dtype, device: np.float64 and "cpu" (or None) only: the engine contract's arguments.
        dps: decimal digits of the evaluation.

    Returns:
        `Gradients` (engine "symbolic") with float64 arrays in loss, dW, dZ, db, dX, delta, dA (as
        numeric.manual returns) and the mpf arrays (dtype object) in ``extra["mp"]`` (same fields).

    Raises:
        SpecError: bad shapes, NaN/Inf, coincident nodes with g'(0) != 0, dtype/device other than
        float64 on the host.
    """
    _on_host(dtype, device)
    B, _, vals = _values(net, params, X, Y)
    cp = _cached(net, B, False, None)
    with mpmath.workdps(dps):
        out = cp.gradient["mpmath"](*vals)
    N, L = net.widths, net.L
    loss = out[0]
    pos = 1
    pshapes = [(n, net.dim) for n in N] if net.spatial else [(N[l + 1], N[l]) for l in range(L - 1)]
    dP, k = _unflat(out[pos:], pshapes)
    pos += k
    dtheta = None
    if net.spatial and net.free:
        dtheta, k = _unflat(out[pos:], [(N[l + 1], N[l]) for l in range(L - 1)])
        pos += k
    db = None
    if net.bias:
        db, k = _unflat(out[pos:], [(n,) for n in N[1:]])
        pos += k
    if net.spatial:
        dW, k = _unflat(out[pos:], [(N[l + 1], N[l]) for l in range(L - 1)])
        pos += k
        dZ = dP
    else:
        dW, dZ = dP, None
    dX = _unflat(out[pos:], [(B, N[0])])[0][0]
    pos += B * N[0]
    per_layer = [(B, n) for n in N[1:]]
    delta, k = _unflat(out[pos:], per_layer)
    pos += k
    dA = _unflat(out[pos:], per_layer)[0]
    mp = dict(loss=loss, dW=dW, dZ=dZ, db=db, dX=dX, delta=[None, *delta], dA=[dX, *dA], dtheta=dtheta)
    f64 = lambda q: None if q is None else [a.astype(np.float64) for a in q]  # noqa: E731
    dX64 = dX.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        _finite64("loss", [float(loss)])
        for what, arrs in (("dW", dW), ("dZ", dZ or []), ("db", db or []), ("dX", [dX])):
            for a in arrs:
                _finite64(what, a.astype(np.float64))
    return Gradients(
        loss=float(loss),
        dW=[a.astype(np.float64) for a in dW],
        dZ=f64(dZ),
        db=f64(db),
        dX=dX64,
        engine="symbolic",
        extra={"mp": mp, "dps": dps},
        delta=[None, *(a.astype(np.float64) for a in delta)],
        dA=[dX64, *(a.astype(np.float64) for a in dA)],
        dtheta=f64(dtheta),
    )


def hessian(
    net: Net | MLP,
    params: Params,
    X,
    Y,
    *,
    wrt: str | None = None,
    dtype=np.float64,
    device: str | None = "cpu",
    dps: int = 50,
    mp: bool = False,
):
    """The exact Hessian of the loss, evaluated at `dps` digits.

    Layout (MATH.md "Second order", derive.layout): wrt=None is every parameter, coordinates layer by
    layer, node by node, dimension last (spatial) or weights (layer 2.., row-major) for an MLP, then
    the biases, mixed blocks included; wrt="Z" (spatial) / "W" (MLP) is that group alone, no biases.

    Returns:
        n x n float64 array, or an mpmath.matrix of mpf with ``mp=True``.
    """
    _on_host(dtype, device)
    layout.check_wrt(net, wrt)
    B, P, vals = _values(net, params, X, Y)
    if net.spatial:
        _check_coincident(net, P, order=2)
    # Without biases wrt=None and the main group are the same variables: one compiled program.
    cp = _cached(net, B, True, wrt if net.bias else None)
    with mpmath.workdps(dps):
        H = cp.hessian_matrix(vals, "mpmath")
        if mp:
            return mpmath.matrix(H)
    out = np.array([[float(v) for v in row] for row in H], dtype=np.float64)
    _finite64("Hessian", out)
    return out


def hvp(net: Net | MLP, params: Params, X, Y, V, *, dtype=np.float64, device: str | None = "cpu", dps: int = 50):
    """H v from the exact Hessian, at `dps` digits.

    Args:
        V: a direction in derive.layout's form: a list of blocks (Z_1..Z_L or W_2..W_L, then
            optionally b_2..b_L; the first group alone means a zero bias direction) or a flat vector.

    Returns:
        H v in V's form: a list of float64 arrays shaped like V's blocks, or a flat float64 vector.
    """
    _on_host(dtype, device)
    main, bias, repack = layout.split(net, V, np.float64)
    # H restricted to the main group times v_main is the main part of H (v_main, 0): the smaller Hessian.
    H = hessian(net, params, X, Y, wrt=None if bias is not None else layout.main_group(net), dps=dps, mp=True)
    blocks = main + (bias or [])
    v = [mpmath.mpf(float(t)) for a in blocks for t in a.reshape(-1)]
    if len(v) != H.rows:
        raise SpecError(f"V has {len(v)} entries, the Hessian is {H.rows} x {H.cols}", "shape V like the parameters")
    with mpmath.workdps(dps):
        Hv = H * mpmath.matrix(v)
        flat = [float(Hv[i]) for i in range(H.rows)]
    _finite64("H v", flat)
    out, pos = [], 0
    for a in blocks:
        out.append(np.array(flat[pos : pos + a.size], dtype=np.float64).reshape(a.shape))
        pos += a.size
    return repack(out[: len(main)], out[len(main) :] if bias is not None else None)


# -- the flat route ---------------------------------------------------------------------------------
@dataclass
class FlatLoss:
    """The loss as one SymPy expression.

    Attributes:
        expr: J (the loss plus penalties). params: symbols of Z (N_l x D per layer), then theta (free
            amplitudes, N_l x N_(l-1) per layer 2..L), or W (MLP); biases; x, y: data symbols.
        W: the weights as expressions of the coordinates (sympy Matrices, layers 2..L).
        h, a: per layer 2..L, B x N_l Matrices of expressions (a[0] = X).
    """

    expr: sp.Expr
    params: list
    biases: list
    x: sp.Matrix
    y: sp.Matrix
    W: list
    h: list
    a: list

    @property
    def leaves(self) -> list[sp.Symbol]:
        return [s for M in self.params for s in M] + [s for v in self.biases for s in v]


def flat_loss(net: Net | MLP, batch: int = 1) -> FlatLoss:
    """The exact loss of `net` on `batch` symbolic rows as one expression (MATH.md forward rule)."""
    N, L, B = net.widths, net.L, batch
    sym = lambda n: sp.Symbol(n, real=True)  # noqa: E731
    penalty = sp.S.Zero
    if net.spatial:
        params = [sp.Matrix(N[l], net.dim, lambda i, d: sym(f"z{l + 1}_{i}_{d}")) for l in range(L)]
        g = net.g.bound
        dist = [
            sp.Matrix(
                N[l], N[l - 1], lambda i, j: sp.sqrt(sum((params[l][i, d] - params[l - 1][j, d]) ** 2 for d in range(net.dim)))
            )
            for l in range(1, L)
        ]
        W = [D.applyfunc(lambda r: g.subs(R, r)) for D in dist]
        if net.free:  # W = theta * g(r); the amplitudes are leaves after the coordinates
            thetas = [sp.Matrix(N[l + 1], N[l], lambda i, j: sym(f"t{l + 2}_{i}_{j}")) for l in range(L - 1)]
            W = [T.multiply_elementwise(Wl) for T, Wl in zip(thetas, W)]
            params = params + thetas
        from .penalty import RW, WW

        for l in range(2, L + 1):
            for p, c in net.layer_penalties(l):
                penalty += sp.Rational(repr(c)) * sp.Add(*[p.expr.xreplace({RW: r, WW: w}) for r, w in zip(dist[l - 2], W[l - 2])])
    else:
        params = [sp.Matrix(N[l + 1], N[l], lambda i, j: sym(f"w{l + 2}_{i}_{j}")) for l in range(L - 1)]
        W = params
    biases = [sp.Matrix(1, N[l + 1], lambda _, i: sym(f"b{l + 2}_{i}")) for l in range(L - 1)] if net.bias else []
    x = sp.Matrix(B, N[0], lambda b, j: sym(f"x{b}_{j}"))
    y = sp.Matrix(B, N[-1], lambda b, k: sym(f"y{b}_{k}"))
    a, hs, As = x, [], [x]
    for l in range(1, L):
        h = a * W[l - 1].T
        if net.bias:
            h = h + sp.ones(B, 1) * biases[l - 1]
        f = net.f(l + 1)
        a = h.applyfunc(lambda v: f.expr.xreplace({X: v}))
        hs.append(h)
        As.append(a)
    obj = net.objective
    K = N[-1]
    expr = sp.Add(*[obj.row(list(a.row(b)), list(y.row(b))) for b in range(B)]) / obj.divisor(B, K) + penalty
    return FlatLoss(expr, params, biases, x, y, W, hs, As)


def flat_gradient(net: Net | MLP, batch: int = 1):
    """(FlatLoss, [dL/dleaf for each leaf]) by `sympy.diff` on the flattened loss (independent route)."""
    fl = flat_loss(net, batch)
    return fl, [_delta_free(sp.diff(fl.expr, s)) for s in fl.leaves]


def _delta_free(e):
    return e.replace(sp.DiracDelta, lambda *_: sp.S.Zero) if e.has(sp.DiracDelta) else e


# -- the derivation report object ------------------------------------------------------------------
class Derivation:
    """Exact SymPy objects that a report typesets, for one net and batch (MATH.md, first and second
    order), all derived from `flat_loss` by `sympy.diff`:

    Attributes (lazy):
        W: per layer 2..L, the N_l x N_(l-1) Matrix of W_ij as functions of the coordinates.
        loss: the exact loss.
        delta: per layer 2..L, B x N_l Matrix of dL/dh_l (differentiating L as a function of h_l).
        dW: per layer 2..L, dL/dW_l with the weights treated as free symbols (eq. (4)).
        dZ: per layer 1..L, N_l x D Matrix of dL/dZ_l (spatial nets).
        hessian_block: D x D block d2L/dz dz^T for node 0 of layer min(2, L-1)+... (the first hidden
            node, or node 0 of layer 2 for L = 2).
    """

    def __init__(self, net: Net, batch: int = 1):
        if not net.spatial:
            raise SpecError("derivation() needs a spatial Net", "pass a derive.Net (coordinates), not an MLP")
        if net.free or net.penalties:  # delta, dW and eq. (8) below are the note's model's (theta = 1, J = L)
            raise SpecError(
                "the derivation covers the note's model (no free amplitudes, no penalty)",
                "drop amplitudes/penalties for the report; symbolic.gradients takes the whole family",
            )
        self.net, self.batch = net, batch
        self.flat = flat_loss(net, batch)
        self.loss = self.flat.expr
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
                out.append(Hs.applyfunc(lambda s: _delta_free(sp.diff(Ll, s)).xreplace(sub)))
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
                out.append(Ws.applyfunc(lambda s: _delta_free(sp.diff(Ll, s)).xreplace(sub)))
            return out

        return self._memo("dW", make)

    @property
    def dZ(self) -> list[sp.Matrix]:
        return self._memo("dZ", lambda: [Z.applyfunc(lambda s: _delta_free(sp.diff(self.loss, s))) for Z in self.flat.params])

    @property
    def hessian_block(self) -> sp.Matrix:
        l = 1 if self.net.L > 2 else 0
        z = self.flat.params[l]
        return self._memo("hess", lambda: sp.Matrix(self.net.dim, self.net.dim, lambda d, e: sp.diff(self.dZ[l][0, d], z[0, e])))

    def eq8(self, variant: str = "a") -> list[sp.Matrix]:
        """The note's eq. (8) instantiated for this net, per layer 1..L (N_l x D Matrices):
        dL/dz^l_i = sum_j dW^l_ij g'(r^l_ij) (z^l_i - z^(l-1)_j)/r^l_ij + sum_k dW^(l+1)_ki g'(r) (z^l_i - z^(l+1)_k)/r
        with dW^l_ij = sum_b delta^l_bi v^(l-1)_bj, v = a (MATH.md, `variant="a"`) or v = h (the note as
        printed, `variant="h"`; h of the input layer is x)."""
        if variant not in ("a", "h"):
            raise SpecError(f"unknown eq. (8) variant {variant!r}", "use 'a' (MATH.md) or 'h' (the note as printed)")
        net, fl = self.net, self.flat
        Z = fl.params
        dg = net.g.dg
        v = fl.a if variant == "a" else [fl.x] + fl.h
        dWf = [self.delta[l - 2].T * v[l - 2] for l in range(2, net.L + 1)]

        def term(l, i, j, d, sign):  # edge between node i of layer l (1-based) and node j of layer l-1
            zi, zj = Z[l - 1].row(i), Z[l - 2].row(j)
            r = sp.sqrt(sum((zi[e] - zj[e]) ** 2 for e in range(net.dim)))
            return dWf[l - 2][i, j] * dg.subs(R, r) * sign * (zi[d] - zj[d]) / r

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

    def proof_eq8(self, variant: str = "a", on_step=None) -> bool:
        """True iff simplify(eq8 - exact) == 0 for every coordinate (a symbolic proof). A nonzero
        value of the difference at an exact rational point (40 digits) is a disproof: False.
        `on_step(done, total)` is called after each coordinate (a progress display)."""
        diffs = [e8 - ex for E, G in zip(self.eq8(variant), self.dZ) for e8, ex in zip(E, G)]
        rest = []  # SymEngine's expansion proves most differences zero at once; SymPy decides the rest together
        for k, e in enumerate(diffs):  # (one rational point disproves any of them first: a fast "no")
            if not _expands_to_zero(e):
                rest.append(e)
            if on_step is not None:
                on_step(k + 1, len(diffs))
        return all_zero(rest)


def _expands_to_zero(e: sp.Expr) -> bool:
    """True when SymEngine's expansion of `e` is exactly 0: a proof (exact arithmetic, functions kept as
    they are), about 10x faster than SymPy's expand on eq. (8)'s differences. False proves nothing: the
    caller falls back to `derive.decide.all_zero` (rational-point disproof, expand, simplify)."""
    try:
        import symengine as se
    except ImportError:  # pragma: no cover  (the optional "fast" extra; SymPy alone still decides)
        return False
    try:
        return bool(se.expand(se.sympify(e)) == 0)
    except Exception:  # noqa: BLE001  a function SymEngine cannot convert: SymPy decides
        return False


def derivation(net: Net | None = None, batch: int = 1) -> Derivation:
    """The report's derivation; default net L=3, widths (2, 2, 1), D=3, gaussian, tanh, mse."""
    return Derivation(net or Net((2, 2, 1), dim=3, kernel="gaussian", hidden="tanh", loss="mse"), batch)
