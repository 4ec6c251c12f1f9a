"""Optimisers for node coordinates (and biases): gradient descent, Adam, trust-region Newton-CG.

Everything works on flat parameter vectors in numeric.flat's layout (coordinates layer by layer, node
by node, dimension last, then biases). A `Problem` wraps two callables, ``value_and_grad(x) -> (L, dL/dx)``
and ``hvp(x, v) -> H v``, and counts how often each is called, so methods are compared by cost, not by
iterations.

Modules:
    * `problem`: Problem, net_problem, Record, Result and the per-iteration bookkeeping every method shares.
    * `first_order`: `gd` (x <- x - eta dL/dx) and `adam` (Kingma & Ba, with bias correction).
    * `newton`: `newton_cg` (trust-region Newton with Steihaug-Toint truncated CG, `steihaug_cg`) and
      `top_eigenvalue` (lambda_max from H v only).
    * `rigid`: rigid-motion bookkeeping of a spatial net's flat parameters (centroid, residuals, overlap).
"""

from .first_order import adam, gd
from .newton import CGResult, newton_cg, steihaug_cg, top_eigenvalue
from .problem import Problem, Record, Result, net_problem
from .rigid import node_centroid, rigid_overlap, rigid_residuals

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
    "node_centroid",
    "rigid_residuals",
    "rigid_overlap",
]
