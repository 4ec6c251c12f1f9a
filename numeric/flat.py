"""Flat parameter vectors in the layout of MATH.md "Second order": coordinates layer by layer,
node by node, dimension last (n = D * sum N_l), then biases layer by layer (spatial nets); for
ordinary MLPs, weights row-major layer by layer, then biases. The block shapes are
`derive.layout.shapes`; a gradient in this layout is `Gradients.flat()`."""

from __future__ import annotations

import numpy as np

from derive import MLP, Net, Params
from derive.layout import shapes

__all__ = ["flatten", "unflatten"]


def flatten(net: Net | MLP, params: Params) -> np.ndarray:
    parts = []
    for kind, l, _ in shapes(net):
        parts.append(np.asarray(getattr(params, kind)[l], dtype=np.float64).reshape(-1))
    return np.concatenate(parts)


def unflatten(net: Net | MLP, vec: np.ndarray) -> Params:
    out: dict[str, list] = {"Z": [], "W": [], "b": [], "theta": []}
    k = 0
    for kind, _, shape in shapes(net):
        size = int(np.prod(shape))
        out[kind].append(np.asarray(vec[k : k + size]).reshape(shape))
        k += size
    return Params(Z=out["Z"] or None, W=out["W"] or None, b=out["b"] or None, theta=out["theta"] or None)
