"""The checks of one verification case (`run_case`): every engine against the 50-digit ground truth,
the exact identities (translation, rotation, permutation), central finite differences, the Taylor test
and H v; each a `numeric.compare.Finding` reported to one `Findings`, the record as results.json holds it.
A check that does not apply to a case (fd and Taylor on a kinked net, or where steps small against a
placed node pair drown in rounding) is listed in the record's "skipped" with its reason, never passed."""

from __future__ import annotations

import numpy as np

from derivcheck.verify.cases import case_spec
from derivcheck.verify.steps import StepContext, hvp_kink, step_checks
from derive import Gradients, Params, SpecError
from numeric.compare import (
    Finding,
    Findings,
    check_close,
    check_gradients,
    check_identity,
    hvp_scale,
    permutation_residual,
    problem_scale,
    quantities,
    rotation_asymmetry,
    translation_residual,
)
from numeric.draws import Case
from numeric.engines import ENGINES as ENGINE_TABLE

__all__ = ["CHECKS", "HVP_ENGINES", "run_case"]

# What `--engines` chooses from: the engines checked against the symbolic ground truth (numeric.engines),
# then the independent checks.
CHECKS = tuple(name for name in ENGINE_TABLE if name != "symbolic") + ("fd", "taylor", "hvp")
# H v is checked in the float64 engines (the R-operator, torch on the CPU and, when present, on CUDA),
# against the exact H v; an engine that cannot run here is recorded as skipped ("not run"), never as a pass.
HVP_ENGINES = tuple(e.name for e in ENGINE_TABLE.values() if e.name != "symbolic" and e.hvp is not None and e.dtype == np.float64)


def _failure(f: Finding) -> dict:
    """A failed finding as results.json writes it (the reproducing command goes in its own field)."""
    return {"engine": f.engine, "quantity": f.quantity, "message": f.describe(reproduce=False)}


def run_case(case: Case, engines: tuple[str, ...], *, reproduce: str | None = None) -> dict:
    """All checks of one case; returns its JSON record (errors by engine and quantity, failures).
    Every check is a `numeric.compare.Finding` reported to one `Findings` (seed, `reproduce` command)."""
    net, p, X, Y = case.net, case.params, case.X, case.Y
    if case.seed is None:
        raise ValueError(f"case {case.id!r} has no seed: a verification case records the seed that drew it")
    rec: dict = {
        "id": case.id,
        "net": net.describe(),
        "spec": case_spec(case),
        "seed": case.seed,
        "errors": {},
        "identities": {},
        "failures": [],
        "skipped": [],
    }
    found = Findings(seed=case.seed, command=reproduce)

    def record(f: Finding, dtype=np.float64):
        found.report(f)
        rec["errors"].setdefault(f.engine, {})[f.quantity] = {
            "rel": f.rel,
            "ulp": f.ulp,
            "tol": f.tol,
            "pass": f.ok,
            "dtype": np.dtype(dtype).name,
        }

    truth = ENGINE_TABLE["symbolic"].gradients(net, p, X, Y, dps=50, backend="arb")
    runs: dict[str, tuple[Gradients, type[np.floating]]] = {}
    for name in (n for n in ENGINE_TABLE if n in engines):
        engine = ENGINE_TABLE[name]
        ok, why = engine.available()
        if not ok:
            rec["skipped"].append(f"{name}: {why}")
            continue
        try:
            runs[name] = (engine.gradients(net, p, X, Y), engine.dtype)
        except SpecError as exc:
            if engine.dtype == np.float64:
                raise  # the input itself is refused (the ground truth took it: an engine's bug shows here)
            # the inputs rounded to this engine's dtype are refused (a pair closer than it resolves
            # coincides): that engine is skipped on this case; every other engine is still judged
            rec["skipped"].append(f"{name}: refused this case: {_refusal(case, engine.dtype)} ({exc})")
    for name, (g, dt) in runs.items():
        ref = truth
        if dt != np.float64 and case.kind in ("near", "coincident"):
            # a placed node pair closer than the dtype resolves: the engine sees the rounded
            # coordinates, so it is judged against the ground truth at those (as check-grad does)
            try:
                ref = _truth_at(case, dt)
            except SpecError as exc:
                rec["skipped"].append(f"{name}: no ground truth at the inputs rounded to {np.dtype(dt).name} ({exc})")
                continue
        for f in check_gradients(g, ref, dtype=dt, engine=name):
            record(f, dt)
        if dt == np.float64 and p.Z is not None:
            S = abs(float(truth.loss))  # the problem scale floors the residuals (noise at stationary points)
            ids = {"translation": translation_residual(g.dZ, scale=S), "rotation": rotation_asymmetry(p.Z, g.dZ, scale=S)}
            rec["identities"][name] = ids
            for k, resid in ids.items():
                found.report(check_identity(k, name, resid))
    if "manual" in runs and net.spatial and net.L > 2 and net.widths[1] > 1:
        assert p.Z is not None  # verification cases are spatial nets with coordinates
        perm = np.roll(np.arange(net.widths[1]), 1)
        Zp = [z.copy() for z in p.Z]
        Zp[1] = Zp[1][perm]
        bp = None if p.b is None else [b.copy() for b in p.b]
        if bp is not None:
            bp[0] = bp[0][perm]
        tp = None if p.theta is None else [t.copy() for t in p.theta]
        if tp is not None:  # free amplitudes move with their nodes: rows of layer 2, columns of layer 3
            tp[0], tp[1] = tp[0][perm], tp[1][:, perm]
        gp = ENGINE_TABLE["manual"].gradients(net, Params(Z=Zp, b=bp, theta=tp), X, Y)
        g = runs["manual"][0]
        assert gp.dZ is not None and g.dZ is not None  # a spatial net's gradients include dZ
        res = permutation_residual(gp.dZ[1], g.dZ[1], perm)
        rec["identities"].setdefault("manual", {})["permutation"] = res
        found.report(check_identity("permutation", "manual", res))
    truth_flat = truth.flat()
    rng = np.random.default_rng(case.seed)
    v = rng.normal(size=truth_flat.size)
    along = runs.get("manual", (truth,))[0].flat()  # the gradient the Taylor test judges: manual's, else the truth's
    step_checks(case, engines, StepContext(truth=truth, grad_flat=along, v=v, rec=rec, record=record, found=found))
    if "hvp" in engines:
        _hvp_checks(case, rec, record, rng, problem_scale(quantities(truth)))
    rec["failures"] = [_failure(f) for f in found.failures]
    rec["pass"] = found.ok
    return rec


