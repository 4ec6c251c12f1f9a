"""The torch engine (CPU or CUDA), one package to its users: `gradients` (numeric.autograd.first_order,
whose docstring says what it computes and where its results stay), `hvp` and `hessian`
(numeric.autograd.second_order), over the model written once in torch (numeric.autograd.model)."""

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
