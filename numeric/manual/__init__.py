"""The NumPy manual-backprop engine (MATH.md "First order", "Second order").

    reference.py  the equations as written, one layer at a time (read this first: eq. (8) is
                  `reference.coordinate_gradient`, the delta recursion `reference.dense_backward`)
    fast.py       the same maths arranged for speed: fused kernel layers, OpenBLAS-friendly order,
                  reused buffers (what `gradients` below is)
    hvp.py        H v by the R-operator over the fast forward cache; `hessian` stacks H e_k
    r_operator.py the R-operator's forward and backward R{} passes (MATH.md "Second order")
    loss_hessian.py  (d^2 L / d a_L^2) U, the seed of the R-operator's backward pass
    penalty.py    the model family's penalty terms per layer (value, dJ/dW, G_l and their R{} twins;
                  fused for the fast route); free amplitudes W = theta g(R) live in reference.py
    common.py     the forward `Cache`, the loss and dL/da_L, dtype/device rules

`gradients`, `hvp` and `hessian` follow the engine contract: everything after Y (or V) is
keyword-only (dtype=np.float64 or np.float32, device="cpu").
"""

from numeric.manual import reference
from numeric.manual.common import Cache, loss_and_dA
from numeric.manual.fast import distances, forward, gradients
from numeric.manual.hvp import hessian, hvp
from numeric.manual.loss_hessian import loss_hessian_times

__all__ = ["gradients", "hvp", "hessian", "forward", "Cache", "distances", "loss_and_dA", "loss_hessian_times", "reference"]
