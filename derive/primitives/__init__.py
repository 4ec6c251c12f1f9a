"""Kernels, activations and losses, each defined once as a SymPy expression.

Every numeric form (NumPy, torch, mpmath) is produced from these definitions by `derive.lambdify`;
nothing else in the project restates a primitive's formula.

Conventions:
    * Kernels are functions of the distance ``r >= 0`` with named positive parameters.
    * Activations are functions of ``x``. ReLU is ``Piecewise((x, x > 0), (0, True))``: its
      derivative at 0 is 0, torch's convention (``torch.relu`` backward uses ``x > 0``);
      leaky ReLU's derivative at 0 is ``alpha``, again as in torch; a net may state another
      subgradient at the kink (``relu_grad_at_zero``: derive.primitives.activations).
    * Losses are written for one row (``a_1..a_K`` predictions, ``y_1..y_K`` targets) and reduced over
      the batch (and outputs) as stated by `Loss.reduction`; a net may state another reduction
      (``loss_reduction``: derive.primitives.losses).

The definitions live in derive.primitives.kernels (g(r) and its limits at r = 0), derive.primitives.activations and
derive.primitives.losses; this module is their one public surface.
"""

from __future__ import annotations

from derive.primitives.activations import ACTIVATIONS, Activation, X, activation
from derive.primitives.kernels import KERNELS, Kernel, R, kernel
from derive.primitives.losses import LOSSES, Loss, RowLoss, loss

__all__ = [
    "KERNELS",
    "ACTIVATIONS",
    "LOSSES",
    "Kernel",
    "Activation",
    "Loss",
    "kernel",
    "activation",
    "loss",
    "R",
    "X",
    "RowLoss",
]
