"""Host or device: the array helpers the optimisers use.

The iterate, the gradient, H v and the optimiser state (Adam's moments, CG's vectors) are whatever
array type the `Problem` returns: NumPy on the host (`problem.net_problem`, the manual engine) or torch
tensors on their device (`problem.torch_problem`, the torch engine, e.g. on CUDA). The methods use only
arithmetic, inner products and the helpers below, so one code path serves both, and only scalars
(loss, norms, inner products) come back to the host for the records.
"""

from __future__ import annotations

import numpy as np

__all__ = ["is_torch", "norm", "copy", "zeros_like", "nan_like", "all_finite", "to_host"]


def is_torch(a) -> bool:
    return type(a).__module__.startswith("torch")


def norm(a) -> float:
    """||a|| as a host float (NumPy array or torch tensor)."""
    if is_torch(a):
        import torch

        return float(torch.linalg.vector_norm(a))
    return float(np.linalg.norm(a))


def copy(a):
    """A float copy of a (float64 NumPy on the host; a torch tensor stays a tensor on its device)."""
    return a.detach().clone() if is_torch(a) else np.array(a, dtype=np.float64)


def zeros_like(a):
    if is_torch(a):
        import torch

        return torch.zeros_like(a)
    return np.zeros(np.shape(a))


def nan_like(a):
    """An all-NaN array of a's shape, where a lives (the gradient of a refused evaluation)."""
    if is_torch(a):
        import torch

        return torch.full_like(a, float("nan"))
    return np.full(np.shape(a), np.nan)


def all_finite(a) -> bool:
    if is_torch(a):
        import torch

        return bool(torch.isfinite(a).all())
    return bool(np.all(np.isfinite(a)))


def to_host(a) -> np.ndarray:
    """float64 NumPy copy of an iterate (a torch tensor is copied back from its device)."""
    return a.detach().cpu().double().numpy() if is_torch(a) else np.asarray(a, dtype=np.float64)
