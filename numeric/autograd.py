"""torch autograd engine: the model written once in torch, derivatives by autograd (CPU or CUDA).

Coincident nodes: torch's norm has a NaN gradient at 0, so distances are taken through a
double `where`: for r^2 > 0 the kernel sees sqrt(r^2) (plain autograd), and at r^2 = 0 it sees the
Taylor form g(0) + g''(0) r^2 / 2, which has the right value, gradient (0) and Hessian (g''(0) I)
when g'(0) = 0. When g'(0) != 0 the loss is not differentiable there and the engine says so.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import torch

from derive import MLP, Gradients, Net, Params, SpecError, compile_net

from .validate import check_inputs, coincidence_error

__all__ = ["device_for", "gradients", "loss_fn", "to_torch", "FORMULATIONS"]

FORMULATIONS = ("dims", "pairwise", "cdist")
_DTYPES = {np.float64: torch.float64, np.float32: torch.float32}


def device_for(device: str | torch.device | None = None) -> torch.device:
    """Resolve "cpu", "cuda" or None (CUDA when available, else CPU)."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SpecError("device 'cuda' requested but torch.cuda is not available here", "use device='cpu'")
    return dev


def to_torch(arrays, dtype, device, requires_grad=False):
    if arrays is None:
        return None
    return [torch.tensor(np.asarray(a), dtype=dtype, device=device, requires_grad=requires_grad) for a in arrays]


def kernel_weights(net: Net, Zl: torch.Tensor, Zp: torch.Tensor, layer: int, formulation: str = "dims"):
    """W_ij = g(||Zl_i - Zp_j||) (N_l x N_(l-1)), differentiable to second order at r = 0."""
    c = compile_net(net, "torch")
    assert c.g is not None  # compile_net gives every spatial net its kernel
    if formulation == "dims":
        # D >= 1 terms, so the sum is a tensor (never the start value 0)
        r2 = cast(torch.Tensor, sum((Zl[:, d, None] - Zp[None, :, d]) ** 2 for d in range(Zl.shape[1])))
    elif formulation == "pairwise":  # materialises N x N x D (the naive form, for benchmarks)
        r2 = ((Zl[:, None, :] - Zp[None, :, :]) ** 2).sum(-1)
    elif formulation == "cdist":  # first order only (no forward-mode AD, NaN gradient at r = 0)
        return c.g(torch.cdist(Zl, Zp))
    else:
        raise SpecError(f"unknown formulation {formulation!r}", f"use one of {', '.join(FORMULATIONS)}")
    zero = r2 == 0
    if bool(zero.any()):
        if not np.isfinite(c.phi0):
            i, j = (int(v) for v in torch.nonzero(zero)[0])
            raise coincidence_error(net, layer, i, j)
        r = torch.sqrt(torch.where(zero, torch.ones_like(r2), r2))
        return torch.where(zero, c.g0 + 0.5 * c.d2g0 * r2, c.g(r))
    return c.g(torch.sqrt(r2))


def loss_fn(net: Net | MLP, Z=None, W=None, b=None, X=None, Y=None, formulation: str = "dims",
            trace: dict | None = None):
    """The loss as a torch function of (Z or W, b, X, Y); returns (loss, list of weight tensors).

    With `trace` (a dict), ``trace["h"]`` and ``trace["a"]`` receive h_l and a_l (B x N_l) for layers
    2..L, in order: the tensors whose adjoints are delta_l and dL/da_l.
    """
    c = compile_net(net, "torch")
    a = X
    weights = []
    for l in range(1, net.L):
        Wl = kernel_weights(net, Z[l], Z[l - 1], l + 1, formulation) if net.spatial else W[l - 1]
        weights.append(Wl)
        h = a @ Wl.T
        if b is not None:
            h = h + b[l - 1]
        a = c.f[l - 1](h)
        if trace is not None:
            trace.setdefault("h", []).append(h)
            trace.setdefault("a", []).append(a)
    B, K = a.shape
    rows = c.loss_rows(*a.T, *Y.T)
    if not torch.is_tensor(rows) or rows.dim() == 0:
        # A loss that does not depend on the outputs (softmax_ce with one output is identically 0)
        # comes back as a constant; keep it on the graph so every derivative is an exact 0.
        rows = rows + 0 * a.sum(dim=1)
    value = rows.sum() / c.divisor(B, K)
    return value, weights


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
    dev, tdt = device_for(device), _DTYPES[dtype]
    Zt, Wt, bt = to_torch(Z, tdt, dev, True), to_torch(W, tdt, dev, True), to_torch(b, tdt, dev, True)
    Xt = torch.tensor(Xa, dtype=tdt, device=dev, requires_grad=True)
    Yt = torch.tensor(Ya, dtype=tdt, device=dev)
    trace: dict[str, list] = {"h": [], "a": []}
    value, weights = loss_fn(net, Zt, Wt, bt, Xt, Yt, formulation, trace)
    if not torch.isfinite(value):
        raise SpecError(f"loss {net.loss!r} is not finite at these predictions (e.g. log(0) or overflow)",
                        "check the targets' range against the output activation (bce needs outputs in (0, 1))")
    leaves = (Zt or []) + (bt or [])
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
    dZ = top[n:n + len(Zt)] if Zt else None
    db = top[n + (len(Zt) if Zt else 0):-1] if bt else None
    dX = top[-1]
    k = len(trace["h"])
    # No silent non-finite values: r^2 = |z_i - z_j|^2 overflows for coordinates near 1e154 and the
    # backward pass then forms 0 * inf = NaN (the manual engine stays finite there).
    for what, arrs in (("dW", dW), ("dZ", dZ or []), ("db", db or []), ("dX", [dX])):
        if not all(np.all(np.isfinite(a)) for a in arrs):
            raise SpecError(f"torch's {what} is not finite at these parameters (r^2 or an activation overflows "
                            f"{np.dtype(dtype).name})", "rescale the inputs or coordinates, or use the manual engine")
    return Gradients(loss=float(value.detach()), dW=dW, dZ=dZ, db=db, dX=dX, engine=f"torch-{dev.type}",
                     delta=[None, *hid[:k]], dA=[dX, *hid[k:]])

from .second_order import hessian, hvp  # noqa: E402,F401  (second order lives in numeric/second_order.py)
