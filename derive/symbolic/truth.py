"""The ground truth: exact loss, gradients, Hessian and Hessian-vector products of a `Net` or `MLP`,
evaluated at 50 digits (mpmath) from the compiled program (derive.symbolic.compiled_program) and returned as
float64 under the engine contract. `gradients` also runs the same program on Arb balls (``backend="arb"``,
derive.symbolic.balls): rigorous radii, precision raised where a ball is too wide, `Undecided` where
it stays so."""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np

from derive import layout
from derive.errors import SpecError
from derive.lambdify import ArbUnsupported
from derive.net import MLP, Gradients, Net, Params
from derive.symbolic.balls import Undecided, decided, run_balls, to_mpf
from derive.symbolic.compiled_program import cached_mpmath_program
from derive.symbolic.layered import layered_balls, route_for
from derive.symbolic.layered_hvp import Curvature
from derive.symbolic.truth_inputs import (
    check_coincident_nodes,
    check_finite64,
    check_host_float64,
    checked_inputs,
    exact_inputs,
    split_arrays,
)

__all__ = ["gradients", "hessian", "hvp"]


def gradients(
    net: Net | MLP,
    params: Params,
    X,
    Y,
    *,
    dtype=np.float64,
    device: str | None = "cpu",
    dps: int = 50,
    backend: str = "mpmath",
    route: str = "auto",
) -> Gradients:
    """Loss and first derivatives, exactly, evaluated at `dps` digits (the ground truth).

    Args:
        net: Net or MLP. params: Z (spatial) or W, and b. X: B x N_1. Y: B x N_L (float64 values are
            converted to mpmath exactly).
        dtype, device: np.float64 and "cpu" (or None) only: the engine contract's arguments.
        dps: decimal digits of the evaluation.
        backend: "mpmath" (50-digit numbers) or "arb" (balls with rigorous radii,
            derive.symbolic.balls: every value decided to 1e-30 of its scale, else the digits are
            doubled twice, else `Undecided`; a primitive Arb lacks falls back to mpmath, and
            ``extra["backend"]`` says which ran).
        route: how the arb truth is evaluated: "program" (the whole-loss program SymPy differentiated,
            derive.symbolic.build), "layers" (MATH.md's layers on balls with Arb matrix products,
            derive.symbolic.layered: the route for nets too large for a whole-loss program) or "auto"
            (layers above derive.symbolic.layered.PROGRAM_LIMIT operations, else the program).
            ``extra["route"]`` says which ran; mpmath is always the program.

    Returns:
        `Gradients` (engine "symbolic") with float64 arrays in loss, dW, dZ, db, dX, delta, dA (as
        numeric.manual returns) and the mpf arrays (dtype object) in ``extra["mp"]`` (same fields;
        with arb the midpoints, and the balls in ``extra["arb"]``; the layers route gives the balls
        only: their float64 midpoints are the fields).

    Raises:
        SpecError: bad shapes, NaN/Inf, coincident nodes with g'(0) != 0, dtype/device other than
        float64 on the host; `derive.symbolic.balls.Undecided` (a SpecError) for an undecided ball.
    """
    check_host_float64(dtype, device)
    if backend not in ("mpmath", "arb"):
        raise SpecError(f"unknown truth backend {backend!r}", "use 'mpmath' or 'arb'")
    if route not in ("auto", "program", "layers"):
        raise SpecError(f"unknown truth route {route!r}", "use 'auto', 'program' or 'layers'")
    if route == "layers" and backend != "arb":
        raise SpecError("the layered truth runs on balls", "pass backend='arb' with route='layers'")
    B, P, T, Bs, X64, Y64 = checked_inputs(net, params, X, Y)
    if backend == "arb" and (route == "layers" or (route == "auto" and route_for(net, B) == "layers")):
        try:
            return _layered(net, (P, T, Bs, X64, Y64), dps)
        except ArbUnsupported:
            pass  # a primitive Arb lacks: the program route below falls back to mpmath for it
    vals = [mpmath.mpf(float(v)) for a in P + T + Bs + [X64, Y64] for v in a.reshape(-1)]
    cp = cached_mpmath_program(net, B, False, None)
    extra: dict = {"dps": dps, "backend": backend, "route": "program"}
    mp = None
    if backend == "arb":
        try:
            mp = _arb_gradients(net, B, cp, vals, dps, extra)
        except ArbUnsupported as e:
            extra.update(backend="mpmath", arb_fallback=str(e))
    if mp is None:
        with mpmath.workdps(dps):
            mp = _unpack(net, B, cp.gradient["mpmath"](*vals))
    loss, dW, dZ, db, dX, delta, dA = (mp[k] for k in ("loss", "dW", "dZ", "db", "dX", "delta", "dA"))
    f64 = lambda q: None if q is None else [a.astype(np.float64) for a in q]  # noqa: E731
    dX64 = dX.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        check_finite64("loss", [float(loss)])
        for what, arrs in (("dW", dW), ("dZ", dZ or []), ("db", db or []), ("dX", [dX])):
            for a in arrs:
                check_finite64(what, a.astype(np.float64))
    return Gradients(
        loss=float(loss),
        dW=[a.astype(np.float64) for a in dW],
        dZ=f64(dZ),
        db=f64(db),
        dX=dX64,
        engine="symbolic",
        extra={"mp": mp, **extra},
        delta=[None, *(a.astype(np.float64) for a in delta[1:])],
        dA=[dX64, *(a.astype(np.float64) for a in dA[1:])],
        dtheta=f64(mp["dtheta"]),
    )


