"""(d^2 L / d a_L^2) U: the loss Hessian times a direction, the seed R{gA_L} of the R-operator's
backward pass (numeric.manual.r_operator). Separable losses use t''(a, y) elementwise; others
(softmax_ce) the per-row K x K Hessian, skipping its exact zeros (found once per compiled loss)."""

from __future__ import annotations

from typing import Any

import numpy as np

from derive import MLP, Net, SpecError, compile_net

__all__ = ["loss_hessian_times"]

_PATTERNS: dict[int, tuple[Any, list[tuple[int, int]]]] = {}


def loss_hessian_times(net: Net | MLP, aL: np.ndarray, Y: np.ndarray, U: np.ndarray) -> np.ndarray:
    """(d^2 L / d a_L^2) U for predictions aL, targets Y and a direction U (all B x K).

    Separable losses (row = sum_k t(a_k, y_k)) use derive's `loss_terms_hess` (t'' on B x K arrays).
    Otherwise (softmax_ce) the per-row loss Hessian (K x K) comes from `loss_hess_rows`; entries that
    are the exact constant 0 are found once per compiled loss and skipped.
    """
    c = compile_net(net, "numpy")
    B, K = aL.shape
    terms_hess = getattr(c, "loss_terms_hess", None)
    if terms_hess is not None:  # separable loss: the Hessian is diagonal, t''(a, y) elementwise
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            out = np.asarray(terms_hess(aL, Y), dtype=U.dtype) * U
        if not np.all(np.isfinite(out)):
            raise SpecError(
                f"the Hessian of loss {net.loss!r} is not finite at these predictions",
                "check the targets' range against the output activation",
            )
        return out / c.divisor(B, K)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        H = c.loss_hess_rows(*aL.T, *Y.T)
    key = id(c.loss_hess_rows)
    cached = _PATTERNS.get(key)
    if cached is None or cached[0] is not c.loss_hess_rows:
        pattern = [
            (i, j) for i in range(K) for j in range(K) if not (np.isscalar(H[i][j]) and H[i][j] == 0 and isinstance(H[i][j], int))
        ]
        cached = (c.loss_hess_rows, pattern)
        _PATTERNS[key] = cached
    nz: list[tuple[int, int]] = cached[1]
    out = np.zeros_like(U)
    if not nz:
        pass
    elif all(i == j for i, j in nz):
        idx = [i for i, _ in nz]
        diag = np.stack([np.broadcast_to(np.asarray(H[i][i], dtype=U.dtype), (B,)) for i in idx], axis=1)
        out[:, idx] = diag * U[:, idx]
    else:
        for i, j in nz:
            out[:, i] += np.asarray(H[i][j], dtype=U.dtype) * U[:, j]
    div = c.divisor(B, K)
    if not np.all(np.isfinite(out)):
        raise SpecError(
            f"the Hessian of loss {net.loss!r} is not finite at these predictions",
            "check the targets' range against the output activation",
        )
    return out / div
