"""Error measures and the checks built on them, each returning a `Finding` (numeric.compare.findings):

    rel_error(x, truth) = max|x - truth| / max(max|truth|, tiny)
    ulp_error(x, truth) = max|x - truth| / spacing(max|truth|) in the engine's dtype

`check_close` (one quantity against a reference, naming the worst entry), `check_gradients` (every
first-order quantity, with the rounding-noise floor), `check_identity` (an identity's residual)."""

from __future__ import annotations

import numpy as np

from numeric.compare.findings import Finding, report, worst_entry
from numeric.compare.tolerances import tolerance

__all__ = [
    "QUANTITIES",
    "rel_error",
    "ulp_error",
    "quantities",
    "problem_scale",
    "check_close",
    "check_gradients",
    "check_identity",
]

QUANTITIES = ("loss", "dW", "dtheta", "dZ", "db", "dX", "hvp")


def _cat(x) -> np.ndarray:
    if x is None:
        return np.zeros(0)
    if isinstance(x, (list, tuple)):
        return np.concatenate([np.asarray(a, dtype=np.float64).reshape(-1) for a in x]) if x else np.zeros(0)
    return np.asarray(x, dtype=np.float64).reshape(-1)


def _shape_check(x: np.ndarray, t: np.ndarray) -> None:
    if x.shape != t.shape:
        report(
            Finding(
                "array",
                "value",
                float("inf"),
                0.0,
                value=x.shape,
                truth=t.shape,
                measure="shape",
                note=f"shape {x.shape} where the reference has shape {t.shape}",
            ),
            raise_=True,
        )


def rel_error(x, truth) -> float:
    x, t = _cat(x), _cat(truth)
    _shape_check(x, t)
    if t.size == 0:
        return 0.0
    with np.errstate(over="ignore"):  # 1e300 against a truth below 1: an inf error, not a RuntimeWarning on stderr
        return float(np.max(np.abs(x - t)) / max(float(np.max(np.abs(t))), np.finfo(np.float64).tiny))


def ulp_error(x, truth, dtype=np.float64) -> float:
    x, t = _cat(x), _cat(truth)
    if t.size == 0:
        return 0.0
    scale = np.spacing(np.asarray(max(float(np.max(np.abs(t))), np.finfo(dtype).tiny), dtype=dtype))
    with np.errstate(over="ignore"):  # an error against an exact 0 is inf ulps, not a warning
        return float(np.float64(np.max(np.abs(x - t))) / np.float64(scale))


def quantities(grads) -> dict[str, object]:
    """The quantities of a `Gradients` that are present, by name."""
    out = {
        "loss": grads.loss,
        "dW": grads.dW,
        "dZ": grads.dZ,
        "db": grads.db,
        "dX": grads.dX,
        "dtheta": getattr(grads, "dtheta", None),
    }
    return {k: v for k, v in out.items() if v is not None}


def check_close(
    quantity: str,
    engine: str,
    x,
    truth,
    dtype=np.float64,
    tol: float | None = None,
    *,
    reference: str = "ground truth",
    entries_as: str | None = None,
    scale: float | None = None,
) -> Finding:
    """Compare one quantity of one engine against a reference (does not raise; pass the result to
    `report`). `tol` defaults to `tolerance(dtype, quantity)`; the worst entry is named by
    `numeric.compare.findings.worst_entry` (`entries_as`: name the entries as for that quantity).

    With `scale` (the problem's scale S, see `check_gradients`) the error also passes when it is within
    the rounding noise `tolerance(dtype, "noise") * S`: the relative error is taken against
    max(max|truth|, noise S / tol), so `error <= tol` reads |x - truth| <= max(tol max|truth|, noise S).
    Without it the measure is the plain normwise relative error.
    """
    tol = tolerance(dtype, quantity) if tol is None else tol
    where, v, t = worst_entry(quantity, x, truth, entries_as=entries_as)
    err, ulp = rel_error(x, truth), ulp_error(x, truth, dtype)
    tc = _cat(truth)
    floor = tolerance(dtype, "noise") * scale / tol if scale and tol > 0 else 0.0
    if tc.size and floor > float(np.max(np.abs(tc))):
        err = float(np.max(np.abs(_cat(x) - tc))) / floor
    return Finding(quantity, engine, err, tol, where=where, value=v, truth=t, ulp=ulp, reference=reference)


def problem_scale(truth: dict) -> float:
    """The problem's scale S of the rounding-noise floor: max(|loss|, largest entry of every true gradient
    quantity) over the quantities (by name, as `quantities` gives them) present in `truth`."""
    loss = truth.get("loss")
    return max(
        [abs(float(loss)) if loss is not None else 0.0]
        + [float(np.max(np.abs(_cat(v)))) for k, v in truth.items() if k != "loss" and v is not None and _cat(v).size]
    )


def check_gradients(grads, truth, dtype=np.float64, *, engine: str | None = None, reference: str = "ground truth") -> list[Finding]:
    """`check_close` for every first-order quantity both `Gradients` hold (loss, dW, dZ, db, dX), with
    the problem's scale S = max(|loss|, largest gradient entry of `truth`) for the rounding-noise floor.

    Why a floor: an entry that cancels to ~0 by symmetry (dX when two output nodes sit at one place and
    their dL/da are opposite; every gradient at a stationary point; tanh' in saturation) is exactly 0,
    or ~1e-50, in the exact reference, and an engine that rounds the cancelling terms (an FMA, 1 - tanh^2)
    leaves ~eps S there: a relative error against 0 says nothing about the engine.
    """
    tq, gq = quantities(truth), quantities(grads)
    S = problem_scale(tq)
    return [
        check_close(q, engine or grads.engine, gq[q], t, dtype=dtype, reference=reference, scale=S)
        for q, t in tq.items()
        if q in gq
    ]


def hvp_scale(gradient_scale: float, V) -> float:
    """The rounding-noise scale of H v: the problem's scale S (`problem_scale` of the first-order truth)
    times the direction's largest entry (H v is linear in v).

    Why: a float64 H v whose exact value is small against the terms it sums (tanh'' in saturation, where
    torch's backward computes 1 - tanh^2 by cancellation: 4.9e-16 off an exact H v of 4.5e-8 at loss 1,
    1.1e-8 relative) is float64 evaluation of the same formula, not a wrong engine."""
    return float(gradient_scale) * max(float(np.max(np.abs(_cat(V)))) if _cat(V).size else 0.0, 0.0)


def check_identity(identity: str, engine: str, residual: float, dtype=np.float64) -> Finding:
    """An exact identity's relative residual (0 in exact arithmetic) against its tolerance."""
    return Finding(
        identity,
        engine,
        float(residual),
        tolerance(dtype, identity),
        value=float(residual),
        truth=0.0,
        reference=f"the {identity} identity",
    )
