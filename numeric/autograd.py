"""torch autograd engine: derivatives of numeric.torch_model.loss_fn by autograd (CPU or CUDA).

hvp and hessian (numeric.second_order) are re-exported here, so the engine is one module to its users.

Coincident nodes: see numeric.torch_model (the double `where` that keeps r = 0 differentiable).
"""

from __future__ import annotations

import numpy as np
import torch

from derive import MLP, Gradients, Net, Params, SpecError

from .second_order import hessian, hvp
from .torch_model import FORMULATIONS, TORCH_DTYPES, device_for, kernel_weights, loss_fn, penalty_value, to_torch
from .validate import check_inputs, check_theta

__all__ = ["device_for", "gradients", "hessian", "hvp", "kernel_weights", "loss_fn", "penalty_value", "to_torch",
           "FORMULATIONS"]


def gradients(net: Net | MLP, params: Params, X, Y, *, dtype=np.float64, device: str | None = "cpu",
              formulation: str = "dims") -> Gradients:
    """Loss and first derivatives by torch autograd (the engine contract: keyword-only dtype, device,
    formulation); arrays returned as float NumPy on the host.

    Args:
        dtype: np.float64 or np.float32. device: "cpu", "cuda" or None (CUDA when available).
        formulation: how r^2 is formed (FORMULATIONS).

    Returns:
        `Gradients` with loss, dW, dZ (spatial), db, dX, and delta_l = dL/dh_l, dA_l = dL/da_l
        (autograd's adjoints of the h_l and a_l tensors of the forward pass).
    """
    dtype = np.dtype(dtype).type
    Z, W, b, Xa, Ya = check_inputs(net, params, X, Y, dtype)
    th = check_theta(net, params, dtype)
    dev, tdt = device_for(device), TORCH_DTYPES[dtype]
    Zt, Wt, bt = to_torch(Z, tdt, dev, True), to_torch(W, tdt, dev, True), to_torch(b, tdt, dev, True)
    tht = to_torch(th, tdt, dev, True)
    Xt = torch.tensor(Xa, dtype=tdt, device=dev, requires_grad=True)
    Yt = torch.tensor(Ya, dtype=tdt, device=dev)
    trace: dict[str, list] = {"h": [], "a": []}
    value, weights = loss_fn(net, Zt, Wt, bt, Xt, Yt, formulation, trace, theta=tht)
    if not torch.isfinite(value):
        raise SpecError(f"loss {net.loss!r} is not finite at these predictions (e.g. log(0) or overflow)",
                        "check the targets' range against the output activation (bce needs outputs in (0, 1))")
    leaves = (Zt or []) + (tht or []) + (bt or [])
    inner = trace["h"] + trace["a"]
    targets = weights + leaves + [Xt] + inner
    # a piecewise-constant kernel (where(r < 1, 1, 0)) gives weights outside the graph: their
    # gradient is 0, and autograd refuses to differentiate tensors that do not require grad
    need = [t for t in targets if t.requires_grad] if value.requires_grad else []
    got = iter(torch.autograd.grad(value, need, allow_unused=True) if need else ())
    grads = [next(got) if value.requires_grad and t.requires_grad else None for t in targets]
    n, m = len(weights), len(inner)
    # a tensor the loss does not depend on (a loss constant in a_L, a constant kernel) has a zero adjoint
    np_ = [np.zeros(tuple(t.shape), dtype=dtype) if g is None else g.detach().cpu().numpy()
           for g, t in zip(grads, targets, strict=True)]
    hid = np_[-m:]
    top = np_[:-m]
    dW = top[:n]
    nz, nt = len(Zt or []), len(tht or [])
    dZ = top[n:n + nz] if Zt else None
    dtheta = top[n + nz:n + nz + nt] if tht else None
    db = top[n + nz + nt:-1] if bt else None
    dX = top[-1]
    k = len(trace["h"])
    # No silent non-finite values: r^2 = |z_i - z_j|^2 overflows for coordinates near 1e154 and the
    # backward pass then forms 0 * inf = NaN (the manual engine stays finite there).
    for what, arrs in (("dW", dW), ("dZ", dZ or []), ("db", db or []), ("dX", [dX])):
        if not all(np.all(np.isfinite(a)) for a in arrs):
            raise SpecError(f"torch's {what} is not finite at these parameters (r^2 or an activation overflows "
                            f"{np.dtype(dtype).name})", "rescale the inputs or coordinates, or use the manual engine")
    return Gradients(loss=float(value.detach()), dW=dW, dZ=dZ, db=db, dX=dX, engine=f"torch-{dev.type}",
                     delta=[None, *hid[:k]], dA=[dX, *hid[k:]], dtheta=dtheta)