def _unpack(net, B, out) -> dict:
    """The gradient program's flat outputs as the fields of ``extra["mp"]`` (object arrays)."""
    N, L = net.widths, net.L
    loss = out[0]
    pos = 1
    pshapes = [(n, net.dim) for n in N] if net.spatial else [(N[l + 1], N[l]) for l in range(L - 1)]
    dP, k = split_arrays(out[pos:], pshapes)
    pos += k
    dtheta = None
    if net.spatial and net.free:
        dtheta, k = split_arrays(out[pos:], [(N[l + 1], N[l]) for l in range(L - 1)])
        pos += k
    db = None
    if net.bias:
        db, k = split_arrays(out[pos:], [(n,) for n in N[1:]])
        pos += k
    if net.spatial:
        dW, k = split_arrays(out[pos:], [(N[l + 1], N[l]) for l in range(L - 1)])
        pos += k
        dZ = dP
    else:
        dW, dZ = dP, None
    dX = split_arrays(out[pos:], [(B, N[0])])[0][0]
    pos += B * N[0]
    per_layer = [(B, n) for n in N[1:]]
    delta, k = split_arrays(out[pos:], per_layer)
    pos += k
    dA = split_arrays(out[pos:], per_layer)[0]
    return dict(loss=loss, dW=dW, dZ=dZ, db=db, dX=dX, delta=[None, *delta], dA=[dX, *dA], dtheta=dtheta)


def _arb_gradients(net, B, cp, vals, dps, extra) -> dict:
    """The gradient fields as mpf midpoints of decided balls (derive.symbolic.balls), raising the
    digits 1x, 2x, 4x `dps`; `Undecided` when a ball is still too wide. Fills ``extra["arb"]``
    (the balls) and ``extra["dps"]`` (the digits that decided)."""
    fn = cp.gradient_for("arb")
    balls, d = _decide(net, lambda d: _unpack(net, B, run_balls(fn, vals, d)), dps)
    extra.update(arb=balls, dps=d)
    with mpmath.workdps(d + 10):
        return {k: _map_fields(to_mpf, v) for k, v in balls.items()}


def _decide(net, run, dps: int) -> tuple[dict, int]:
    """(balls, digits): `run(d)` (the fields as balls at d digits) at `dps`, then 2x and 4x the digits
    until every ball is decided; `Undecided` when one still is not."""
    worst = None
    for d in (dps, 2 * dps, 4 * dps):
        balls = run(d)
        worst = _first_undecided(net, balls)
        if worst is None:
            return balls, d
    assert worst is not None  # the loop returns once every ball is decided
    raise Undecided(worst[0], d, worst[1], worst[2])


def _layered(net, inputs, dps: int) -> Gradients:
    """The layers route (derive.symbolic.layered) decided as `_decide` does, as float64 `Gradients`."""
    from flint import ctx

    def run(d):
        old = ctx.prec
        try:
            ctx.dps = d
            return layered_balls(net, *inputs)
        finally:
            ctx.prec = old

    balls, d = _decide(net, run, dps)
    mid = np.frompyfunc(lambda v: float(v.mid()), 1, 1)
    f64 = lambda a: None if a is None else np.asarray(mid(a), dtype=np.float64)  # noqa: E731
    fields: dict[str, Any] = {
        k: (None if v is None else [f64(a) for a in v] if isinstance(v, list) else f64(v)) for k, v in balls.items()
    }
    loss = float(balls["loss"].mid())
    check_finite64("loss", [loss])
    for what in ("dW", "dZ", "db"):
        for a in fields[what] or []:
            check_finite64(what, a)
    check_finite64("dX", fields["dX"])
    return Gradients(
        loss=loss,
        dW=fields["dW"],
        dZ=fields["dZ"],
        db=fields["db"],
        dX=fields["dX"],
        engine="symbolic",
        extra={"dps": d, "backend": "arb", "route": "layers", "arb": balls},
        delta=fields["delta"],
        dA=fields["dA"],
        dtheta=fields["dtheta"],
    )


