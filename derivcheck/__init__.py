"""derivcheck: the application (verbs, reports) and `check_grad`, the check of a user's own gradient code."""

from .checkgrad import CheckResult, check_grad

__all__ = ["check_grad", "CheckResult"]
