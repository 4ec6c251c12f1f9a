"""Checks at coincident nodes (r = 0), MATH.md "Coincident nodes": one edge gives w(z) = g(|z|), with
grad w = g'(r) u and Hess w = g''(r) u u^T + phi(r) (I - u u^T) for z != 0 (u = z/|z|). The verdicts
read the kernel's own properties (`derive.primitives.Kernel.gradient_at_0`, `.hessian_at_0`,
`.phi0`), the same ones the engines use."""

from __future__ import annotations

from typing import Any

import numpy as np

from derivcheck.audit.registry import Check, Context, check
from derivcheck.audit.shape import short
from derive import audit_math as am
from derive.decide import finite, is_zero, to_float
from derive.step_limits import attempt
from numeric import scan

__all__ = ["PHI_NEAR0"]

# policy: distance of the compiled phi(1e-8) from phi(0), relative to |phi(0)|; absolute when phi(0) = 0
# (a relative error against an exact zero is meaningless: phi(1e-8) = -6.4e-15 is right for 1/(1+(r/a)^4))
PHI_NEAR0 = 1e-6


@check("gradient_at_coincidence")
def gradient_at_coincidence(ctx: Context) -> Check:
    """g'(0+) = 0 (`Kernel.gradient_at_0`): the coordinate gradient g'(r) u tends to 0 from every
    direction u, so it exists where two nodes meet. Otherwise its limit depends on the direction
    (the evidence gives the limits along +e1 and -e1)."""
    f = ctx.facts
    dg0 = f.dg0
    ev = {"decided": "symbolic", "g'(0+)": short(dg0) if f.dg0_why is None else f.dg0_why}
    if dg0 is None:
        return Check("gradient_at_coincidence", "fail", f"g'(0+) undecided ({f.dg0_why})", ev)
    if attempt(lambda: f.k.gradient_at_0)[0]:
        return Check(
            "gradient_at_coincidence",
            "pass",
            "g'(0) = 0: the coordinate gradient g'(r) u -> 0 from every direction u, so it is continuous where two nodes meet",
            ev,
        )
    ev["limit along +e1"] = f"[{dg0}, 0, ...]"
    ev["limit along -e1"] = f"[{-dg0}, 0, ...]"
    return Check(
        "gradient_at_coincidence",
        "fail",
        f"g'(0+) = {dg0} != 0: grad_z w = g'(r) u tends to {dg0}*u, a "
        "different limit for each approach direction u (no gradient where nodes meet)",
        ev,
    )


@check("hessian_at_coincidence")
def hessian_at_coincidence(ctx: Context) -> Check:
    """The Hessian is continuous at coincidence (`Kernel.hessian_at_0`): g'(0) = 0 and the radial and
    tangential eigenvalues g'' and phi of Hess w tend to one finite value (g''(0+) = phi(0+), i.e.
    lim r phi'(r) = 0), so Hess w -> g''(0) I. g'''(0+) says whether w is C3 there."""
    f = ctx.facts
    d3g0, why3 = attempt(am.limit_at_0, am.derivative(f.k, 3))
    ctx.data["d3g0"] = d3g0  # the exact value, for the report's formula
    ev = {
        "decided": "symbolic",
        "g'(0+)": short(f.dg0),
        "g''(0+)": short(f.d2g0),
        "phi(0+)": short(f.phi0),
        "g'''(0+)": short(d3g0) if why3 is None else why3,
    }
    third = (
        "g'''(0) = 0 (w is C3 at coincidence)"
        if d3g0 is not None and is_zero(d3g0)
        else f"g'''(0+) = {short(d3g0)} != 0 (the Hessian is continuous but not differentiable there)"
    )
    if f.dg0 is None or not attempt(lambda: f.k.gradient_at_0)[0]:
        return Check(
            "hessian_at_coincidence",
            "fail",
            f"g'(0+) = {short(f.dg0)} != 0: not even the gradient exists at coincidence",
            ev,
        )
    if f.d2g0 is None or f.phi0 is None or not attempt(lambda: f.k.hessian_at_0)[0]:
        return Check(
            "hessian_at_coincidence",
            "fail",
            f"g''(0+) = {short(f.d2g0)}, phi(0+) = {short(f.phi0)}: the Hessian "
            "eigenvalues g'' (radial) and phi (tangential) have different or infinite limits",
            ev,
        )
    return Check(
        "hessian_at_coincidence",
        "pass",
        f"g'(0) = 0 and g is C2 at 0: Hess w -> g''(0) I = {f.d2g0}*I; {third}",
        ev,
    )


@check("phi")
def phi(ctx: Context) -> Check:
    """phi(r) = g'(r)/r in closed form and its limit phi(0+), the value engines use at r = 0: warns when
    phi(0+) is infinite (engines refuse coincident nodes) or the compiled phi near 0 cancels badly."""
    f = ctx.facts
    ev: dict[str, Any] = {
        "decided": "symbolic+numeric",
        "how": "closed form and limit (SymPy); compiled phi near 0 (float64)",
        "phi(r)": str(f.phi),
        "phi(0)": short(f.phi0) if f.phi0_why is None else f.phi0_why,
    }
    if f.phi0 is None or not finite(f.phi0):
        return Check(
            "phi",
            "warn",
            f"phi(r) = {f.phi}; phi(0+) = {short(f.phi0)}: engines refuse coincident nodes (SpecError) instead of returning NaN",
            ev,
        )
    # probes small against the kernel's own width (exp(-r**2/s**2) with s = 1e-10: phi(1e-8) is exactly
    # 0, 100 widths out, and was read as "cancellation"); 1e-4..1e-8 for kernels of width 1e-2 and above
    width = ctx.kernel.length_scale
    near = np.array([1e-4, 1e-6, 1e-8]) * (min(1.0, 100 * width) if width else 1.0)
    vals = scan.evaluate(f.num["phi"], near)
    p0 = to_float(f.phi0)
    scale, kind = (abs(p0), "relative") if p0 != 0 else (1.0, "absolute")
    rel = np.abs(vals - p0) / scale
    ev["compiled phi(r) near 0"] = {f"{r:g}": float(v) for r, v in zip(near, vals, strict=True)}
    at = f"{near[-1]:g}".replace("e-0", "e-")  # 1e-8, as the evidence always named it
    ev[f"{kind} distance at {at}"] = float(rel[-1])
    if not np.isfinite(rel[-1]) or rel[-1] > PHI_NEAR0:
        return Check(
            "phi",
            "warn",
            f"phi(0) = {f.phi0}, but the compiled phi({at}) = {vals[-1]:.6g} is "
            f"{rel[-1]:.2g} away ({kind}; cancellation near coincidence)",
            ev,
        )
    return Check("phi", "pass", f"phi(r) = {f.phi}, phi(0) = {f.phi0} (= g''(0), the value engines use at r = 0)", ev)
