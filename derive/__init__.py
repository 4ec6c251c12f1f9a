"""Exact side of derivcheck: the network description, primitives and SymPy derivations.

The names below load on first use (PEP 562): ``from derive import SpecError`` costs nothing, while
``from derive import Net`` brings in SymPy. So the command line parses its arguments and answers
``--help`` without importing SymPy or torch."""

from __future__ import annotations

from typing import TYPE_CHECKING

from derive.errors import SpecError, VerificationError
from derive.lazy import lazy_names

if TYPE_CHECKING:
    from derive.compiled import Compiled, compile_net
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

# name -> the submodule that defines it
_LAZY = {
    "Compiled": "compiled",
    "compile_net": "compiled",
    "lambdify": "lambdify",
    "MLP": "net",
    "Gradients": "net",
    "Net": "net",
    "Params": "net",
    "parse_expr": "parse",
    "ACTIVATIONS": "primitives",
    "KERNELS": "primitives",
    "LOSSES": "primitives",
    "activation": "primitives",
    "kernel": "primitives",
    "loss": "primitives",
}


__getattr__ = lazy_names(__name__, _LAZY)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
