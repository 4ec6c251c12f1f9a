"""torch autograd engine: the model written once in torch, derivatives by autograd (CPU or CUDA).

Coincident nodes: torch's norm has a NaN gradient at 0, so distances are taken through a
double `where`: for r^2 > 0 the kernel sees sqrt(r^2) (plain autograd), and at r^2 = 0 it sees the
Taylor form g(0) + g''(0) r^2 / 2, which has the right value, gradient (0) and Hessian (g''(0) I)
when g'(0) = 0. When g'(0) != 0 the loss is not differentiable there and the engine says so.

Results stay where they are computed (issue 17): ``gradients(..., as_numpy=False)`` returns detached
tensors on the device and ``quantities=("loss", "dZ")`` differentiates only what is asked (no N x N
dL/dW copied to the host, which was 0.92 s of a 1.10 s CUDA call at L=4, widths 8192, batch 1024).
The default (NumPy, every quantity, formulation "dims") is what verification compares.

Formulations of the gradient (FORMULATIONS), measured by scripts/bench_formulations.py: loss + dL/dZ,
L=4, widths 1024, D=3, batch 256, float64, as_numpy=False, best of 7 interleaved rounds, torch CPU with
2 threads on the shared 2-core VM (load average 6-9 while measured, so single figures vary by 2x):
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

from derive import MLP, Gradients, Net, Params, SpecError, compile_net

from .validate import check_inputs, coincidence_error

__all__ = ["device_for", "gradients", "loss_fn", "to_torch", "FORMULATIONS", "QUANTITIES"]

FORMULATIONS = ("dims", "pairwise", "cdist", "eq8")
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


QUANTITIES = ("loss", "dW", "dZ", "db", "dX", "delta", "dA")


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


def gradients(net: Net | MLP, params: Params, X, Y, *, dtype=np.float64, device: str | None = "cpu",
              formulation: str = "dims", as_numpy: bool = True, quantities=None) -> Gradients:
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
    dev, tdt = device_for(device), _DTYPES[dtype]
    inner_q = bool(want & {"delta", "dA"})
    eq8 = formulation == "eq8" and net.spatial
    # A spatial net's W is a function of Z: its adjoint exists only on a graph that starts at Z
    # (eq8: W is a leaf and dL/dZ comes from dL/dW, so Z itself is never differentiated).
    Zt = to_torch(Z, tdt, dev, bool(want & {"dZ", "dW"}) and not eq8)
    Wt = to_torch(W, tdt, dev, "dW" in want)
    bt = to_torch(b, tdt, dev, "db" in want)
    Xt = torch.tensor(Xa, dtype=tdt, device=dev, requires_grad=bool(want & {"dX", "dA"}) or inner_q)
    Yt = torch.tensor(Ya, dtype=tdt, device=dev)
    trace: dict[str, list] = {"h": [], "a": []}
    value, weights = loss_fn(net, Zt, Wt, bt, Xt, Yt, formulation, trace)
    if not torch.isfinite(value):
        raise SpecError(f"loss {net.loss!r} is not finite at these predictions (e.g. log(0) or overflow)",
                        "check the targets' range against the output activation (bce needs outputs in (0, 1))")
    groups = {"dW": weights if want & ({"dW", "dZ"} if eq8 else {"dW"}) else [],
              "dZ": (Zt or []) if "dZ" in want and not eq8 else [],
              "db": (bt or []) if "db" in want else [],
              "dX": [Xt] if want & {"dX", "dA"} else [],
              "h": trace["h"] if "delta" in want else [],
              "a": trace["a"] if "dA" in want else []}
    targets = [t for ts in groups.values() for t in ts]
    grads = list(torch.autograd.grad(value, targets, allow_unused=True)) if targets and value.requires_grad \
        else [None] * len(targets)

    def out(g, like):
        # a quantity the loss does not depend on (a loss constant in a_L) has a zero adjoint
        t = torch.zeros_like(like) if g is None else g.detach()
        return t.cpu().numpy() if as_numpy else t

    res: dict[str, list] = {}
    i = 0
    for name, ts in groups.items():
        skip = name == "dW" and "dW" not in want  # eq8's dL/dW, used for dZ below, never copied out
        res[name] = [] if skip else [out(g, t) for g, t in zip(grads[i:i + len(ts)], ts)]
        i += len(ts)
    if eq8 and "dZ" in want:
        dW = [torch.zeros_like(w) if g is None else g.detach() for g, w in zip(grads[:len(weights)], weights)]
        res["dZ"] = _eq8_dZ(net, Zt, dW, [w.eq8_r2 for w in weights], as_numpy)
    dX = res["dX"][0] if res["dX"] else None
    loss = float(value.detach()) if as_numpy else value.detach()
    return Gradients(loss=loss, dW=res["dW"] if "dW" in want else None,  # type: ignore[arg-type]
                     dZ=res["dZ"] if "dZ" in want and Zt else None,
                     db=res["db"] if "db" in want and bt else None,
                     dX=dX if "dX" in want else None, engine=f"torch-{dev.type}",
                     delta=[None, *res["h"]] if "delta" in want else None,
                     dA=[dX, *res["a"]] if "dA" in want else None)


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


from .second_order import hessian, hvp  # noqa: E402,F401  (second order lives in numeric/second_order.py)
