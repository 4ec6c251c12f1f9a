"""Numeric side of derivcheck: NumPy manual backprop, torch autograd, comparisons, strategies."""

from numeric import autograd, compare, fd, flat, manual, optim

__all__ = ["manual", "autograd", "compare", "fd", "flat", "optim"]
