"""Optimisers for node coordinates (and biases): gradient descent, Adam, trust-region Newton-CG.

Everything works on flat parameter vectors in numeric.flat's layout (coordinates layer by layer, node
by node, dimension last, then biases). A `Problem` wraps two callables, ``value_and_grad(x) -> (L, dL/dx)``
and ``hvp(x, v) -> H v``, and counts how often each is called, so methods are compared by cost, not by
iterations.

Device: the iterate, gradient, H v and optimiser state are NumPy arrays on the host (`net_problem`,
the manual engine) or torch tensors on a device (`torch_problem`, the torch engine, e.g. CUDA); one
code path serves both (`device`'s helpers), only scalars come back for the records; `to_host` copies
an iterate back.

Modules:
    * `problem`: Problem, net_problem, torch_problem, Record, Result and the per-iteration bookkeeping every method shares.
    * `first_order`: `gd` (x <- x - eta dL/dx) and `adam` (Kingma & Ba, with bias correction).
    * `newton`: `newton_cg` (trust-region Newton with Steihaug-Toint truncated CG, `steihaug_cg`) and
      `top_eigenvalue` (lambda_max from H v only).
    * `device`: host/device array helpers (norm, copy, zeros, finiteness, `to_host`).
    * `rigid`: rigid-motion bookkeeping of a spatial net's flat parameters (centroid, residuals, overlap).
"""

from numeric.optim.device import to_host
from numeric.optim.first_order import adam, gd
from numeric.optim.newton import CGResult, newton_cg, steihaug_cg, top_eigenvalue
from numeric.optim.problem import Problem, Record, Result, net_problem, torch_problem
from numeric.optim.rigid import node_centroid, rigid_overlap, rigid_residuals

__all__ = [
    "Problem",
    "Record",
    "Result",
    "net_problem",
    "gd",
    "adam",
    "newton_cg",
    "steihaug_cg",
    "CGResult",
    "top_eigenvalue",
    "torch_problem",
    "to_host",
    "node_centroid",
    "rigid_residuals",
    "rigid_overlap",
]
