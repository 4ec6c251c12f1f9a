"""Numeric side of derivcheck: NumPy manual backprop, torch autograd, comparisons, strategies.

The subpackages load on first use (derive.lazy): check-grad and the exact side compare with
numeric.compare without importing torch, which only numeric.autograd needs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from derive.lazy import lazy_names

if TYPE_CHECKING:
    from numeric import autograd, compare, fd, flat, manual, optim

__all__ = ["manual", "autograd", "compare", "fd", "flat", "optim"]

__getattr__ = lazy_names(__name__, {}, submodules=True)
