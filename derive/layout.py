"""The flat parameter layout of MATH.md "Second order", shared by every engine.

Blocks, in order: spatial Net: Z_1..Z_L (N_l x D), then theta_2..theta_L (N_l x N_(l-1), row-major) if
the net has free amplitudes, then b_2..b_L (N_l) if the net has biases;
MLP: W_2..W_L (N_l x N_(l-1), row-major), then b_2..b_L. The first group (coordinates or weights)
is the "main" group: it is what ``wrt="Z"`` / ``wrt="W"`` names in every engine's `hessian`. With free
amplitudes the main group is the coordinates and the amplitudes together (every block but the biases).

A direction V for an HVP is a list of blocks in this order (the main group alone means a zero bias
direction, and only the main group comes back) or one flat 1-D vector of the full length (a flat
vector comes back). `split` reads V and returns the function that gives H v the same form.

Here, not in numeric/, because derive.symbolic needs it too and derive never imports numeric.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from derive.errors import SpecError
from derive.net import MLP, Net

__all__ = ["shapes", "n_main", "main_group", "split", "check_wrt"]


def shapes(net: Net | MLP) -> list[tuple[str, int, tuple[int, ...]]]:
    """(kind, list index, shape) for every block of the flat vector, in order; kind is "Z", "theta",
    "W" or "b" (the name of the `Params` field)."""
    N = net.widths
    out: list[tuple[str, int, tuple[int, ...]]] = (
        [("Z", l, (N[l], net.dim)) for l in range(net.L)] if net.spatial else [("W", l, (N[l + 1], N[l])) for l in range(net.L - 1)]
    )
    if net.spatial and net.free:
        out += [("theta", l, (N[l + 1], N[l])) for l in range(net.L - 1)]
    if net.bias:
        out += [("b", l, (N[l + 1],)) for l in range(net.L - 1)]
    return out


def n_main(net: Net | MLP) -> int:
    """Number of blocks in the main group: L coordinate blocks (spatial; plus L - 1 amplitude blocks
    with free amplitudes) or L - 1 weight blocks."""
    if net.spatial:
        return net.L + (net.L - 1 if net.free else 0)
    return net.L - 1


def main_group(net: Net | MLP) -> str:
    """The name of the main group in `hessian(wrt=...)`: "Z" (spatial Net) or "W" (MLP)."""
    return "Z" if net.spatial else "W"


def check_wrt(net: Net | MLP, wrt: str | None) -> None:
    """`wrt` of a Hessian: None (all blocks, biases included) or the main group's name (no biases)."""
    if wrt not in (None, main_group(net)):
        raise SpecError(
            f"wrt={wrt!r} does not fit {'a spatial Net' if net.spatial else 'an MLP'}",
            f"use wrt=None (all parameters) or wrt={main_group(net)!r} (that group, no biases)",
        )


Repack = Callable[[list[np.ndarray], list[np.ndarray] | None], "list[np.ndarray] | np.ndarray"]


def split(net: Net | MLP, V, dtype=np.float64) -> tuple[list[np.ndarray], list[np.ndarray] | None, Repack]:
    """(main blocks, bias blocks or None, repack) for a direction V (module docstring).

    ``repack(hmain, hbias)`` puts H v back into V's form: a list of the same blocks, or a flat vector.
    """
    blocks = shapes(net)
    nm = n_main(net)
    if isinstance(V, np.ndarray) and V.ndim == 1:
        n = sum(int(np.prod(s)) for _, _, s in blocks)
        if V.size != n:
            raise SpecError(f"flat V has {V.size} entries, expected n = {n}", "shape V like numeric.flat.flatten")
        parts, k = [], 0
        for _, _, s in blocks:
            size = int(np.prod(s))
            parts.append(V[k : k + size].reshape(s))
            k += size
        V, flat = parts, True
    else:
        flat = False
    V = list(V)
    if len(V) not in (nm, len(blocks)):
        what = "coordinate arrays Z_1..Z_L" if net.spatial else "weight arrays W_2..W_L"
        raise SpecError(
            f"V has {len(V)} arrays, expected {nm} ({what})" + (f" or {len(blocks)} (then biases)" if net.bias else ""),
            "shape V like the parameters (derive.layout.shapes)",
        )
    out = []
    for (kind, l, s), v in zip(blocks, V, strict=False):  # V may stop before the biases
        try:
            a = np.asarray(v, dtype=dtype)
        except (TypeError, ValueError):
            raise SpecError("V contains a block that is not a numeric array", "pass float arrays") from None
        if a.shape != s and not (kind == "b" and a.size == s[0]):
            layer = l + 1 + (kind != "Z")
            raise SpecError(f"V block {kind} of layer {layer} has shape {a.shape}, expected {s}", "shape V like the parameters")
        if not np.all(np.isfinite(a)):
            raise SpecError("V contains NaN or Inf", "pass a finite direction")
        out.append(a.reshape(s))
    main, bias = out[:nm], (out[nm:] or None)

    def repack(hmain, hbias):
        res = list(hmain) + (list(hbias) if bias is not None and hbias is not None else [])
        return np.concatenate([np.asarray(r).reshape(-1) for r in res]) if flat else res

    return main, bias, repack
