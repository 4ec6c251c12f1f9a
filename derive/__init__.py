"""Exact side of derivcheck: the network description, primitives and SymPy derivations."""

from derive.compiled import Compiled, compile_net
from derive.errors import SpecError, VerificationError
from derive.lambdify import lambdify
from derive.net import MLP, Gradients, Net, Params
from derive.parse import parse_expr
from derive.primitives import ACTIVATIONS, KERNELS, LOSSES, activation, kernel, loss

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
