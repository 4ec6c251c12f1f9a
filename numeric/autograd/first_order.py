"""torch autograd engine: derivatives of numeric.autograd.model.loss_fn by autograd (CPU or CUDA).

hvp and hessian live in numeric.autograd.second_order; the package face, numeric.autograd, exports all three.

Coincident nodes: see numeric.autograd.model (the double `where` that keeps r = 0 differentiable).

Results stay where they are computed (issue 17): ``gradients(..., as_numpy=False)`` returns detached
tensors on the device and ``quantities=("loss", "dZ")`` differentiates only what is asked (no N x N
dL/dW copied to the host, which was 0.92 s of a 1.10 s CUDA call at L=4, widths 8192, batch 1024).
The default (NumPy, every quantity, formulation "dims") is what verification compares.
The formulations of the gradient (FORMULATIONS, with "eq8": autograd for dL/dW only, then dL/dZ by
eq. (8)'s efficient form) and their measured speeds: numeric.autograd.model.
"""

from __future__ import annotations

import numpy as np
import torch

from derive import MLP, Gradients, Net, Params, SpecError, compile_net
from numeric.autograd.model import TORCH_DTYPES, device_for, loss_fn, to_torch
from numeric.validate import check_inputs, check_theta

__all__ = ["gradients", "QUANTITIES"]

QUANTITIES = ("loss", "dW", "dZ", "dtheta", "db", "dX", "delta", "dA")


def _wanted(quantities) -> set[str]:
    """The set of quantities asked for (None: all of QUANTITIES)."""
    if quantities is None:
        return set(QUANTITIES)
    if isinstance(quantities, str):
        quantities = (quantities,)
    q = set(quantities)
    bad = sorted(q - set(QUANTITIES))
    if bad:
        raise SpecError(f"unknown quantity {bad[0]!r}", f"ask for a subset of {', '.join(QUANTITIES)}")
    return q