def _map_fields(f, v):
    if v is None:
        return None
    if isinstance(v, list):
        return [None if a is None else _map_fields(f, a) for a in v]
    if isinstance(v, np.ndarray):
        return np.vectorize(f, otypes=[object])(v) if v.size else v
    return f(v)


def _first_undecided(net, balls):
    """The first field array holding an undecided ball, as (label, relative radius, ball), or None;
    the problem's scale (the largest |midpoint| of every field) is each array's floor."""
    floor = 0.0
    for v in balls.values():
        for a in v if isinstance(v, list) else [v]:
            if a is not None and np.size(a):
                mids = [abs(float(b.mid())) for b in np.asarray(a, dtype=object).reshape(-1) if b.is_finite()]
                floor = max([floor, *(m for m in mids if m < np.inf)])
    for name in ("loss", "dW", "dZ", "dtheta", "db", "dX", "delta", "dA"):
        v = balls[name]
        if v is None:
            continue
        first = 2 if name in ("dW", "dtheta", "db") else 1  # layer of the list's first array
        arrays = [("", v)] if not isinstance(v, list) else [(f" of layer {i + first}", a) for i, a in enumerate(v)]
        for where, a in arrays:
            if a is None or (name in ("delta", "dA") and where == " of layer 1"):
                continue
            bad = decided(f"{name}{where}", a, floor)
            if bad is not None:
                return bad
    return None


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
    backend: str = "mpmath",
):
    """The exact Hessian of the loss, evaluated at `dps` digits.

    Layout (MATH.md "Second order", derive.layout): wrt=None is every parameter, coordinates layer by
    layer, node by node, dimension last (spatial) or weights (layer 2.., row-major) for an MLP, then
    the biases, mixed blocks included; wrt="Z" (spatial) / "W" (MLP) is that group alone, no biases.

    Args:
        backend: "mpmath" (the whole-loss program's Hessian, derived by SymPy) or "arb" (balls: one
            R-operator pass by layers per column, derive.symbolic.layered_hvp, for nets of any size;
            every entry decided to 1e-30 of the Hessian's scale, else 2x and 4x the digits, else
            `Undecided`).

    Returns:
        n x n float64 array, or an mpmath.matrix of mpf with ``mp=True``.
    """
    check_host_float64(dtype, device)
    layout.check_wrt(net, wrt)
    if backend not in ("mpmath", "arb"):
        raise SpecError(f"unknown truth backend {backend!r}", "use 'mpmath' or 'arb'")
    if backend == "arb":
        H = _layered_hessian(net, params, X, Y, wrt, dps)
        if mp:  # entries kept whole: the matrix is built at the digits that decided them
            with mpmath.workdps(4 * dps + 10):
                return mpmath.matrix([[to_mpf(v) for v in row] for row in H])
        out = np.asarray(np.frompyfunc(lambda v: float(v.mid()), 1, 1)(H), dtype=np.float64)
        check_finite64("Hessian", out)
        return out
    B, P, vals = exact_inputs(net, params, X, Y)
    if net.spatial:
        check_coincident_nodes(net, P, order=2)
    # Without biases wrt=None and the main group are the same variables: one compiled program.
    cp = cached_mpmath_program(net, B, True, wrt if net.bias else None)
    with mpmath.workdps(dps):
        H = cp.hessian_matrix(vals, "mpmath")
        if mp:
            return mpmath.matrix(H)
    out = np.array([[float(v) for v in row] for row in H], dtype=np.float64)
    check_finite64("Hessian", out)
    return out


