"""Checking a worked-number claims file (TOML, `derivcheck.claims.file`): each claimed quantity (loss,
z, a, delta, dW, dZ, W+ ... of a layer) is read from one forward/backward pass of the manual engine
and judged at the claim's printed precision; a false claim's worst entry is a
`numeric.compare.Finding`."""

from __future__ import annotations

from typing import Any

import numpy as np

from derivcheck.claims.file import WorkedFile
from derivcheck.claims.precision import FALSE, HOLDS, ROUNDING, judge_number, number_finding, printed
from derivcheck.claims.result import Result, display_path
from derive import SpecError, compile_net
from numeric import manual
from numeric.compare import Findings, locate
from numeric.manual import penalty as manual_penalty

__all__ = ["check_worked"]


def _fmt(x: float, unit: float) -> str:
    """A true value printed with two more digits than the claim has."""
    digits = max(0, -int(np.floor(np.log10(unit))) + 2) if unit < 1 else 2
    if x != 0 and abs(x) < 1e-3 and unit < 1e-6:
        return f"{x:.{max(3, len(f'{unit:e}'.split('e')[0]))}e}"
    return f"{x:.{digits}f}"


def _true_values(wf: WorkedFile) -> dict[str, Any]:
    """Engine values for every quantity of a worked file (one forward/backward pass)."""
    cache = manual.forward(wf.net, wf.params, wf.X, wf.Y)
    g = manual.gradients(wf.net, wf.params, wf.X, wf.Y)
    return {"cache": cache, "grad": g, "c": compile_net(wf.net, "numpy")}


def _quantity(wf: WorkedFile, tv: dict, quantity: str, layer: int | None):
    cache, g, c = tv["cache"], tv["grad"], tv["c"]
    one = (lambda arr: arr[0]) if wf.X.shape[0] == 1 else (lambda arr: arr)  # noqa: E731  drop the batch axis
    if quantity == "loss":
        return np.asarray(g.loss)
    if quantity == "dX":
        return one(g.dX)
    if quantity == "penalty":  # J's penalty terms (numeric.manual.penalty), the net's or one layer's edges
        if not wf.net.penalties:
            raise SpecError(f"{wf.path.name}: penalty claimed but the network has none", "add [[network.penalty]] tables")
        if layer is None:
            return np.asarray(manual_penalty.total(wf.net, cache))
        i = wf.index(layer)
        if i == 0:
            raise SpecError(f"{wf.path.name}: no edges end at the input layer {layer}", "use a layer after the input")
        R = cache.R[i] if wf.net.spatial else None  # an MLP's rho is in w alone
        return np.asarray(manual_penalty.first_order(wf.net, i + 1, R, cache.W[i])[0])
    assert layer is not None  # load_worked requires a layer for every other quantity
    if quantity in ("R", "dZ", "Z+", "dtheta") and not wf.net.spatial:
        raise SpecError(
            f"{wf.path.name}: {quantity} claimed but the network is not spatial",
            'use kind = "spatial" with coordinates in [network]',
        )
    i = wf.index(layer)
    need_weighted = {"z", "delta", "dW", "db", "dact", "jacobian", "W+", "b+", "W", "R", "dtheta"}
    if quantity in need_weighted and i == 0:
        raise SpecError(f"{wf.path.name}: {quantity} does not exist at the input layer {layer}", "use a layer after the input")
    lr = wf.learning_rate
    if quantity == "z":
        return one(cache.h[i])
    if quantity == "a":
        return one(cache.a[i])
    if quantity == "delta":
        return one(g.delta[i])
    if quantity == "dA":
        return one(g.dA[i])
    if quantity == "dW":
        return g.dW[i - 1]
    if quantity == "db":
        if g.db is None:
            raise SpecError(f"{wf.path.name}: db claimed but the network has no biases", "add biases to [network]")
        return g.db[i - 1]
    if quantity == "dact":
        return one(np.broadcast_to(np.asarray(c.df[i - 1](cache.h[i]), dtype=float), cache.h[i].shape))
    if quantity == "jacobian":
        if wf.X.shape[0] != 1:
            raise SpecError(f"{wf.path.name}: a layer Jacobian needs a single example", "give one row in x")
        fprime = np.broadcast_to(np.asarray(c.df[i - 1](cache.h[i]), dtype=float), cache.h[i].shape)[0]
        return fprime[:, None] * cache.W[i]
    if quantity == "W+":
        if wf.net.spatial:
            return cache.W[i] - lr * g.dW[i - 1]
        assert wf.params.W is not None  # load_worked gives every MLP its weights
        return wf.params.W[i - 1] - lr * g.dW[i - 1]
    if quantity == "b+":
        if wf.params.b is None or g.db is None:
            raise SpecError(f"{wf.path.name}: b+ claimed but the network has no biases", "add biases to [network]")
        return wf.params.b[i - 1] - lr * g.db[i - 1]
    if quantity == "W":
        return cache.W[i]
    if quantity == "R":
        return cache.R[i]
    if quantity == "dZ":
        return g.dZ[i]
    if quantity == "dtheta":
        if g.dtheta is None:
            raise SpecError(f"{wf.path.name}: dtheta claimed but the amplitudes are not free", 'set amplitudes = "free" and theta')
        return g.dtheta[i - 1]
    if quantity == "Z+":
        return cache.Z[i] - lr * g.dZ[i]
    raise SpecError(f"quantity {quantity!r} is not supported", "see README, Claims files")


