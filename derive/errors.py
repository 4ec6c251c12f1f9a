"""The two project exception types.

`SpecError` is bad input: a malformed network, kernel, parameter or data set. Its message is one
line that names the problem and the fix. `VerificationError` is a failed check: engines that
disagree, an identity that does not hold, a claim that is false.
"""

__all__ = ["SpecError", "VerificationError", "PrecisionWarning", "coincidence_error"]


class PrecisionWarning(UserWarning):
    """An input so extreme that an engine loses digits (nodes closer than float64 can square: r^2
    underflows below 2.2e-308). The result is returned; the warning says how much to distrust it."""


class SpecError(ValueError):
    """Bad input. The message names what is wrong and how to fix it, on one line."""

    def __init__(self, problem: str, fix: str | None = None):
        msg = problem if fix is None else f"{problem}; {fix}"
        super().__init__(msg.replace("\n", " "))


class VerificationError(AssertionError):
    """A derivative, identity or claim that does not hold (quantity, engines, values, tolerance).

    Raised only by `numeric.compare.report`; `finding` is the `numeric.compare.Finding` it describes
    (untyped here: derive does not import numeric).
    """

    def __init__(self, message: str, finding=None):
        super().__init__(message)
        self.finding = finding


def coincidence_error(kernel, where: str, order: int = 1) -> SpecError:
    """The one error for coincident nodes (r = 0) where a derivative of `order` is undefined.

    Args:
        kernel: a `derive.primitives.Kernel` (reads name, dg0, phi0, gradient_at_0).
        where: which nodes, numbered from 1 like layers, e.g. "node 1 of layer 2 and node 2 of layer 1".
        order: 1 (dL/dz: needs phi(0+) finite) or 2 (the Hessian: also lim r phi'(r) = 0).
    """
    if kernel.dg0 is None or (order == 1 and kernel.gradient_at_0 and kernel.phi0 is None):
        why = "a limit at r = 0+ that SymPy did not decide within its time budget (--budget)"
    elif kernel.gradient_at_0 and order == 1:  # g'(0) = 0, but phi = g'/r still blows up (r^2 log r)
        why = f"g'(0) = 0 but phi(0+) = {kernel.phi0}"
    else:
        why = f"g'(0) = {kernel.dg0}" + ("" if order == 1 else ", lim r phi'(r) != 0")
    what = "dL/dz" if order == 1 else "the Hessian"
    return SpecError(
        f"{where} coincide (r = 0) and kernel {kernel.name!r} has {why}, so {what} is undefined there",
        "move the nodes apart or use a kernel with g'(0) = 0 (e.g. gaussian)",
    )
