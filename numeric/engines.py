"""The engines, in one table: name -> `Engine` (what it computes, on which device and dtype).

Every engine follows one contract (derivcheck's issue 12):

    gradients(net, params, X, Y, *, dtype=np.float64, device="cpu", ...) -> derive.Gradients
    hvp(net, params, X, Y, V, *, dtype=np.float64, device="cpu", ...)    -> H v in V's form
    hessian(net, params, X, Y, *, wrt=None, dtype=np.float64, device="cpu", ...) -> n x n array

with V and `wrt` as derive.layout defines them. An `Engine` binds one dtype and device to those
functions: ``ENGINES["manual-f32"].gradients(net, params, X, Y)`` is the manual engine in float32.
verify, audit, bench and the tests list engines from `ENGINES`, not by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from derive import Gradients, symbolic
from numeric import autograd, manual

__all__ = ["Engine", "ENGINES"]


@dataclass(frozen=True)
class Engine:
    """One engine at one dtype and device.

    Attributes:
        name: the table key ("symbolic", "manual", "manual-f32", "torch-cpu", "torch-cuda").
        contract_gradients, contract_hvp, contract_hessian: the contract functions (unbound; hvp and
            hessian None when the engine has no second order).
        dtype, device: what this entry binds.
        dtypes, devices: what the engine can run at all (capabilities).
    """

    name: str
    contract_gradients: Callable[..., Gradients]
    contract_hvp: Callable[..., Any] | None
    contract_hessian: Callable[..., np.ndarray] | None
    dtype: type
    device: str
    dtypes: tuple[type, ...]
    devices: tuple[str, ...]

    @property
    def gradients(self) -> Callable[..., Gradients]:
        """gradients(net, params, X, Y, **engine_kw) with this entry's dtype and device."""
        return partial(self.contract_gradients, dtype=self.dtype, device=self.device)

    @property
    def hvp(self) -> Callable[..., Any] | None:
        """hvp(net, params, X, Y, V, **engine_kw) with this entry's dtype and device, or None."""
        fn = self.contract_hvp
        return None if fn is None else partial(fn, dtype=self.dtype, device=self.device)

    @property
    def hessian(self) -> Callable[..., np.ndarray] | None:
        fn = self.contract_hessian
        return None if fn is None else partial(fn, dtype=self.dtype, device=self.device)

    @property
    def capabilities(self) -> dict[str, Any]:
        return {"first_order": True, "hvp": self.contract_hvp is not None, "dtypes": self.dtypes, "devices": self.devices}

    def available(self) -> tuple[bool, str]:
        """(True, "") when this entry can run here, else (False, why)."""
        if self.device == "cuda":
            import torch

            if not torch.cuda.is_available():
                return False, "torch.cuda is not available"
        return True, ""


_F64, _BOTH = (np.float64,), (np.float64, np.float32)


def _manual(name: str, dtype: type) -> Engine:
    return Engine(name, manual.gradients, manual.hvp, manual.hessian, dtype, "cpu", _BOTH, ("cpu",))


def _torch(name: str, device: str) -> Engine:
    return Engine(name, autograd.gradients, autograd.hvp, autograd.hessian, np.float64, device, _BOTH, ("cpu", "cuda"))


ENGINES: dict[str, Engine] = {
    e.name: e
    for e in (
        Engine("symbolic", symbolic.gradients, symbolic.hvp, symbolic.hessian, np.float64, "cpu", _F64, ("cpu",)),
        _manual("manual", np.float64),
        _manual("manual-f32", np.float32),
        _torch("torch-cpu", "cpu"),
        _torch("torch-cuda", "cuda"),
    )
}