def hvp(
    net: Net | MLP,
    params: Params,
    X,
    Y,
    V,
    *,
    dtype=np.float64,
    device: str | None = "cpu",
    dps: int = 50,
    backend: str = "mpmath",
):
    """H v from the exact Hessian, at `dps` digits.

    Args:
        V: a direction in derive.layout's form: a list of blocks (Z_1..Z_L or W_2..W_L, then
            optionally b_2..b_L; the first group alone means a zero bias direction) or a flat vector.
        backend: "mpmath" (the program's Hessian times v) or "arb" (one R-operator pass on balls by
            layers, derive.symbolic.layered_hvp: no Hessian is formed; decided as `hessian`).

    Returns:
        H v in V's form: a list of float64 arrays shaped like V's blocks, or a flat float64 vector.
    """
    check_host_float64(dtype, device)
    main, bias, repack = layout.split(net, V, np.float64)
    if backend not in ("mpmath", "arb"):
        raise SpecError(f"unknown truth backend {backend!r}", "use 'mpmath' or 'arb'")
    if backend == "arb":
        _, P, T, Bs, X64, Y64 = checked_inputs(net, params, X, Y)
        if net.spatial:
            check_coincident_nodes(net, P, order=2)
        mid = np.frompyfunc(lambda v: float(v.mid()), 1, 1)

        def run(d):
            with _arb_digits(d):
                hm, hb = Curvature(net, P, T, Bs, X64, Y64).hvp(main, bias)
            return [*hm, *(hb or [])]

        blocks = _decide_arrays("H v", run, dps)
        out = [np.asarray(mid(a), dtype=np.float64).reshape(a.shape) for a in blocks]
        check_finite64("H v", np.concatenate([o.reshape(-1) for o in out]) if out else [])
        return repack(out[: len(main)], out[len(main) :] if bias is not None else None)
    # H restricted to the main group times v_main is the main part of H (v_main, 0): the smaller Hessian.
    H = hessian(net, params, X, Y, wrt=None if bias is not None else layout.main_group(net), dps=dps, mp=True)
    blocks = main + (bias or [])
    v = [mpmath.mpf(float(t)) for a in blocks for t in a.reshape(-1)]
    if len(v) != H.rows:
        raise SpecError(f"V has {len(v)} entries, the Hessian is {H.rows} x {H.cols}", "shape V like the parameters")
    with mpmath.workdps(dps):
        Hv = H * mpmath.matrix(v)
        flat = [float(Hv[i]) for i in range(H.rows)]
    check_finite64("H v", flat)
    out, pos = [], 0
    for a in blocks:
        out.append(np.array(flat[pos : pos + a.size], dtype=np.float64).reshape(a.shape))
        pos += a.size
    return repack(out[: len(main)], out[len(main) :] if bias is not None else None)


class _arb_digits:
    """Arb's working precision set to `d` digits within the block (and restored)."""

    def __init__(self, d: int):
        self.d = d

    def __enter__(self):
        from flint import ctx

        self.old = ctx.prec
        ctx.dps = self.d

    def __exit__(self, *exc):
        from flint import ctx

        ctx.prec = self.old


def _decide_arrays(what: str, run, dps: int) -> list:
    """`run(d)` (a list of ball arrays) at `dps`, 2x and 4x the digits until every ball is decided at
    the scale of all of them; `Undecided` naming `what` when one still is not."""
    worst = None
    for d in (dps, 2 * dps, 4 * dps):
        arrays = run(d)
        mids = [abs(float(b.mid())) for a in arrays for b in np.asarray(a, dtype=object).reshape(-1) if b.is_finite()]
        floor = max([0.0, *(m for m in mids if m < np.inf)])
        worst = next((bad for a in arrays if (bad := decided(what, a, floor)) is not None), None)
        if worst is None:
            return arrays
    assert worst is not None
    raise Undecided(worst[0], d, worst[1], worst[2])


def _layered_hessian(net, params, X, Y, wrt, dps: int) -> np.ndarray:
    """The n x n Hessian as balls: column k is H e_k by one R-operator pass (derive.symbolic.layered_hvp)."""
    _, P, T, Bs, X64, Y64 = checked_inputs(net, params, X, Y)
    if net.spatial:
        check_coincident_nodes(net, P, order=2)
    blocks = layout.shapes(net)
    nm = layout.n_main(net)
    with_bias = wrt is None and net.bias
    shapes = [s for _, _, s in blocks[: len(blocks) if with_bias else nm]]
    sizes = [int(np.prod(s)) for s in shapes]
    n = sum(sizes)

    def run(d):
        with _arb_digits(d):
            cur = Curvature(net, P, T, Bs, X64, Y64)
            cols = []
            for k in range(n):
                e = np.zeros(n)
                e[k] = 1.0
                parts, pos = [], 0
                for s, size in zip(shapes, sizes):
                    parts.append(e[pos : pos + size].reshape(s))
                    pos += size
                hm, hb = cur.hvp(parts[:nm], parts[nm:] if with_bias else None)
                cols.append(np.concatenate([np.asarray(a, dtype=object).reshape(-1) for a in [*hm, *(hb or [])]]))
        return [np.stack(cols, axis=1)] if cols else [np.empty((0, 0), dtype=object)]

    return _decide_arrays("Hessian", run, dps)[0]
