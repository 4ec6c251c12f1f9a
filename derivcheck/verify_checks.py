"""The checks of one verification case (`run_case`): every engine against the 50-digit ground truth,
the exact identities (translation, rotation, permutation), central finite differences, the Taylor test
and H v; each a `numeric.compare.Finding` reported to one `Findings`, the record as results.json holds it.
A check that does not apply to a case (fd and Taylor on a kinked net, or where steps small against a
placed node pair drown in rounding) is listed in the record's "skipped" with its reason, never passed."""

from __future__ import annotations

import dataclasses

import numpy as np

from derive import MLP, Gradients, Net, Params, SpecError
from numeric.compare import (
    Finding,
    Findings,
    check_close,
    check_gradients,
    check_identity,
    permutation_residual,
    rotation_asymmetry,
    tolerance,
    translation_residual,
)
from numeric.engines import ENGINES as ENGINE_TABLE
from numeric.fd import TAYLOR_EPS, fd_gradient, fd_steps, taylor_slope, weights_keep_sign
from numeric.flat import flatten

from .verify_cases import Case

__all__ = ["ENGINES", "HVP_ENGINES", "run_case"]

# The engines checked against the symbolic ground truth (numeric.engines), then the independent checks.
ENGINES = tuple(name for name in ENGINE_TABLE if name != "symbolic") + ("fd", "taylor", "hvp")
# H v is checked in the float64 engines (the R-operator, torch on the CPU and, when present, on CUDA),
# against the exact H v; an engine that cannot run here is recorded as skipped ("not run"), never as a pass.
HVP_ENGINES = tuple(e.name for e in ENGINE_TABLE.values() if e.name != "symbolic" and e.hvp is not None and e.dtype == np.float64)


def _hvp_kink(net: Net | MLP, p) -> str | None:
    """Why H v is not checked at this case (the loss is not C2 there), or None. A penalty whose only kink
    is |w| at w = 0 (derive.Penalty.kink_in_w_only) leaves the loss C2 wherever every weight is away
    from 0: H v is then checked (the drawn weights are nonzero; the exact H v is the Hessian there)."""
    kink = _kink(net)
    if kink is None or not _only_w_kink(net):
        return kink
    from numeric.manual import reference

    W = [w for w in reference.forward(net, p, np.zeros((1, net.widths[0])), np.zeros((1, net.widths[-1]))).W[1:]]
    smallest = min(float(np.abs(w).min()) for w in W)
    if smallest <= 1e-6 * max(float(np.abs(w).max()) for w in W):
        return f"{kink}, and a weight is {smallest:.1e}, at it"
    return None


def _only_w_kink(net: Net | MLP) -> bool:
    """Whether the loss's only kinks are penalties' |w| at w = 0 (derive.Penalty.kink_in_w_only): C2
    wherever no weight is 0, so checks whose steps keep every weight's sign apply."""
    if not isinstance(net, Net) or not net.penalties or not all(q.smooth or q.kink_in_w_only for q in net.penalties):
        return False
    return _kink(dataclasses.replace(net, penalties=())) is None


def _kink(net: Net | MLP) -> str | None:
    """Where the loss is not C2 near a generic point, in words (finite differences, Taylor slopes and
    the H v check assume it is, so they are skipped with this reason); None for a smooth net."""
    rough = [net.f(l).name for l in range(2, net.L + 1) if net.f(l).name in ("relu", "leaky_relu")]
    if rough:
        return f"{rough[0]} has a kink"
    if net.objective.name in ("mae", "huber"):
        return f"{net.objective.name} loss has a kink"
    if net.spatial and net.kernel in ("wendland_c2", "cosine_cutoff"):
        return f"kernel {net.kernel} is not C2 at its cutoff"
    for p in getattr(net, "penalties", ()):
        if not p.smooth:  # derive decides each penalty
            return f"penalty {p.rho!r} has a kink"
    return None


def _failure(f: Finding) -> dict:
    """A failed finding as results.json writes it (the reproducing command goes in its own field)."""
    return {"engine": f.engine, "quantity": f.quantity, "message": f.describe(reproduce=False)}


