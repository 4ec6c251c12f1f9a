"""verify's checks that take steps in parameter space, and where they apply: where the loss is not C2
(`kink_reason`; a penalty whose only kink is |w| at w = 0 is C2 wherever no weight is 0: `only_w_kink`,
`hvp_kink`), central differences and the Taylor test (`step_checks`), with steps small against a placed
node pair's separation where the loss bends like 1/r there. A check that does not apply to a case is
recorded as skipped with its reason, never passed."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from derive import MLP, Gradients, Net, Params
from numeric.compare import Finding, Findings, check_close, tolerance
from numeric.draws import Case
from numeric.fd import TAYLOR_EPS, fd_estimate, fd_step, fd_steps, taylor_slope, weights_keep_sign
from numeric.flat import flatten

__all__ = ["kink_reason", "only_w_kink", "hvp_kink", "step_checks", "StepContext"]


@dataclasses.dataclass(frozen=True)
class StepContext:
    """What the step checks of one case take from `run_case` besides the case and the requested checks:
    what they compare with, and where they report."""

    truth: Gradients  # the 50-digit ground truth
    grad_flat: np.ndarray  # the gradient (flat) the Taylor test judges: the manual engine's, else the truth's
    v: np.ndarray  # the Taylor test's direction
    rec: dict  # the case's results.json record ("skipped", "taylor")
    record: Callable[[Finding], None]  # reports a finding and writes its rec["errors"] entry
    found: Findings  # the case's findings (the Taylor slope)


def hvp_kink(net: Net | MLP, p) -> str | None:
    """Why H v is not checked at this case (the loss is not C2 there), or None. A penalty whose only kink
    is |w| at w = 0 (derive.Penalty.kink_in_w_only) leaves the loss C2 wherever every weight is away
    from 0: H v is then checked (the drawn weights are nonzero; the exact H v is the Hessian there)."""
    kink = kink_reason(net)
    if kink is None or not only_w_kink(net):
        return kink
    from numeric.manual import reference

    W = [w for w in reference.forward(net, p, np.zeros((1, net.widths[0])), np.zeros((1, net.widths[-1]))).W[1:]]
    smallest = min(float(np.abs(w).min()) for w in W)
    if smallest <= 1e-6 * max(float(np.abs(w).max()) for w in W):
        return f"{kink}, and a weight is {smallest:.1e}, at it"
    return None


def only_w_kink(net: Net | MLP) -> bool:
    """Whether the loss's only kinks are penalties' |w| at w = 0 (derive.Penalty.kink_in_w_only): C2
    wherever no weight is 0, so checks whose steps keep every weight's sign apply."""
    if not net.penalties or not all(q.smooth or q.kink_in_w_only for q in net.penalties):
        return False
    return kink_reason(dataclasses.replace(net, penalties=())) is None


def kink_reason(net: Net | MLP) -> str | None:
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


def _kernel_width(case: Case) -> float | None:
    """At a placed pair, the kernel's length scale where it is below the default steps' reach (0.1):
    there the loss bends over that distance as the pair moves (exp(-r**2/s**2) with s = 1e-8: Taylor
    steps of 1e-5..1e-2 saw a constant remainder, a fitted slope of 0, a false failure), so the steps
    must be small against it (derive: Kernel.length_scale)."""
    net = case.net
    if case.kind not in ("near", "coincident") or not isinstance(net, Net) or not net.spatial:
        return None
    width = net.g.length_scale
    return width if width is not None and width < 0.1 else None


def _cone(net: Net) -> str:
    """Why `net` bends like 1/r where two nodes meet (the recorded reason of a scaled or skipped step)."""
    if not net.g.gradient_at_0:
        return f"kernel {net.kernel!r} has no gradient at r = 0 (g'(0) = {net.g.dg0})"
    if not net.g.hessian_at_0:
        return f"kernel {net.kernel!r} has no continuous Hessian at r = 0"
    p = next(p for p in net.penalties if not p.gradient_at_0)
    return f"penalty {p.rho!r} has no gradient at r = 0"


def step_checks(case: Case, engines, ctx: StepContext) -> None:
    """Central differences and the Taylor test, with steps small against a placed pair's separation
    where the loss bends like 1/r there (`_pair_separation`); a check that cannot be made meaningful is
    recorded in ctx.rec["skipped"] with its reason, never passed."""
    net, p, X, Y = case.net, case.params, case.X, case.Y
    rec, record, found, truth, grad_flat, v = ctx.rec, ctx.record, ctx.found, ctx.truth, ctx.grad_flat, ctx.v
    want = [e for e in ("fd", "taylor") if e in engines]
    if not want:
        return
    kink = kink_reason(net)
    if kink is not None:
        x = flatten(net, p)
        steps = {"fd": lambda: fd_steps(x) + fd_steps(x, step=2 * fd_step()), "taylor": lambda: [e * v for e in TAYLOR_EPS]}
        for e in list(want):  # |w| only: checked where no step of the check crosses w = 0
            if not (only_w_kink(net) and weights_keep_sign(net, p, steps[e]())):
                rec["skipped"].append(f"{e}: loss not C2: {kink}" + (", and a step crosses w = 0" if only_w_kink(net) else ""))
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
    about = "" if sep is None else f"the placed pair is {sep:.0e} apart and {cone}"  # what the steps are small against
    width = _kernel_width(case)
    if width is not None and (sep is None or width < sep):
        sep, about = width, f"kernel {getattr(net, 'kernel', '')!r} changes over {width:.0e} where the placed pair's nodes meet"
    truth_flat = truth.flat()
    if "fd" in want:
        # truncation ~ (h / sep)^2: h = 1e-3 sep; rounding ~ eps |J| / h, which must stay under the tolerance
        step = None if sep is None else 1e-3 * sep
        tol = tolerance(np.float64, "fd")
        if step is not None:
            S = max(float(np.max(np.abs(truth_flat))), np.finfo(np.float64).tiny)
            with np.errstate(over="ignore"):  # a step of 1e-74 (a kernel 7e-71 wide): inf noise, skipped below
                noise = float(np.finfo(np.float64).eps) * max(1.0, abs(float(truth.loss))) / step / S
        if step is not None and noise > tol / 10:
            rec["skipped"].append(
                f"fd: {about}; a step small against it ({step:.0e}) loses {noise:.0e} to rounding (tolerance {tol:.0e})"
            )
        else:
            est = fd_estimate(net, p, X, Y, step=step)
            # judged only where the differences resolve the gradient (their error bound well below tol x
            # value, the value taken from the differences too, so a wrong truth cannot make them skip);
            # elsewhere their own error would be the user's failure (a 1e-7 pair: 2.8e-11 on a gradient of 1e-6)
            value = max(float(np.max(np.abs(truth_flat), initial=0.0)), float(np.max(np.abs(est.grad), initial=0.0)))
            why = est.unresolved(tol, value)
            if why is not None:
                rec["skipped"].append(f"fd: {why}")
            else:
                record(check_close("grad", "fd", est.grad, truth_flat, tol=tol))
    if "taylor" in want:
        eps = None if sep is None else _pair_steps(net, p, X, Y, grad_flat, v, sep, float(truth.loss))
        if eps is not None and eps.size == 0:
            rec["skipped"].append(f"taylor: {about}; steps small against it leave under a decade above rounding")
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