def _rounded(case: Case, dtype) -> tuple[Params, np.ndarray, np.ndarray]:
    """The case's parameters (coordinates, weights, biases, amplitudes) and data rounded to `dtype`, as
    float64 arrays: what an engine of that dtype computes with."""
    r = lambda a: None if a is None else [np.asarray(x, dtype=dtype).astype(np.float64) for x in a]  # noqa: E731
    p = case.params
    X, Y = (np.asarray(a, dtype=dtype).astype(np.float64) for a in (case.X, case.Y))
    return Params(Z=r(p.Z), W=r(p.W), b=r(p.b), theta=r(p.theta)), X, Y


def _refusal(case: Case, dtype) -> str:
    """Why an engine of `dtype` refused the case: its coordinates rounded to `dtype` put two nodes of
    adjacent layers at one place (a near pair closer than `dtype` resolves), or the rounded inputs as such."""
    Z = _rounded(case, dtype)[0].Z
    name = np.dtype(dtype).name
    if Z is not None and any((z[:, None, :] == zp[None, :, :]).all(axis=-1).any() for z, zp in zip(Z[1:], Z[:-1])):
        return f"rounded to {name} two nodes coincide"
    return f"its inputs rounded to {name}"


def _truth_at(case: Case, dtype) -> Gradients:
    """The 50-digit ground truth at the case's numbers rounded to `dtype`."""
    p, X, Y = _rounded(case, dtype)
    return ENGINE_TABLE["symbolic"].gradients(case.net, p, X, Y, dps=50, backend="arb")


def _hvp_checks(case: Case, rec: dict, record, rng, gradient_scale: float) -> None:
    """H v of every float64 engine against the exact H v, in a random direction over every parameter
    block (coordinates, then amplitudes, then biases: the flat layout of derive.layout)."""
    net, p, X, Y = case.net, case.params, case.X, case.Y
    if p.Z is None:
        rec["skipped"].append("hvp: checked on spatial nets")
        return
    kink = hvp_kink(net, p)
    if kink is not None:
        rec["skipped"].append(f"hvp: loss not C2: {kink}")
        return
    assert p.Z is not None  # verification cases are spatial nets with coordinates
    V = [rng.normal(size=z.shape) for z in p.Z] + [rng.normal(size=t.shape) for t in (p.theta or [])]
    V += [rng.normal(size=b.shape) for b in (p.b or [])]
    exact = ENGINE_TABLE["symbolic"].hvp
    assert exact is not None  # the ground truth has second order
    try:
        truth = exact(net, p, X, Y, V, dps=50, backend="arb")  # one R-operator pass on balls
    except SpecError as exc:  # e.g. Hessian undefined at coincident nodes
        rec["skipped"].append(f"hvp: {exc}")
        return
    names = "dZ" if len(V) == len(p.Z) else None  # name entries as dZ's when V holds Z blocks only
    for name in HVP_ENGINES:
        ok, why = ENGINE_TABLE[name].available()
        if not ok:
            rec["skipped"].append(f"hvp {name}: not run ({why})")
            continue
        hvp = ENGINE_TABLE[name].hvp
        assert hvp is not None  # HVP_ENGINES lists engines with second order
        try:
            got = hvp(net, p, X, Y, V)
        except SpecError as exc:  # a limit the engine states (the manual H v at coincident nodes of a penalised
            # layer), not a number: skipped with it, as an engine in float32 that refuses a case; the case failed
            rec["skipped"].append(f"hvp {name}: refused this case ({exc})")
            continue
        # the rounding-noise floor of H v (numeric.compare.hvp_scale), as first order has its own
        record(check_close("hvp", name, got, truth, entries_as=names, scale=hvp_scale(gradient_scale, V)))