def run_case(case: Case, engines: tuple[str, ...], *, reproduce: str | None = None) -> dict:
    """All checks of one case; returns its JSON record (errors by engine and quantity, failures).
    Every check is a `numeric.compare.Finding` reported to one `Findings` (seed, `reproduce` command)."""
    net, p, X, Y = case.net, case.params, case.X, case.Y
    rec: dict = {
        "id": case.id,
        "net": net.describe(),
        "spec": case.spec(),
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

    truth = ENGINE_TABLE["symbolic"].gradients(net, p, X, Y, dps=50)
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
    _step_checks(case, engines, rec, record, found, truth, runs.get("manual", (truth,))[0].flat(), v)
    if "hvp" in engines:
        _hvp_checks(case, rec, record, rng)
    rec["failures"] = [_failure(f) for f in found.failures]
    rec["pass"] = found.ok
    return rec


def _pair_separation(case: Case) -> float | None:
    """The separation the fd and Taylor steps must be small against, or None where the default steps do.

    A placed node pair (near/coincident case) of a net that is not C2 where nodes meet (a kernel without
    a continuous Hessian at r = 0, e.g. tanh(r) with g'(0) = 1, or a penalty without a gradient there,
    e.g. (s (r - q0))^2): the loss bends like 1/r near the pair, so a step of the default size (up to
    1e-2) leaves the asymptotic range, or crosses the pair. derive decides both properties."""
    net = case.net
    if case.kind not in ("near", "coincident") or not isinstance(net, Net) or not net.spatial:
        return None
    if net.g.hessian_at_0 and all(p.gradient_at_0 for p in net.penalties):
        return None  # C2 through coincidence: any step is fine
    return float(case.sep or 0.0)


def _cone(net: Net) -> str:
    """Why `net` bends like 1/r where two nodes meet (the recorded reason of a scaled or skipped step)."""
    if not net.g.gradient_at_0:
        return f"kernel {net.kernel!r} has no gradient at r = 0 (g'(0) = {net.g.dg0})"
    if not net.g.hessian_at_0:
        return f"kernel {net.kernel!r} has no continuous Hessian at r = 0"
    p = next(p for p in net.penalties if not p.gradient_at_0)
    return f"penalty {p.rho!r} has no gradient at r = 0"


def _step_checks(case: Case, engines, rec: dict, record, found: Findings, truth: Gradients, grad_flat, v) -> None:
    """Central differences and the Taylor test, with steps small against a placed pair's separation
    where the loss bends like 1/r there (`_pair_separation`); a check that cannot be made meaningful is
    recorded in rec["skipped"] with its reason, never passed."""
    net, p, X, Y = case.net, case.params, case.X, case.Y
    want = [e for e in ("fd", "taylor") if e in engines]
    if not want:
        return
    kink = _kink(net)
    if kink is not None:
        x = flatten(net, p)
        steps = {"fd": lambda: fd_steps(x), "taylor": lambda: [e * v for e in TAYLOR_EPS]}
        for e in list(want):  # |w| only: checked where no step of the check crosses w = 0
            if not (_only_w_kink(net) and weights_keep_sign(net, p, steps[e]())):
                rec["skipped"].append(f"{e}: loss not C2: {kink}" + (", and a step crosses w = 0" if _only_w_kink(net) else ""))
                want.remove(e)
        if not want:
            return
    sep = _pair_separation(case)
    cone = ""
    if sep is not None:
        assert isinstance(net, Net)  # a placed pair: a spatial net
        cone = _cone(net)
    if sep == 0.0:
        for e in want:
            rec["skipped"].append(f"{e}: the placed pair coincides and {cone}")
        return
    truth_flat = truth.flat()
    if "fd" in want:
        # truncation ~ (h / sep)^2: h = 1e-3 sep; rounding ~ eps |J| / h, which must stay under the tolerance
        step = None if sep is None else 1e-3 * sep
        tol = tolerance(np.float64, "fd")
        if step is not None:
            S = max(float(np.max(np.abs(truth_flat))), np.finfo(np.float64).tiny)
            noise = float(np.finfo(np.float64).eps) * max(1.0, abs(float(truth.loss))) / step / S
        if step is not None and noise > tol / 10:
            rec["skipped"].append(
                f"fd: the placed pair is {sep:.0e} apart and {cone}; a step small against it "
                f"({step:.0e}) loses {noise:.0e} to rounding (tolerance {tol:.0e})"
            )
        else:
            record(check_close("grad", "fd", fd_gradient(net, p, X, Y, step=step), truth_flat, tol=tol))
    if "taylor" in want:
        eps = None if sep is None else _pair_steps(net, p, X, Y, grad_flat, v, sep, float(truth.loss))
        if eps is not None and eps.size == 0:
            rec["skipped"].append(
                f"taylor: the placed pair is {sep:.0e} apart and {cone}; steps small against it leave under a decade above rounding"
            )
            return
        t = taylor_slope(net, p, X, Y, grad_flat, v, eps=eps)
        if t.slope is None:
            rec["skipped"].append("taylor: the remainder is below rounding at every step")
        else:
            rec["taylor"] = {"slope": t.slope, "expected": 2}
            if eps is not None:
                rec["taylor"]["steps"] = [float(eps[-1]), float(eps[0])]
            found.report(t.finding())


def _pair_steps(net: Net | MLP, p: Params, X, Y, grad_flat, v, sep: float, J: float) -> np.ndarray:
    """Taylor steps small against the separation `sep` of a placed pair where the loss bends like 1/r:
    from 0.1 sep (the third-order term is ~ e / sep of the second) down to where the remainder C e^2 is
    100 times the rounding floor (eps (|J| + |dJ/dz| |z|): rounding the coordinates moves J too); empty
    when that leaves under a decade.

    C = the largest r(e) / e^2 over probes at 0.1, 0.01 and 0.001 sep clear of the floor: a gradient error
    adds |<dg, v>| e to r(e), which only widens the window (and then flattens the fitted slope to 1)."""
    top = 0.1 * sep
    probes = top * np.array([1.0, 1e-1, 1e-2])
    rem = taylor_slope(net, p, X, Y, grad_flat, v, eps=probes).remainders
    # rounding the coordinates (size |z|) moves J by ~eps |dJ/dz| |z|, which near a pair that bends like
    # 1/r is far above eps |J| (1/r at a 1e-7 pair: 1e14 x 1.4 x eps = 3e-2 on J = 1e7, where eps J is
    # 2e-9; the remainders below it are noise and the fitted slope flattens)
    zmax = max(float(np.max(np.abs(z))) for z in (p.Z or [np.zeros(1)]))
    floor = tolerance(np.float64, "taylor_floor") * (max(1.0, abs(J)) + float(np.max(np.abs(grad_flat))) * zmax)
    clear = rem > 100 * floor
    if not clear.any():
        return np.empty(0)
    low = float(np.sqrt(100 * floor / np.max(rem[clear] / probes[clear] ** 2)))
    return np.geomspace(top, low, 10) if low <= top / 10 else np.empty(0)


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
    return ENGINE_TABLE["symbolic"].gradients(case.net, p, X, Y, dps=50)


def _hvp_checks(case: Case, rec: dict, record, rng) -> None:
    """H v of every float64 engine against the exact H v, in a random direction over every parameter
    block (coordinates, then amplitudes, then biases: the flat layout of derive.layout)."""
    net, p, X, Y = case.net, case.params, case.X, case.Y
    if p.Z is None:
        rec["skipped"].append("hvp: checked on spatial nets")
        return
    kink = _hvp_kink(net, p)
    if kink is not None:
        rec["skipped"].append(f"hvp: loss not C2: {kink}")
        return
    assert p.Z is not None  # verification cases are spatial nets with coordinates
    V = [rng.normal(size=z.shape) for z in p.Z] + [rng.normal(size=t.shape) for t in (p.theta or [])]
    V += [rng.normal(size=b.shape) for b in (p.b or [])]
    exact = ENGINE_TABLE["symbolic"].hvp
    assert exact is not None  # the ground truth has second order
    try:
        truth = exact(net, p, X, Y, V, dps=50)
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
        record(check_close("hvp", name, hvp(net, p, X, Y, V), truth, entries_as=names))