def _where(wf: WorkedFile, cl, k: int, shape: tuple) -> str:
    """The words for entry k (flat) of a claim's value, as verify and check-grad name entries
    (numeric.compare.locate, every number from 1): the layer in MATH.md's numbering, then the document's
    number where it differs ("of layer 2, node 1, dim 2 (layer 1 in the document)"); the index is the
    claim's own index (counted from 0 in the file) followed by k's position within the value."""
    index = tuple(cl.index or ()) + tuple(int(i) for i in np.unravel_index(k, shape))
    if cl.layer is None:
        return locate(cl.quantity, None, index)
    layer = wf.index(cl.layer) + 1
    own = f" (layer {cl.layer} in the document)" if layer != cl.layer else ""
    return locate(cl.quantity, layer, index) + own


def check_worked(wf: WorkedFile, *, raise_: bool = False) -> list[Result]:
    """Judge every claim of a worked-number file at its printed precision; a false claim's worst
    entry is reported as a `numeric.compare.Finding` (raised as `VerificationError` with `raise_`)."""
    tv = _true_values(wf)
    out = []
    found = Findings(raise_=raise_)
    for cl in wf.claims:
        true = np.asarray(_quantity(wf, tv, cl.quantity, cl.layer), dtype=float)
        if cl.index is not None:
            try:
                true = true[tuple(cl.index)]
            except IndexError:
                raise SpecError(
                    f"{wf.path.name}: claim {cl.id!r} index {list(cl.index)} is outside shape {true.shape}",
                    "count indices from 0 within the layer's array",
                ) from None
        claimed = np.asarray(cl.value, dtype=object)
        flat_c, flat_t = claimed.ravel(), np.atleast_1d(true).ravel()
        if flat_c.size != flat_t.size:
            raise SpecError(
                f"{wf.path.name}: claim {cl.id!r} gives {flat_c.size} numbers; {cl.quantity} of layer {cl.layer} has {flat_t.size}",
                "give every entry, or pick one with index = [...]",
            )
        tol = cl.tolerance if cl.tolerance is not None else wf.tolerance
        verdicts = [judge_number(v, t, wf.rounding_allowance, tol) for v, t in zip(flat_c, flat_t)]
        rank = {HOLDS: 0, ROUNDING: 1, FALSE: 2}
        verdict = max((v for v, _ in verdicts), key=rank.__getitem__)
        trues = [_fmt(t, printed(v)[1]) for v, t in zip(flat_c, flat_t)]
        show = lambda xs: xs[0] if len(xs) == 1 else "(" + ", ".join(xs) + ")"  # noqa: E731
        worst = max(u for _, u in verdicts)
        keys = [(rank[v], u) for v, u in verdicts]
        k = keys.index(max(keys))  # the worst entry: false before rounding before holds, then the largest error
        where = _where(wf, cl, k, np.shape(true))
        f = number_finding(
            flat_c[k], flat_t[k], wf.rounding_allowance, tol, quantity=cl.quantity, engine=f"claim {cl.id!r}", where=where
        )
        f.command = f"derivcheck claims {display_path(wf.path)} --only {cl.id}"
        found.report(f)
        nums = lambda xs: xs[0] if len(xs) == 1 else list(xs)  # noqa: E731
        values = {
            "claimed": nums([printed(v)[0] for v in flat_c]),
            "true": nums([float(t) for t in flat_t]),
            "error": f.error,
            "measure": f.measure,
            "tolerance": f.tol,
        }
        out.append(
            Result(
                cl.id,
                "number",
                cl.where,
                cl.quantity + (f" (layer {cl.layer})" if cl.layer is not None else ""),
                verdict,
                show([str(v) for v in flat_c]),
                show(trues),
                cl.text,
                cl.note,
                evidence=f"off by {worst:.2g} units of the last printed digit" if verdict != HOLDS else "",
                finding="" if f.ok else f.describe(),
                values=values,
            )
        )
    return out
