"""The model written once in torch: kernel weights and the loss as a torch function of (Z or W, b, X, Y).

Used by both torch engines (numeric.autograd for first order, numeric.second_order for H v and
Hessians), so neither imports the other's internals.

Coincident nodes: torch's norm has a NaN gradient at 0, so distances are taken through a
double `where`: for r^2 > 0 the kernel sees sqrt(r^2) (plain autograd), and at r^2 = 0 it sees the
Taylor form g(0) + g''(0) r^2 / 2, which has the right value, gradient (0) and Hessian (g''(0) I)
when g'(0) = 0. When g'(0) != 0 the loss is not differentiable there and the engine says so.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import torch

from derive import MLP, Net, SpecError, compile_net
from derive.penalty import coincidence_error as penalty_coincidence

from .validate import coincidence_error

__all__ = ["device_for", "kernel_weights", "loss_fn", "penalty_value", "to_torch", "FORMULATIONS", "TORCH_DTYPES"]

FORMULATIONS = ("dims", "pairwise", "cdist")
TORCH_DTYPES = {np.float64: torch.float64, np.float32: torch.float32}


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
