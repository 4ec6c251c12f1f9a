"""Manual Hessian-vector products: `hvp` runs Pearlmutter's R-operator (numeric.manual.r_operator, whose
docstring states the forward and backward R{} equations of MATH.md "Second order") over the fast or
the careful forward cache; `hessian` stacks H e_k. The loss's own Hessian times a vector is
`loss_hessian_times` (numeric.manual.loss_hessian).

Layout of V (numeric/flat.py, MATH.md "Second order"): a list of arrays, the parameter blocks in
order — spatial Net: Z_1..Z_L (N_l x D) then, if the net has biases, b_2..b_L; MLP: W_2..W_L then
b_2..b_L. Passing only the first block group (coordinates, or weights) means a zero bias direction,
and only that group is returned (this is `derive.symbolic.hvp`'s convention). A flat 1-D vector of the
full length n is also accepted and a flat vector is returned (`derive.layout.split`).
"""

from __future__ import annotations

import numpy as np

from derive import MLP, Net, Params, SpecError
from derive.layout import n_main
from derive.layout import shapes as flat_shapes
from numeric.manual import reference
from numeric.manual.common import Singular, check_device, engine_dtype
from numeric.manual.fast import forward
from numeric.manual.r_operator import r_operator

__all__ = ["hvp", "hessian"]


def hvp(net: Net | MLP, params: Params, X, Y, V, *, dtype=np.float64, device="cpu"):
    """H v by the R-operator (forward-over-reverse by hand), without forming H.

    Args:
        net: spatial Net or ordinary MLP. params: Z (Net) or W (MLP), and b.
        X: B x N_1. Y: B x N_L.
        V: the direction, in the layout of the module docstring: list of Z-shaped (or W-shaped)
            arrays, optionally followed by bias vectors; or a flat vector of length n.
        dtype: np.float64 (default) or np.float32.
        device: "cpu" (or None); anything else is a `SpecError` (NumPy runs on the host).

    Returns:
        H v, shaped like V (list of arrays, or a flat vector).

    Raises:
        SpecError: bad shapes, NaN/Inf, coincident nodes where the Hessian is undefined.
    """
    check_device(device)
    dtype = engine_dtype(dtype)
    if net.spatial and (net.free or net.penalties):  # the wider model family: the careful route only
        return r_operator(net, reference.forward(net, params, X, Y, dtype=dtype), V)
    try:
        # fast route: fused kernel layers (derive.lambdify); anything singular goes the careful way
        return r_operator(net, forward(net, params, X, Y, dtype=dtype, lean=True), V)
    except Singular:
        return r_operator(net, forward(net, params, X, Y, dtype=dtype), V)


def hessian(net: Net | MLP, params: Params, X, Y, *, wrt: str | None = None, dtype=np.float64, device="cpu") -> np.ndarray:
    """The full Hessian by stacking H e_k (small nets only: n R-operator passes).

    Args:
        wrt: None (default) = all parameters in numeric.flat's layout (coordinates or weights, then
            biases); "Z" (spatial) or "W" (MLP) = that block group only, no biases.
        dtype, device: as `hvp`.

    Returns:
        n x n float64 array (H[:, k] = H e_k, computed in `dtype`; symmetric up to rounding).
    """
    check_device(device)
    dtype = engine_dtype(dtype)
    blocks = flat_shapes(net)
    main = n_main(net)
    if wrt is None:
        use = blocks
    elif wrt == ("Z" if net.spatial else "W"):
        use = blocks[:main]
    else:
        raise SpecError(
            f"wrt={wrt!r} does not fit {'a spatial Net' if net.spatial else 'an MLP'}",
            f"use wrt=None or wrt={'Z' if net.spatial else 'W'!r}",
        )
    sizes = [int(np.prod(s)) for _, _, s in use]
    n = sum(sizes)
    H = np.zeros((n, n))
    for k in range(n):
        e = np.zeros(n, dtype=dtype)
        e[k] = 1
        parts, pos = [], 0
        for (_, _, s), size in zip(use, sizes, strict=True):
            parts.append(e[pos : pos + size].reshape(s))
            pos += size
        col = hvp(net, params, X, Y, parts, dtype=dtype, device=device)
        H[:, k] = np.concatenate([np.asarray(cpart).reshape(-1) for cpart in col])
    return H
