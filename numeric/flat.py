"""Flat parameter vectors in the layout of MATH.md "Second order": coordinates layer by layer,
node by node, dimension last (n = D * sum N_l), then biases layer by layer (spatial nets); for
ordinary MLPs, weights row-major layer by layer, then biases."""

from __future__ import annotations

import numpy as np

from derive import MLP, Net, Params, SpecError

__all__ = ["flatten", "unflatten", "shapes", "split_direction"]


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


def split_direction(net: Net | MLP, V, dtype):
    """A direction V for an HVP, checked and split: (main blocks, bias blocks or None, repack).

    V is a list of blocks in `shapes` order (spatial Net: Z_1..Z_L, N_l x D, then b_2..b_L; MLP:
    W_2..W_L then b_2..b_L), where stopping after the first group means a zero bias direction; or a
    flat 1-D vector of the full length n. `repack(main, bias)` gives a result the same form as V
    (list in, list out with only the groups given; flat in, flat out).
    """
    blocks = shapes(net)
    n_main = net.L if net.spatial else net.L - 1
    if isinstance(V, np.ndarray) and V.ndim == 1:
        n = sum(int(np.prod(s)) for _, _, s in blocks)
        if V.size != n:
            raise SpecError(f"flat V has {V.size} entries, expected n = {n}",
                              "shape V like numeric.flat.flatten")
        parts, k = [], 0
        for _, _, s in blocks:
            size = int(np.prod(s))
            parts.append(V[k:k + size].reshape(s))
            k += size
        V, flat = parts, True
    else:
        flat = False
    V = list(V)
    if len(V) not in (n_main, len(blocks)):
        what = "coordinate arrays Z_1..Z_L" if net.spatial else "weight arrays W_2..W_L"
        raise SpecError(f"V has {len(V)} arrays, expected {n_main} ({what})"
                        + (f" or {len(blocks)} (then biases)" if net.bias else ""),
                        "shape V like the parameters (numeric.flat.shapes)")
    out = []
    for (kind, l, s), v in zip(blocks, V, strict=False):  # V may stop before the biases
        a = np.asarray(v, dtype=dtype)
        if a.shape != s and not (kind == "b" and a.size == s[0]):
            layer = l + 1 + (kind != "Z")
            raise SpecError(f"V block {kind} of layer {layer} has shape {a.shape}, expected {s}",
                            "shape V like the parameters")
        if not np.all(np.isfinite(a)):
            raise SpecError("V contains NaN or Inf", "pass a finite direction")
        out.append(a.reshape(s))
    main, bias = out[:n_main], (out[n_main:] or None)

    def repack(hmain, hbias):
        res = hmain + (hbias if bias is not None else [])
        return np.concatenate([r.reshape(-1) for r in res]) if flat else res

    return main, bias, repack
