"""Exact side of derivcheck: the network description, primitives and SymPy derivations."""

from .compiled import Compiled, compile_net
from .errors import SpecError, VerificationError
from .lambdify import lambdify
from .net import MLP, Gradients, Net, Params
from .parse import parse_expr
from .primitives import ACTIVATIONS, KERNELS, LOSSES, activation, kernel, loss

__all__ = [
    "Net",
    "MLP",
    "Params",
    "Gradients",
    "SpecError",
    "VerificationError",
    "KERNELS",
    "ACTIVATIONS",
    "LOSSES",
    "kernel",
    "activation",
    "loss",
    "parse_expr",
    "lambdify",
    "compile_net",
    "Compiled",
]
