"""Numeric side of derivcheck: NumPy manual backprop, torch autograd, comparisons, strategies.

`manual` is imported first: it re-exports the second-order functions of `hvp`, which reads
`manual.forward`, and `autograd` re-exports `second_order`, which reads `hvp`.
"""

from . import manual  # noqa: I001  (order matters, see above)
from . import autograd, compare, fd, flat, optim

__all__ = ["manual", "autograd", "compare", "fd", "flat", "optim"]
