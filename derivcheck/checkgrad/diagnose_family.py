"""Diagnosis of mistakes in the wider model family's gradients (MATH.md "The wider model family"):
penalty terms and free amplitudes. An MLP's penalties on W (weight decay w**2, L1 |w|) are diagnosed the
same way, on dW (a weight decay's forgotten 2 is its term at half its value).

J = L + sum_k c_k P_k is linear in each term's scale, so one truth without term k gives that term's part
d_k = t - t_without_k of any true quantity t, and the truth with term k at a factor f is t - (1 - f) d_k:
f = 1/2 (half its value), 0 (missing), -1 (sign flipped), tried for each term alone and then for every
term at once; and f = E or 1/E, the term's edge count (a mean over the edges differentiated as a sum).
Further: a term taken with the next or previous layer's coordinates, a wiring cost |w| r
whose d|w|/dw forgets sign(w), and (free amplitudes) theta left out of dJ/dr = dJ/dW theta g'(r) + ...,
whose eq. (8) differs from the truth's by G = dJ/dW (1 - theta) phi(R).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from derivcheck.checkgrad.compare import close, truth_of
from derive import MLP, Net, SpecError
from numeric.draws import Case
from numeric.variants import eq8_terms

__all__ = ["truth_with", "penalty_mistake", "amplitude_mistake"]

FACTORS = (0.5, 0.0, -1.0)  # a penalty term's gradient at half its value, missing, with its sign flipped


def truth_with(case: Case, net) -> dict[str, Any] | None:
    """The truth of the same numbers on a variant of the net (None where that net refuses them)."""
    try:
        return truth_of(replace(case, net=net))
    except SpecError:
        return None


def _show(e) -> str:
    """A derivative of rho as text, 4 digits, '8*r - 4' rather than '8.0*r - 4.0'."""
    return re.sub(r"(\d)\.0+\b(?!\.)", r"\1", str(e.evalf(4)))


def _name(net: Net | MLP, k: int) -> str:
    p = net.penalties[k]
    same = [q for q in net.penalties if q.rho == p.rho]
    where = f" of layer(s) {list(p.layers)}" if p.layers is not None else ""
    return f"the penalty {p.rho!r}{where}" + (f" (term {k + 1})" if len(same) > 1 else "")


def _derivatives(net: Net | MLP, k: int) -> str:
    """'d/dr (k*(r-q0))**2 = 8*r - 4 at k=2, q0=0.5': the term's nonzero partials of rho."""
    p = net.penalties[k]
    parts = [f"d/d{v} {p.rho} = {_show(p.d['rho_' + v])}" for v in ("r", "w") if str(p.d["rho_" + v]) != "0"]
    at = ", ".join(f"{n}={v:g}" for n, v in p.pairs)
    return "; ".join(parts) + (f" at {at}" if at else "")


def _edges(net: Net | MLP, k: int | None) -> int | None:
    """The number of edges penalty term k covers (None for every term at once)."""
    if k is None:
        return None
    covered = net.penalties[k].covers(net.L)
    return sum(net.widths[l - 1] * net.widths[l - 2] for l in covered)


def _factor_text(net: Net | MLP, k: int | None, f: float) -> str:
    E = _edges(net, k)
    if k is not None and E is not None and f not in FACTORS:
        name, red = _name(net, k), net.penalties[k].reduce
        if f == E:
            return f"matches with the gradient of {name} at {E} x its value = its edge count {E}" + (
                ": a mean over the edges differentiated as a sum" if red == "mean" else ""
            )
        return f"matches with the gradient of {name} at 1/{E} of its value, 1/(its edge count {E})" + (
            ": a sum over the edges differentiated as a mean" if red == "sum" else ""
        )
    if k is None:
        return {
            0.5: "matches with every penalty's gradient at half its value",
            0.0: "matches the data loss's gradient alone: every penalty's gradient is missing",
            -1.0: "matches with every penalty's gradient with its sign flipped",
        }[f]
    name = _name(net, k)
    return {
        0.5: f"matches with the gradient of {name} at half its value ({_derivatives(net, k)})",
        0.0: f"matches without the gradient of {name}: it is missing",
        -1.0: f"matches with the gradient of {name} with its sign flipped",
    }[f]


def _part(case: Case, q: str, t, variants, k: int | None) -> list | None:
    """d_k: term k's part of the true q (every term's with k None); None where that truth is refused."""
    net = case.net
    key = ("without", k)
    if key not in variants:
        pens = () if k is None else net.penalties[:k] + net.penalties[k + 1 :]
        variants[key] = truth_with(case, replace(net, penalties=pens))
    other = variants[key]
    if other is None or q not in other:
        return None
    return [x - y for x, y in zip(t, other[q])]


