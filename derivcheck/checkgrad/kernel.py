"""The kernel derivative a user's code implies, read off its dZ on one-edge nets (check-grad's diagnosis).

On a net with one edge (widths (1, 1)) with z^1 = 0 and z^2 = r e_1, eq. (8) is dJ/dz^2 = dJ/dr e_1 =
-dJ/dz^1 with dJ/dr = dJ/dW theta g'(r) + c d(rho)/dr (MATH.md, the wider model family). So the user's
dZ over a sweep of r gives the g'(r) its code implies, g'_u(r) = (dZ^2_1 - c d(rho)/dr) / (dJ/dW theta)
(dJ/dW and the penalty's part from the truth: dW is right where this is asked), and likewise the d(rho)/dr
of a penalty. `kernel_reading` names it against the truth: sign flipped, a constant factor, a power of r
off ("your code's g'(r) behaves like +r^4 (d g/dz_i = +(z_i - z_j) r^3); the true g'(r) is -1/r^2"), g or
phi = g'/r used in place of g'. Both eq. (8) terms (the target's dZ and the source's) must imply the
same g'_u: where they differ the mistake is in a term, not in the kernel (derivcheck.checkgrad.diagnose).
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import sympy as sp

from derive import Net, Params, SpecError, compile_net
from numeric.draws import Case

__all__ = ["kernel_reading", "SWEEP_R", "describe_power"]

SWEEP_R = tuple(float(r) for r in np.geomspace(0.25, 4.0, 9))  # distances of the one-edge nets
FIT = 1e-6  # relative misfit below which a reading is a pattern (exact float64 arithmetic leaves ~1e-14)


def _text(e: sp.Expr) -> str:
    """A SymPy expression of r as the user would write it: '-1/r^2', '-25*r*exp(-25*r^2/16)/8'."""
    return re.sub(r"\bR\b", "r", str(e).replace("**", "^"))


def _power(x: np.ndarray, y: np.ndarray) -> tuple[float, float] | None:
    """(C, p) with y = C x^p within FIT on every point (one sign, p a multiple of 1/2), else None."""
    if not (np.all(y > 0) or np.all(y < 0)):
        return None
    p, logc = np.polyfit(np.log(x), np.log(np.abs(y)), 1)
    p = round(2 * p) / 2
    C = float(np.sign(y[0])) * float(np.exp(np.mean(np.log(np.abs(y)) - p * np.log(x))))
    fit = C * x**p
    return (C, p) if np.max(np.abs(fit - y)) <= FIT * np.max(np.abs(y)) else None


def describe_power(C: float, p: float, var: str = "r") -> str:
    """'+r^4', '-1/r^2', '+2.5 r', '-3' (C x^p, sign always written)."""
    sign, a = ("+" if C > 0 else "-"), abs(C)
    coef = "" if np.isclose(a, 1, rtol=1e-9) else f"{a:.4g}"
    pw = f"{abs(p):g}"
    if p == 0:
        return f"{sign}{coef or '1'}"
    if p > 0:
        return f"{sign}{coef + ' ' if coef else ''}{var}{'' if p == 1 else '^' + pw}"
    return f"{sign}{coef or '1'}/{var}{'' if p == -1 else '^' + pw}"


def _dz_power(C: float, p: float) -> str:
    """C r^p (z_i - z_j) as code writes it: '+(z_i - z_j) r^3', '-(z_i - z_j)/r^3', '+2 (z_i - z_j)'."""
    sign, a = ("+" if C > 0 else "-"), abs(C)
    coef = "" if np.isclose(a, 1, rtol=1e-9) else f"{a:.4g} "
    pw = "" if abs(p) == 1 else f"^{abs(p):g}"
    tail = "" if p == 0 else (f" r{pw}" if p > 0 else f"/r{pw}")
    return f"{sign}{coef}(z_i - z_j){tail}"


def _edge_case(net: Net, r: float) -> Case:
    D = net.dim
    Z = [np.zeros((1, D)), np.eye(D)[:1] * r]
    params = Params(
        Z=Z,
        b=[np.zeros(1)] if net.bias else None,
        theta=[np.ones((1, 1))] if net.free else None,
    )
    Y = np.array([[0.25]]) if net.loss == "bce" else np.array([[-0.5]])
    return Case(net, params, np.array([[1.0]]), Y, kind="one edge", pair=(1, 0, 0), sep=r)


def _name(u: np.ndarray, t: np.ndarray, r: np.ndarray, gfun, what: str, true_text: str, phi=None) -> str | None:
    """Name the reading u(r) of `what` (g'(r) or d rho/dr) against the truth t(r)."""
    scale = max(float(np.max(np.abs(t))), 1e-300)
    if np.max(np.abs(u - t)) <= FIT * scale:
        return None  # the reading agrees: the mistake is elsewhere
    tt = float(t @ t)
    if tt > 0:
        c = float(u @ t) / tt
        if np.max(np.abs(u - c * t)) <= FIT * max(float(np.max(np.abs(u))), 1e-300):
            if np.isclose(c, -1, rtol=FIT):
                return f"{what} with its sign flipped: your code's {what} is -1 x the true {what} = {true_text}"
            if np.isclose(c, 0, atol=FIT):
                return f"{what} missing: your code's {what} is 0; the true {what} is {true_text}"
            return f"{what} off by a constant factor {c:.4g}: your code's {what} is {c:.4g} x the true {what} = {true_text}"
    for name, v in gfun:
        for sign in (1.0, -1.0):
            if np.max(np.abs(u - sign * v)) <= FIT * max(float(np.max(np.abs(v))), 1e-300):
                mine = f"{'-' if sign < 0 else ''}{name}"
                return f"{name} used in place of {what}: your code's {what} equals {mine}; the true {what} is {true_text}"
    pw = _power(r, u)
    if pw is not None:
        C, p = pw
        dz = ""
        if phi is not None:  # the same reading as the code writes it: d g/dz_i = g'(r)/r (z_i - z_j)
            text, values = phi
            tp = _power(r, values)
            theirs = _dz_power(*tp) if tp is not None else f"({text}) (z_i - z_j)"
            dz = f" (its d g/dz_i = {_dz_power(C, p - 1)}; the true one is {theirs})"
        flipped = bool(np.all(np.sign(t) == -np.sign(C)))
        off = "the sign and a power of r off" if flipped else "a power of r off"
        return f"{off}: your code's {what} behaves like {describe_power(C, p)}{dz}; the true {what} is {true_text}"
    on = np.abs(t) > 1e-12 * scale  # where the truth vanishes (r = q0) the reading must vanish too
    if on.sum() >= 5 and np.all(np.abs(u[~on]) <= FIT * scale):
        k = _power(r[on], u[on] / t[on])
        if k is not None:
            mine = describe_power(*k).removeprefix("+")
            return f"a power of r off: your code's {what} is {mine} x the true {what} = {true_text}"
    return None


def kernel_reading(judge, case: Case) -> str | None:
    """'dZ: <the kernel's (or a penalty's) derivative named>' from the user's dZ on one-edge nets over
    SWEEP_R, or None (a net without coordinates, fn not generic, both terms not agreeing, no pattern)."""
    net = case.net
    if not isinstance(net, Net):
        return None
    try:
        one = replace(net, widths=(1, 1))
        c = compile_net(one)
    except (SpecError, ValueError, TypeError):
        return None
    if c.g is None or c.dg is None or c.phi is None:  # an MLP has no kernel to read
        return None
    back, fwd, dW, pen, ker = [], [], [], [], []
    r = np.array(SWEEP_R)
    for x in r:
        e = judge.prepare(_edge_case(one, float(x)))
        try:
            got, truth, _ = judge.run(e)
        except SpecError:
            return None
        if "dZ" not in got:
            return None
        u, t = [np.asarray(z, dtype=np.float64) for z in got["dZ"]], truth["dZ"]
        if not all(np.all(np.isfinite(z)) for z in u):
            return None
        w = float(truth["dW"][0][0, 0])  # dJ/dW (theta = 1)
        k = w * float(c.dg(x))  # the true kernel part of dJ/dr
        back.append(float(u[1][0, 0]))
        fwd.append(-float(u[0][0, 0]))
        dW.append(w)
        ker.append(k)
        pen.append(float(t[1][0, 0]) - k)  # the penalties' part of dJ/dr (0 without penalties)
    back_a, fwd_a, dW_a, pen_a, ker_a = map(np.array, (back, fwd, dW, pen, ker))
    if np.max(np.abs(back_a - fwd_a)) > FIT * max(float(np.max(np.abs(back_a))), 1e-300):
        return None  # the two terms imply different derivatives: a term's mistake, not the kernel's
    ok = np.abs(dW_a) > 1e-8 * max(float(np.max(np.abs(dW_a))), 1e-300)
    if ok.sum() < 5:
        return None
    r, back_a, dW_a, pen_a, ker_a = r[ok], back_a[ok], dW_a[ok], pen_a[ok], ker_a[ok]
    g = one.g
    gv = np.array([float(c.g(x)) for x in r])
    phiv = np.array([float(c.phi(x)) for x in r])
    if not np.all(ker_a == 0):  # a kernel that depends on r: read g'
        gu, gt = (back_a - pen_a) / dW_a, ker_a / dW_a
        text = _name(gu, gt, r, [("g(r)", gv), ("phi(r) = g'(r)/r", phiv)], "g'(r)", _text(sp.simplify(g.dg)), (_text(g.phi), phiv))
        if text is not None:
            return f"dZ: kernel derivative: {text} (read from dZ on one-edge nets, r = {r[0]:g}..{r[-1]:g})"
    if one.penalties and np.any(pen_a != 0):  # the penalties' d rho/dr, summed with their coefficients
        ru = back_a - ker_a
        what = f"d rho/dr of {one.penalties[0].rho!r}" if len(one.penalties) == 1 else "d rho/dr"
        text = _name(ru, pen_a, r, [], what, _penalty_text(one))
        if text is not None:
            return f"dZ: penalty derivative: {text} (read from dZ on one-edge nets, r = {r[0]:g}..{r[-1]:g})"
    return None


def _penalty_text(net: Net) -> str:
    """The true c d(rho)/dr of a one-edge net's penalties, as text ('0.1 x (8*r - 4)')."""
    from derivcheck.checkgrad.diagnose_family import _show

    parts = []
    for p in net.penalties:
        if p.covers(net.L):
            at = {sp.Symbol(n): v for n, v in p.pairs}
            coef, d = p.coef(net.widths), _show(sp.sympify(p.d["rho_r"]).subs(at))
            parts.append(d if coef == 1 else f"{coef:g} x ({d})")
    return " + ".join(parts) or "0"
