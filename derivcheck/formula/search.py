"""The numeric side of a formula claim: a hypothesis search (seeded, shrinking) over the claim's
family for a case where the formula and the manual engine disagree beyond TOLERANCES' formula rows."""

from __future__ import annotations

import logging
import random
from typing import Any

import numpy as np
from hypothesis import HealthCheck, find, settings
from hypothesis.errors import NoSuchExample

from derivcheck.formula.claim import Counterexample, FormulaClaim, FormulaVerdict, layers_of
from derivcheck.formula.proof import prove_formula
from derivcheck.formula.view import true_value, view
from derive import Params, SpecError
from numeric.compare import Finding, locate, report, tolerance
from numeric.seeded import seed_only

_LOG = logging.getLogger(__name__)

__all__ = ["check_formula"]


def _compare(claim: FormulaClaim, l: int, claimed, true) -> tuple[tuple, Any, Any, Finding]:
    """(index, claimed entry, true entry, finding) for one layer: the worst entry of
    |claimed - true| - (atol + rtol |true|) against the manual engine (the claims report adds the
    relative error |claimed - true| / |true| of that entry)."""

    def finding(error, tol, index=(), value=float("nan"), truth=float("nan"), note=""):
        return Finding(
            claim.quantity,
            f"claim {claim.id!r}",
            error,
            tol,
            where=locate(claim.quantity, l + 1, index),  # layers, rows, nodes from 1, as verify and check-grad
            value=value,
            truth=truth,
            measure="abs",
            reference="manual engine",
            note=note,
        )

    try:
        c = np.asarray(claimed, dtype=float)
    except (TypeError, ValueError):
        return (
            (),
            claimed,
            None,
            finding(float("inf"), 0.0, value=claimed, truth=None, note="the formula did not return a numeric array"),
        )
    t = np.asarray(true, dtype=float)
    if c.shape != t.shape:
        if c.size == t.size == 1:
            c = c.reshape(t.shape)
        else:
            return (
                (),
                c.tolist(),
                t.tolist(),
                finding(
                    float("inf"),
                    0.0,
                    value=c.shape,
                    truth=t.shape,
                    note=f"shape {c.shape} where the true value has shape {t.shape}",
                ),
            )
    # float64 engine against a formula evaluated in float64 (numeric.compare.TOLERANCES says why these values)
    atol = tolerance(np.float64, "formula_atol") if claim.atol is None else claim.atol
    rtol = tolerance(np.float64, "formula_rtol") if claim.rtol is None else claim.rtol
    band = atol + rtol * np.abs(t)
    err = np.abs(c - t) - band
    if np.all(err <= 0):
        return (), None, None, finding(0.0, 0.0)
    idx = tuple(int(i) for i in np.unravel_index(int(np.nanargmax(np.where(np.isnan(err), np.inf, err))), t.shape))
    diff = abs(float(c[idx]) - float(t[idx]))
    return (
        idx,
        float(c[idx]),
        float(t[idx]),
        finding(float("inf") if np.isnan(diff) else diff, float(band[idx]), idx, float(c[idx]), float(t[idx])),
    )


def _evaluate(claim: FormulaClaim, net, params, X, Y):
    """None when the claim holds on this case, else a Counterexample. Cases where the formula as
    written is undefined (a division by a zero distance) are skipped: they say nothing."""
    v = view(net, params, X, Y)
    for l in layers_of(claim, net.L):
        try:
            with np.errstate(all="ignore"):
                claimed = claim.fn(v, l)
        except (ValueError, IndexError) as exc:  # a product whose shapes do not match
            # the library's exception text goes to the log; the finding says what is wrong in the claim's terms
            _LOG.info("claim %s, layer %d: %s: %s", claim.id, l + 1, type(exc).__name__, exc)
            msg = "a product or an index in it does not fit the shapes of the arrays"
            true = np.asarray(true_value(v, claim.quantity, l)).tolist()
            f = Finding(
                claim.quantity,
                f"claim {claim.id!r}",
                float("inf"),
                0.0,
                where=f" of layer {l + 1}",
                value=None,
                truth=true,
                measure="abs",
                reference="manual engine",
                note=f"the formula is undefined here ({msg})",
            )
            return Counterexample(
                net.describe(), _params_dict(params), X.tolist(), Y.tolist(), l + 1, (), None, true, f.describe(), f
            )
        if claimed is not None and not np.all(np.isfinite(np.asarray(claimed, dtype=float))):
            if net.spatial and any(np.any(r == 0) for r in v.R[1:]):
                return None
        idx, c, t, f = _compare(claim, l, claimed, true_value(v, claim.quantity, l))
        if not f.ok:
            return Counterexample(net.describe(), _params_dict(params), X.tolist(), Y.tolist(), l + 1, idx, c, t, f.describe(), f)
    return None


def _params_dict(p: Params) -> dict:
    out = {}
    for k in ("Z", "W", "b"):
        val = getattr(p, k)
        if val is not None:
            out[k] = [np.asarray(x).tolist() for x in val]
    return out


def check_formula(
    claim: FormulaClaim, *, seed: int = 0, cases: int = 60, prove: bool = True, source: str = "", raise_: bool = False
) -> FormulaVerdict:
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

    cfg = settings(max_examples=cases, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    command = f"derivcheck claims {source or '<file>'} --only {claim.id} --seed {seed}"
    try:
        with seed_only():  # the draws and the shrink depend on the seed alone, not on the loaded source
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
