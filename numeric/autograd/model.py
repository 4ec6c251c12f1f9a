"""The model written once in torch: kernel weights and the loss as a torch function of (Z or W, b, X, Y).

Used by both torch engines (numeric.autograd for first order, numeric.autograd.second_order for H v and
Hessians), so neither imports the other's internals.

Coincident nodes: torch's norm has a NaN gradient at 0, so distances are taken through a
double `where`: for r^2 > 0 the kernel sees sqrt(r^2) (plain autograd), and at r^2 = 0 it sees the
Taylor form g(0) + g''(0) r^2 / 2, which has the right value, gradient (0) and Hessian (g''(0) I)
when g'(0) = 0. When g'(0) != 0 the loss is not differentiable there and the engine says so.

Formulations of the gradient (FORMULATIONS, numeric.autograd.gradients), measured by
scripts/bench_formulations.py: loss + dL/dZ, L=4, widths 1024, D=3, batch 256, float64,
as_numpy=False, best of 7 interleaved rounds, torch CPU with 2 threads on the shared 2-core VM (load
average 6-9 while measured, so single figures vary by 2x):
    dims 1.97-2.09 s, pairwise 1.63-2.03 s, cdist 1.02-1.67 s, eq8 1.33-1.71 s (three runs; eq8 there
    with R formed once), dims with every quantity as NumPy 2.1-3.1 s.
Elementwise N x N passes dominate on this CPU, and cdist (matrix-product distances) and eq8 (autograd
for dL/dW only, then two N x D products per layer) make the fewest. Choice: "dims" stays the default
(exact distances, second order, coincident nodes: every verification and H v path); first-order
callers that want speed ask for "eq8" (exact distances, coincident nodes handled by the limit phi(0));
"cdist" is first order only, NaN at r = 0 and loses digits for close nodes (distances by matrix
products). GPU numbers are still to be measured: `derivcheck bench --device cuda` times dims, cdist
and eq8 on the device and reports the fastest against the GPU floor (scripts/gpu_check.sh).
"""

from __future__ import annotations

from typing import cast

import numpy as np
import torch

from derive import MLP, Net, SpecError, compile_net
from derive.primitives.penalty import coincidence_error as penalty_coincidence
from derive.primitives.penalty_code import callables as penalty_callables
from numeric.validate import coincidence_error

__all__ = [
    "device_for",
    "kernel_weights",
    "loss_fn",
    "penalty_value",
    "weight_penalty_value",
    "to_torch",
    "FORMULATIONS",
    "TORCH_DTYPES",
]

FORMULATIONS = ("dims", "pairwise", "cdist", "eq8")
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
        r2 = _r2(Zl, Zp)
    elif formulation == "pairwise":  # materialises N x N x D (the naive form, for benchmarks)
        r2 = ((Zl[:, None, :] - Zp[None, :, :]) ** 2).sum(-1)
    elif formulation == "cdist":  # first order only (no forward-mode AD, NaN gradient at r = 0)
        return c.g(torch.cdist(Zl, Zp))
    elif formulation == "eq8":  # first order only: W is a leaf; `gradients` forms dL/dZ by eq. (8)
        with torch.no_grad():
            r2 = _r2(Zl.detach(), Zp.detach())
            W = _from_r2(net, c, r2, layer).requires_grad_(True)
            W.eq8_r2 = r2  # type: ignore[attr-defined]  # eq. (8)'s phi(R), same distances: kept with W
            return W
    else:
        raise SpecError(f"unknown formulation {formulation!r}", f"use one of {', '.join(FORMULATIONS)}")
    return _from_r2(net, c, r2, layer)


def _r2(Zl: torch.Tensor, Zp: torch.Tensor) -> torch.Tensor:
    """Squared distances (N_l x N_(l-1)) summed over the D coordinates (exact; no N x N x D array)."""
    # D >= 1 terms, so the sum is a tensor (never the start value 0)
    return cast(torch.Tensor, sum((Zl[:, d, None] - Zp[None, :, d]) ** 2 for d in range(Zl.shape[1])))


def _from_r2(net: Net, c, r2: torch.Tensor, layer: int) -> torch.Tensor:
    """g(sqrt(r2)), with the Taylor form at r = 0 (module docstring) or the coincidence error."""
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

    Coincident nodes: where the penalty has a gradient there (derive.primitives.penalty), rho is taken in the
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
        fns = penalty_callables(p, "torch")
        v = fns["rho"](r, Wl)
        if some:
            if not p.gradient_at_0:
                i, j = (int(t) for t in torch.nonzero(zero)[0])
                raise penalty_coincidence(p, f"node {i + 1} of layer {layer} and node {j + 1} of layer {layer - 1}")
            v = torch.where(zero, fns["rho0"](Wl) + 0.5 * fns["phi0"](Wl) * r2, v)
        term = coef * v.sum()
        total = term if total is None else total + term
    return total


def weight_penalty_value(net: MLP, Wl: torch.Tensor, layer: int):
    """sum_t c_t sum_ij rho_t(W_ij) of an MLP's penalty terms covering `layer` (rho in w alone), or None.
    torch's |w| has gradient sign(w), 0 at w = 0: the subgradient the exact engines use."""
    terms = net.layer_penalties(layer)
    if not terms:
        return None
    r = torch.zeros_like(Wl)  # a constant: rho does not depend on r (derive.net.MLP refuses it)
    total = None
    for p, coef in terms:
        term = coef * penalty_callables(p, "torch")["rho"](r, Wl).sum()
        total = term if total is None else total + term
    return total


def loss_fn(
    net: Net | MLP, Z=None, W=None, b=None, X=None, Y=None, formulation: str = "dims", trace: dict | None = None, theta=None
):
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
        if net.penalties:
            pv = penalty_value(net, Z[l], Z[l - 1], Wl, l + 1) if net.spatial else weight_penalty_value(net, Wl, l + 1)
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
    if c.loss_terms is not None:  # separable loss: t(a, y) on the whole B x K tensors
        # (the per-column route unbinds a into K columns, and each column's backward writes a full
        # B x K zero tensor: K^2 B work that dominated the gradient and H v at wide outputs)
        value = c.loss_terms(a, Y).sum() / c.divisor(B, K)
        return (value if penalty is None else value + penalty), weights
    rows = c.loss_rows(*a.T, *Y.T)
    if not torch.is_tensor(rows) or rows.dim() == 0:
        # A loss that does not depend on the outputs (softmax_ce with one output is identically 0)
        # comes back as a constant; keep it on the graph so every derivative is an exact 0.
        rows = rows + 0 * a.sum(dim=1)
    value = rows.sum() / c.divisor(B, K)
    if penalty is not None:
        value = value + penalty
    return value, weights
