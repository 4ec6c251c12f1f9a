"""The two project exception types.

`SpecError` is bad input: a malformed network, kernel, parameter or data set. Its message is one
line that names the problem and the fix. `VerificationError` is a failed check: engines that
disagree, an identity that does not hold, a claim that is false.
"""

__all__ = ["SpecError", "VerificationError"]


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
