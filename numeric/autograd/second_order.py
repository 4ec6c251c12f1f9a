"""torch second order: H v by double backward or by torch.func (jvp of grad), full Hessians by
torch.func.hessian; CPU or CUDA. The model is `numeric.autograd.model.loss_fn` (differentiable to second
order at coincident nodes), written as a function of one flat parameter vector in numeric.flat's layout
(coordinates or weights, then biases).

V follows derive.layout (as every engine's hvp): a list of blocks (coordinates/weights, optionally then
biases; only the first group means a zero bias direction and only that group is returned) or a flat vector
of length n (a flat vector is returned).
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np
import torch

from derive import MLP, Net, Params, SpecError
from derive.layout import check_wrt, n_main, split
from derive.layout import shapes as flat_shapes
from numeric.autograd.model import TORCH_DTYPES, device_for, loss_fn
from numeric.flat import flatten
from numeric.validate import check_inputs, check_theta

__all__ = ["hvp", "hessian", "flat_loss", "function_hvp", "METHODS"]

METHODS = ("double_backward", "func")


def flat_loss(net: Net | MLP, params: Params, X, Y, *, dtype=np.float64, device: str | None = "cpu"):
    """(f, x0): f maps a flat torch parameter vector (numeric.flat layout) to the loss; x0 = params."""
    dtype = np.dtype(dtype).type
    _, _, _, Xa, Ya = check_inputs(net, params, X, Y, dtype)
    check_theta(net, params, dtype)
    dev, tdt = device_for(device), TORCH_DTYPES[dtype]
    Xt = torch.tensor(Xa, dtype=tdt, device=dev)
    Yt = torch.tensor(Ya, dtype=tdt, device=dev)
    blocks = flat_shapes(net)
    x0 = torch.tensor(flatten(net, params), dtype=tdt, device=dev)

    def f(x):
        parts: dict[str, list] = {"Z": [], "W": [], "b": [], "theta": []}
        k = 0
        for kind, _, shape in blocks:
            size = int(np.prod(shape))
            parts[kind].append(x[k : k + size].reshape(shape))
            k += size
        value = loss_fn(net, parts["Z"] or None, parts["W"] or None, parts["b"] or None, Xt, Yt, theta=parts["theta"] or None)[0]
        # A loss constant in a_L (softmax_ce with K = 1) comes back as a Python float: keep it in the graph.
        return value if torch.is_tensor(value) else x.sum() * 0 + value

    return f, x0


def _flat_v(net, V, dtype):
    main, bias, repack = split(net, V, dtype)
    full = main + (bias if bias is not None else [np.zeros(s, dtype=dtype) for kind, _, s in flat_shapes(net) if kind == "b"])
    sizes = [m.size for m in main]
    return np.concatenate([a.reshape(-1) for a in full]), main, bias, repack, sizes


def hvp(
    net: Net | MLP,
    params: Params,
    X,
    Y,
    V,
    *,
    dtype=np.float64,
    device: str | None = "cpu",
    method: str = "double_backward",
    as_numpy: bool = True,
):
    """H v by torch: ``double_backward`` (grad of <grad L, v>, the guide's section 3.7) or ``func``
    (torch.func.jvp of torch.func.grad: forward-over-reverse, as the manual R-operator).

    Args:
        V: direction (derive.layout: list of blocks or flat vector). device: "cpu", "cuda" or None
            (best available). dtype: np.float64 or np.float32.
        as_numpy: True (default): float NumPy on the host. False: detached torch tensors on `device`
            (no copy back; the finiteness check then runs on the device).

    Returns:
        H v shaped like V (a list of blocks or one flat vector).
    """
    if method not in METHODS:
        raise SpecError(f"unknown HVP method {method!r}", f"use one of {', '.join(METHODS)}")
    dtype = np.dtype(dtype).type
    f, x0 = flat_loss(net, params, X, Y, dtype=dtype, device=device)
    v, main, bias, repack, sizes = _flat_v(net, V, dtype)
    vt = torch.tensor(v, dtype=x0.dtype, device=x0.device)
    hv = function_hvp(f, x0, vt, method).detach()
    if as_numpy:
        return _unpack(hv.cpu().numpy(), main, bias, repack, sizes)
    return _unpack_torch(hv, main, bias, sizes, flat=isinstance(V, np.ndarray) and V.ndim == 1)


@contextmanager
def _quiet_forward_ad():
    # torch's forward AD loads its jvp decompositions through torch.jit.script on first use, which
    # warns about its own deprecation (torch internals, nothing we call); pytest runs warnings as errors.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=DeprecationWarning)
        yield


def function_hvp(f, x0: torch.Tensor, v: torch.Tensor, method: str = "double_backward") -> torch.Tensor:
    """H v of any scalar torch function f at x0 (flat vectors): the engine behind `hvp`.

    ``double_backward``: H v = grad_x <grad f(x), v> (the guide's sections 2.11 and 3.7: forward, first
    backward, scalar projection, second backward). ``func``: torch.func.jvp of torch.func.grad.
    """
    if method not in METHODS:
        raise SpecError(f"unknown HVP method {method!r}", f"use one of {', '.join(METHODS)}")
    if method == "func":
        with _quiet_forward_ad():
            return torch.func.jvp(torch.func.grad(f), (x0,), (v,))[1]
    x = x0.detach().clone().requires_grad_(True)
    value = f(x)
    if not value.requires_grad:  # a loss constant in x (a piecewise-constant kernel): H = 0
        return torch.zeros_like(x0)
    (g,) = torch.autograd.grad(value, x, create_graph=True, allow_unused=True)
    if g is None:
        return torch.zeros_like(x0)
    s = g @ v
    # A gradient constant in x (a loss at most linear in the parameters) has no graph: H = 0.
    hv = torch.autograd.grad(s, x, allow_unused=True)[0] if s.requires_grad else None
    return (torch.zeros_like(x0) if hv is None else hv).detach()


def _unpack(flat, main, bias, repack, sizes):
    out, k = [], 0
    for m, size in zip(main, sizes, strict=True):
        out.append(flat[k : k + size].reshape(m.shape))
        k += size
    outb = None
    if bias is not None:
        outb = []
        for b in bias:
            outb.append(flat[k : k + b.size].reshape(b.shape))
            k += b.size
    if not np.all(np.isfinite(flat)):
        raise SpecError("H v is not finite at these parameters", "rescale the inputs or coordinates")
    return repack(out, outb)


def _unpack_torch(hv: torch.Tensor, main, bias, sizes, *, flat: bool):
    """`_unpack` for torch tensors left on their device: blocks (or the flat vector) shaped like V."""
    if not bool(torch.isfinite(hv).all()):
        raise SpecError("H v is not finite at these parameters", "rescale the inputs or coordinates")
    if flat:  # a flat V holds every block (derive.layout), so H v is the whole vector
        return hv
    ends = np.cumsum(sizes + ([b.size for b in bias] if bias is not None else [])).tolist()
    starts = [0, *ends[:-1]]
    shapes = [m.shape for m in main] + ([b.shape for b in bias] if bias is not None else [])
    return [hv[s0:s1].reshape(sh) for s0, s1, sh in zip(starts, ends, shapes, strict=True)]


def hessian(
    net: Net | MLP, params: Params, X, Y, *, wrt: str | None = None, dtype=np.float64, device: str | None = "cpu"
) -> np.ndarray:
    """The full Hessian by torch.func.hessian (jacfwd of jacrev); small nets only.

    Args:
        wrt: derive.layout's meaning, as in every engine: None = all parameters (coordinates or
            weights, then biases); "Z" (spatial) / "W" (MLP) = that block group only, no biases.

    Returns:
        n x n float NumPy array.
    """
    check_wrt(net, wrt)
    f, x0 = flat_loss(net, params, X, Y, dtype=dtype, device=device)
    main = n_main(net)
    blocks = flat_shapes(net)
    m = sum(int(np.prod(s)) for _, _, s in blocks[:main]) if wrt is not None else x0.numel()
    if m == x0.numel():
        H = _func_hessian(f, x0)
    else:
        rest = x0[m:]
        H = _func_hessian(lambda x: f(torch.cat([x, rest])), x0[:m])
    H = H.detach().cpu().numpy()
    if not np.all(np.isfinite(H)):
        raise SpecError("the Hessian is not finite at these parameters", "rescale the inputs or coordinates")
    return H


def _func_hessian(f, x0):
    with _quiet_forward_ad():
        return torch.func.hessian(f)(x0)
