"""The float32 check: dL/dZ in float32 against float64 on the same float32 inputs, for separated node
pairs and pairs brought to separations 1e-3..1e-7 (where |z_i - z_j| cancels in float32)."""

from __future__ import annotations

import numpy as np

from derivcheck.audit.registry import Check, Context, check
from derive import Net, Params, SpecError
from derive.primitives import Kernel

__all__ = ["SEPARATIONS", "float32_errors", "audit_net"]

SEPARATIONS = (1e-3, 1e-4, 1e-5, 1e-6, 1e-7)


def audit_net(k: Kernel, widths=(3, 4, 2), dim: int = 3, **kw) -> Net:
    """A spatial net with kernel `k` (its parameter values) for the numeric checks."""
    return Net(widths, dim=dim, kernel=k.name, kernel_params=dict(k.params), **kw)


def float32_errors(k: Kernel, seed: int, trials: int = 4) -> dict:
    """max over `trials` random nets of rel_error(dZ float32, dZ float64) for each separation of one
    node pair (layer 2 node 0 and layer 1 node 0); both engines see the same float32 coordinates."""
    from numeric import manual
    from numeric.compare import rel_error

    rng = np.random.default_rng(seed)
    net = audit_net(k)
    out: dict = {}
    for sep in (None, *SEPARATIONS):
        errs, notes = [], []
        for _ in range(trials):
            Z = [rng.uniform(-1.5, 1.5, (n, net.dim)) for n in net.widths]
            if sep is not None:
                u = rng.normal(size=net.dim)
                Z[1][0] = Z[0][0] + sep * u / np.linalg.norm(u)
            X, Y = rng.normal(size=(4, net.widths[0])), rng.normal(size=(4, net.widths[-1]))
            Z32 = [z.astype(np.float32) for z in Z]
            P = Params(Z=[z.astype(np.float64) for z in Z32])
            try:
                g64 = manual.gradients(net, P, X.astype(np.float32), Y.astype(np.float32), dtype=np.float64)
                g32 = manual.gradients(net, P, X.astype(np.float32), Y.astype(np.float32), dtype=np.float32)
                errs.append(rel_error(g32.dZ, g64.dZ))
            except SpecError as exc:
                errs.append(float("inf"))
                notes.append(str(exc).split(";")[0])
        out["none" if sep is None else f"{sep:g}"] = {
            "separation": sep,
            "max_rel_error": float(max(errs)),
            "refused": notes[:1],
        }
    return out


@check("float32", numeric=True)
def float32(ctx: Context) -> Check:
    """float32 dZ against float64 dZ on the same float32 inputs, for separated node pairs and node
    pairs at separations 1e-3..1e-7: fails when even separated nodes miss the float32 tolerance
    (numeric.compare), warns at the separation where float32 breaks down. Errors go to ctx.data."""
    c, ctx.data["float32"] = _float32(ctx.kernel, ctx.seed)
    return c


def _float32(k: Kernel, seed: int) -> tuple[Check, dict]:
    from numeric.compare import tolerance

    tol = tolerance(np.float32, "dZ")
    errs = float32_errors(k, seed)
    broken = [v["separation"] for v in errs.values() if v["max_rel_error"] > tol]
    ev = {
        "decided": "numeric",
        "seed": seed,
        "tolerance (numeric.compare, float32 dZ)": tol,
        "net": "widths 3-4-2, D = 3, tanh hidden layer, loss mse; 4 random nets per separation, coordinates uniform in [-1.5, 1.5]",
        "errors": errs,
    }
    table = ", ".join(f"{key}: {v['max_rel_error']:.2g}" for key, v in errs.items())
    refused = errs["none"]["refused"]
    if refused:  # the float32 engine refuses the kernel itself (a parameter beyond float32's range): say why
        return Check("float32", "fail", f"float32 cannot run this kernel: {refused[0]}", ev), errs
    if None in broken:
        return Check(
            "float32",
            "fail",
            f"float32 dZ misses float64 by more than {tol:g} even for separated nodes ({table})",
            ev,
        ), errs
    if broken:
        ev["breaks_down_at"] = max(broken)
        return Check(
            "float32",
            "warn",
            f"float32 breaks down at separation {max(broken):g} and below (rel. error of dZ by separation: {table})",
            ev,
        ), errs
    return Check("float32", "pass", f"float32 dZ within {tol:g} of float64 down to separation 1e-7 ({table})", ev), errs
