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
from derive.penalty import coincidence_error as penalty_coincidence

from .validate import check_inputs, check_theta, coincidence_error

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


def penalty_value(net: Net, Zl: torch.Tensor, Zp: torch.Tensor, Wl: torch.Tensor, layer: int):
    """sum_t c_t sum_edges rho_t(r, w) of the penalty terms covering `layer` (a tensor, or None).

    Coincident nodes: where the penalty has a gradient there (derive.penalty), rho is taken in the
    Taylor form rho(0, w) + phi(0, w) r^2 / 2 (right value, gradient and Hessian), as for kernels."""
    terms = net.layer_penalties(layer)
    if not terms:
        return None
    r2 = cast(torch.Tensor, sum((Zl[:, d, None] - Zp[None, :, d]) ** 2 for d in range(Zl.shape[1])))
    zero = r2 == 0
    some = bool(zero.any())
    r = torch.sqrt(torch.where(zero, torch.ones_like(r2), r2)) if some else torch.sqrt(r2)
    total = None
    for p, coef in terms:
        fns = p.callables("torch")
        v = fns["rho"](r, Wl)
        if some:
            if not p.gradient_at_0:
                i, j = (int(t) for t in torch.nonzero(zero)[0])
                raise penalty_coincidence(p, f"node {i} of layer {layer} and node {j} of layer {layer - 1}")
            v = torch.where(zero, fns["rho0"](Wl) + 0.5 * fns["phi0"](Wl) * r2, v)
        term = coef * v.sum()
        total = term if total is None else total + term
    return total


def loss_fn(net: Net | MLP, Z=None, W=None, b=None, X=None, Y=None, formulation: str = "dims",
            trace: dict | None = None, theta=None):
    """The objective J = L + penalties as a torch function of (Z or W, b, X, Y, theta); returns
    (J, list of weight tensors W_l = theta_l * g(R_l)).

    With `trace` (a dict), ``trace["h"]`` and ``trace["a"]`` receive h_l and a_l (B x N_l) for layers
    2..L, in order: the tensors whose adjoints are delta_l and dL/da_l.
    """
    c = compile_net(net, "torch")
    a = X
    weights = []
    penalty = None
    for l in range(1, net.L):
        Wl = kernel_weights(net, Z[l], Z[l - 1], l + 1, formulation) if net.spatial else W[l - 1]
        if net.spatial and theta is not None:
            Wl = theta[l - 1] * Wl
        if net.spatial and net.penalties:
            pv = penalty_value(net, Z[l], Z[l - 1], Wl, l + 1)
            if pv is not None:
                penalty = pv if penalty is None else penalty + pv
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
    if penalty is not None:
        value = value + penalty
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
    th = check_theta(net, params, dtype)
    dev, tdt = device_for(device), _DTYPES[dtype]
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
    grads = torch.autograd.grad(value, weights + leaves + [Xt] + inner, allow_unused=True)
    n, m = len(weights), len(inner)
    np_ = [None if g is None else g.detach().cpu().numpy() for g in grads]
    # an h or a the loss does not depend on (a loss constant in a_L) has a zero adjoint
    hid = [np.zeros(tuple(t.shape), dtype=dtype) if g is None else g for g, t in zip(np_[-m:], inner, strict=True)]
    top = np_[:-m]
    dW = top[:n]
    nz, nt = len(Zt or []), len(tht or [])
    dZ = top[n:n + nz] if Zt else None
    dtheta = top[n + nz:n + nz + nt] if tht else None
    db = top[n + nz + nt:-1] if bt else None
    dX = top[-1]
    k = len(trace["h"])
    return Gradients(loss=float(value.detach()), dW=dW, dZ=dZ, db=db, dX=dX, engine=f"torch-{dev.type}",
                     delta=[None, *hid[:k]], dA=[dX, *hid[k:]], dtheta=dtheta)

from .second_order import hessian, hvp  # noqa: E402,F401  (second order lives in numeric/second_order.py)
