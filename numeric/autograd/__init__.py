"""torch autograd engine: derivatives of numeric.autograd.model.loss_fn by autograd (CPU or CUDA).

hvp and hessian (numeric.autograd.second_order) are re-exported here, so the engine is one module to its users.

Coincident nodes: see numeric.autograd.model (the double `where` that keeps r = 0 differentiable).

Results stay where they are computed (issue 17): ``gradients(..., as_numpy=False)`` returns detached
tensors on the device and ``quantities=("loss", "dZ")`` differentiates only what is asked (no N x N
dL/dW copied to the host, which was 0.92 s of a 1.10 s CUDA call at L=4, widths 8192, batch 1024).
The default (NumPy, every quantity, formulation "dims") is what verification compares.
The formulations of the gradient (FORMULATIONS, with "eq8": autograd for dL/dW only, then dL/dZ by
eq. (8)'s efficient form) and their measured speeds: numeric.autograd.model.
"""

from .first_order import QUANTITIES, gradients
from .model import FORMULATIONS, device_for, kernel_weights, loss_fn, penalty_value, to_torch
from .second_order import hessian, hvp

__all__ = [
    "device_for",
    "gradients",
    "hessian",
    "hvp",
    "kernel_weights",
    "loss_fn",
    "penalty_value",
    "to_torch",
    "FORMULATIONS",
    "QUANTITIES",
]