def gradients(
    net: Net | MLP,
    params: Params,
    X,
    Y,
    *,
    dtype=np.float64,
    device: str | None = "cpu",
    formulation: str = "dims",
    as_numpy: bool = True,
    quantities=None,
) -> Gradients:
    """Loss and first derivatives by torch autograd (the engine contract: keyword-only dtype, device,
    formulation).

    Args:
        dtype: np.float64 or np.float32. device: "cpu", "cuda" or None (CUDA when available).
        formulation: how r^2 is formed (FORMULATIONS).
        as_numpy: True (the default, what verification compares): float NumPy arrays on the host and a
            float loss. False: detached torch tensors on `device` (the loss a 0-d tensor): nothing is
            copied back, the caller decides when (a GPU trainer keeps them there).
        quantities: None (all) or a subset of QUANTITIES. Only what is asked for is differentiated: without
            "dW" the N_l x N_(l-1) weight gradients are never requested (dZ comes from autograd w.r.t. Z
            directly) nor copied; the fields not asked for are None.

    Returns:
        `Gradients` with loss, dW, dZ (spatial), db, dX, and delta_l = dL/dh_l, dA_l = dL/da_l
        (autograd's adjoints of the h_l and a_l tensors of the forward pass).
    """
    want = _wanted(quantities)
    dtype = np.dtype(dtype).type
    Z, W, b, Xa, Ya = check_inputs(net, params, X, Y, dtype)
    th = check_theta(net, params, dtype)
    dev, tdt = device_for(device), TORCH_DTYPES[dtype]
    tht = to_torch(th, tdt, dev, "dtheta" in want)
    inner_q = bool(want & {"delta", "dA"})
    eq8 = formulation == "eq8" and net.spatial
    if eq8 and (tht is not None or (isinstance(net, Net) and net.penalties)):
        # eq8 forms dL/dZ from the kernel path only: theta and penalties add terms it would miss
        raise SpecError(
            "formulation 'eq8' covers the note's model only (no free amplitudes, no penalties)", "use formulation='dims'"
        )
    # A spatial net's W is a function of Z: its adjoint exists only on a graph that starts at Z
    # (eq8: W is a leaf and dL/dZ comes from dL/dW, so Z itself is never differentiated).
    Zt = to_torch(Z, tdt, dev, bool(want & {"dZ", "dW"}) and not eq8)
    Wt = to_torch(W, tdt, dev, "dW" in want)
    bt = to_torch(b, tdt, dev, "db" in want)
    Xt = torch.tensor(Xa, dtype=tdt, device=dev, requires_grad=bool(want & {"dX", "dA"}) or inner_q)
    Yt = torch.tensor(Ya, dtype=tdt, device=dev)
    trace: dict[str, list] = {"h": [], "a": []}
    value, weights = loss_fn(net, Zt, Wt, bt, Xt, Yt, formulation, trace, theta=tht)
    if not torch.isfinite(value):
        raise SpecError(
            f"loss {net.loss!r} is not finite at these predictions (e.g. log(0) or overflow)",
            "check the targets' range against the output activation (bce needs outputs in (0, 1))",
        )
    groups = {
        "dW": weights if want & ({"dW", "dZ"} if eq8 else {"dW"}) else [],
        "dZ": (Zt or []) if "dZ" in want and not eq8 else [],
        "dtheta": (tht or []) if "dtheta" in want else [],
        "db": (bt or []) if "db" in want else [],
        "dX": [Xt] if want & {"dX", "dA"} else [],
        "h": trace["h"] if "delta" in want else [],
        "a": trace["a"] if "dA" in want else [],
    }
    targets = [t for ts in groups.values() for t in ts]
    # a piecewise-constant kernel (where(r < 1, 1, 0)) gives weights outside the graph: their gradient
    # is 0 (below), and autograd refuses to differentiate tensors that do not require grad
    need = [t for t in targets if t.requires_grad] if value.requires_grad else []
    got = iter(torch.autograd.grad(value, need, allow_unused=True) if need else ())
    grads = [next(got) if value.requires_grad and t.requires_grad else None for t in targets]

    def out(g, like):
        # a quantity the loss does not depend on (a loss constant in a_L, a constant kernel) has a zero adjoint
        t = torch.zeros_like(like) if g is None else g.detach()
        return t.cpu().numpy() if as_numpy else t

    res: dict[str, list] = {}
    i = 0
    for name, ts in groups.items():
        skip = name == "dW" and "dW" not in want  # eq8's dL/dW, used for dZ below, never copied out
        res[name] = [] if skip else [out(g, t) for g, t in zip(grads[i : i + len(ts)], ts)]
        i += len(ts)
    if eq8 and "dZ" in want:
        dW = [torch.zeros_like(w) if g is None else g.detach() for g, w in zip(grads[: len(weights)], weights)]
        res["dZ"] = _eq8_dZ(net, Zt, dW, [w.eq8_r2 for w in weights], as_numpy)
    # No silent non-finite values: r^2 = |z_i - z_j|^2 overflows for coordinates near 1e154 and the
    # backward pass then forms 0 * inf = NaN (the manual engine stays finite there).
    for what in ("dW", "dZ", "dtheta", "db", "dX"):
        if not all(bool(torch.all(torch.isfinite(torch.as_tensor(a)))) for a in res.get(what, [])):
            raise SpecError(
                f"torch's {what} is not finite at these parameters (r^2 or an activation overflows {np.dtype(dtype).name})",
                "rescale the inputs or coordinates, or use the manual engine",
            )
    dX = res["dX"][0] if res["dX"] else None
    loss = float(value.detach()) if as_numpy else value.detach()
    return Gradients(
        loss=loss,
        dW=res["dW"] if "dW" in want else None,  # type: ignore[arg-type]
        dZ=res["dZ"] if "dZ" in want and Zt else None,
        dtheta=res["dtheta"] if "dtheta" in want and tht else None,
        db=res["db"] if "db" in want and bt else None,
        dX=dX if "dX" in want else None,
        engine=f"torch-{dev.type}",
        delta=[None, *res["h"]] if "delta" in want else None,
        dA=[dX, *res["a"]] if "dA" in want else None,
    )


def _eq8_dZ(net: Net | MLP, Zt: list, dW: list, R2: list, as_numpy: bool) -> list:
    """dL/dZ from dL/dW by the efficient form of eq. (8) (MATH.md): with G_l = dL/dW_l * phi(R_l),
    phi(r) = g'(r)/r (phi(0) = g''(0) where nodes coincide), Z_l gets Z_l rowsum(G_l) - G_l Z_(l-1) and
    Z_(l-1) gets Z_(l-1) colsum(G_l) - G_l^T Z_l: two N x D products per layer, no N x N x D array."""
    c = compile_net(net, "torch")
    assert c.phi is not None  # compile_net gives every spatial net its kernel
    dZ = [torch.zeros_like(z) for z in Zt]
    for l in range(1, net.L):
        Zl, Zp, r2 = Zt[l], Zt[l - 1], R2[l - 1]
        zero = r2 == 0
        R = torch.sqrt(torch.where(zero, torch.ones_like(r2), r2))
        G = dW[l - 1] * torch.where(zero, torch.full_like(r2, c.phi0), c.phi(R))
        dZ[l] += Zl * G.sum(1)[:, None] - G @ Zp
        dZ[l - 1] += Zp * G.sum(0)[:, None] - G.T @ Zl
    return [z.cpu().numpy() for z in dZ] if as_numpy else dZ