def penalty_mistake(case: Case, q: str, u, t, dtol: float, variants: dict) -> str | None:
    """The penalty mistakes of the module docstring that q matches, or None (a net with penalties: a spatial
    net's on (r, w), an MLP's on W, where only dW carries them)."""
    net = case.net
    fits = _factor_fits(case, q, u, t, dtol, variants)
    if fits:
        # where several fit q (a term that does not touch q changes nothing), the one that fits the most
        # mismatching quantities: "dZ, dW: without abs(w)*r", not "dZ: without abs(w)*r; dW: every ..."
        others = variants.get("others", {})
        score = {v: sum(v in _factor_fits(case, o, uo, to, dtol, variants) for o, (uo, to) in others.items()) for v in fits}
        k, f = max(fits, key=lambda v: score[v])  # the first of the best (max keeps the first)
        return _factor_text(net, k, f)
    for k, p in enumerate(net.penalties):
        covered = p.covers(net.L)
        for shift in (-1, 1) if net.spatial else ():  # an MLP's penalty has no coordinates to take wrongly
            moved = tuple(l + shift for l in covered)
            if not all(2 <= l <= net.L for l in moved):
                continue
            key: tuple = ("moved", k, shift)
            if key not in variants:
                variants[key] = truth_with(case, replace(net, penalties=_swap(net, k, replace(p, layers=moved))))
            alt = variants[key]
            if alt is not None and q == "dZ" and close(u, alt[q], dtol) and not close(t, alt[q], dtol):
                return (
                    f"matches with the penalty {p.rho!r} of layer(s) {list(covered)} differentiated with "
                    f"the coordinates of layer(s) {list(moved)}"
                )
        if "abs(w)" in p.rho.replace(" ", ""):
            key = ("unsigned", k)
            if key not in variants:
                unsigned = replace(p, rho=p.rho.replace(" ", "").replace("abs(w)", "w"))
                variants[key] = truth_with(case, replace(net, penalties=_swap(net, k, unsigned)))
            alt = variants[key]
            if alt is not None and q in alt and q != "dZ" and close(u, alt[q], dtol):
                return f"matches with d|w|/dw = 1: the gradient of {p.rho!r} forgets sign(w)"
    return None


def _factor_fits(case: Case, q: str, u, t, dtol: float, variants: dict) -> list[tuple[int | None, float]]:
    """(term, factor) pairs whose variant q matches: each term alone, then every term at once."""
    net = case.net
    key = ("fits", q)
    if key not in variants:
        terms: list[int | None] = list(range(len(net.penalties))) + ([None] if len(net.penalties) > 1 else [])
        fits = []
        for k in terms:
            d = _part(case, q, t, variants, k)
            if d is not None:
                fits += [(k, f) for f in FACTORS if close(u, [x - (1 - f) * y for x, y in zip(t, d)], dtol)]
                E = _edges(net, k)
                if E is not None and E > 1:  # the mean over edges taken as a sum (E x), or the sum as a mean (1/E)
                    fits += [(k, f) for f in (E, 1 / E) if close(u, [x - (1 - f) * y for x, y in zip(t, d)], dtol)]
        variants[key] = fits
    return variants[key]


def _swap(net: Net | MLP, k: int, p) -> tuple:
    return net.penalties[:k] + (p,) + net.penalties[k + 1 :]


def amplitude_mistake(case: Case, u, t, dtol: float, variants: dict) -> str | None:
    """dZ of a net with free amplitudes that matches with theta left out of dJ/dr (W/theta confusion)."""
    theta = case.params.theta
    if theta is None:
        return None
    if "no_theta" not in variants:
        G = [dw * (1.0 - th) for dw, th in zip(variants["truth_dW"], theta)]
        back, fwd = eq8_terms(case.net, case.params.Z, G)  # type: ignore[arg-type]
        variants["no_theta"] = [x + b + f for x, b, f in zip(t, back, fwd)]
    alt = variants["no_theta"]
    if close(u, alt, dtol) and not close(t, alt, dtol):
        pens = " + the penalties' d/dr" if case.net.penalties else ""  # type: ignore[union-attr]
        return (
            "matches with theta left out of dJ/dr (W/theta confusion): with W = theta g(r), "
            f"dJ/dr = dJ/dW theta g'(r){pens}, not dJ/dW g'(r)"
        )
    return None
