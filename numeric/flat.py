"""Flat parameter vectors in the layout of MATH.md "Second order": coordinates layer by layer,
node by node, dimension last (n = D * sum N_l), then biases layer by layer (spatial nets); for
ordinary MLPs, weights row-major layer by layer, then biases."""

from __future__ import annotations

import numpy as np

from derive import MLP, Net, Params

__all__ = ["flatten", "unflatten", "shapes"]


def shapes(net: Net | MLP) -> list[tuple[str, int, tuple[int, ...]]]:
    """(kind, list index, shape) for every block of the flat vector, in order."""
    N = net.widths
    out: list[tuple[str, int, tuple[int, ...]]] = [("Z", l, (N[l], net.dim)) for l in range(net.L)] if net.spatial else \
          [("W", l, (N[l + 1], N[l])) for l in range(net.L - 1)]
    if net.bias:
        out += [("b", l, (N[l + 1],)) for l in range(net.L - 1)]
    return out


def flatten(net: Net | MLP, params: Params) -> np.ndarray:
    parts = []
    for kind, l, _ in shapes(net):
        parts.append(np.asarray(getattr(params, kind)[l], dtype=np.float64).reshape(-1))
    return np.concatenate(parts)


def unflatten(net: Net | MLP, vec: np.ndarray) -> Params:
    out: dict[str, list] = {"Z": [], "W": [], "b": []}
    k = 0
    for kind, _, shape in shapes(net):
        size = int(np.prod(shape))
        out[kind].append(np.asarray(vec[k:k + size]).reshape(shape))
        k += size
    return Params(Z=out["Z"] or None, W=out["W"] or None, b=out["b"] or None)
