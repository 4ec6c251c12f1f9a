"""The printed-precision rule of worked-number claims: a claimed number printed to a last-digit unit u
*holds* when |claimed - true| <= u/2 (the true value rounds to it), *holds to rounding* when
|claimed - true| <= u (1/2 + allowance) (rounding carried through the document), and is *false*
otherwise; with an explicit tolerance t, it holds iff |claimed - true| <= t. Each band also carries
the binary slack of the decimal itself, relative to the true value (TOLERANCES "printed" times |true|):
no absolute floor, so a claim of -5e-13 for a true 1.2e-36 is false and 500 units in the last printed
digit are 500 units, whatever the tolerance or the size of the value."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

import numpy as np

from derive import SpecError
from numeric import compare

__all__ = ["printed", "judge_number", "number_finding", "HOLDS", "ROUNDING", "FALSE"]

HOLDS, ROUNDING, FALSE = "holds", "holds to rounding", "false"
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def printed(value: Any) -> tuple[float, float]:
    """(value, unit of its last printed digit) of one printed number.

    >>> printed("0.000531")
    (0.000531, 1e-06)
    >>> printed("4.16e-7")
    (4.16e-07, 1e-09)
    """
    text = value if isinstance(value, str) else repr(value)
    plain = text.strip().replace("\u2212", "-")
    # ASCII decimal only: Decimal alone would also read "7_0" as 70 and full-width digits as digits
    if plain.lstrip("+-").lower() in ("nan", "snan", "inf", "infinity"):
        raise SpecError(f"{text!r} is not a finite number", 'write claimed values as finite decimal strings, e.g. "-0.035995"')
    if not _DECIMAL.fullmatch(plain):
        raise SpecError(
            f"{text!r} is not a number (a plain decimal of ASCII digits)",
            'write claimed values as decimal strings of ASCII digits, e.g. "-0.035995" or "4.16e-7"',
        )
    d = Decimal(plain)
    exponent = d.as_tuple().exponent
    assert isinstance(exponent, int)  # the pattern admits no NaN or infinity
    number, unit = float(d), float(Decimal(1).scaleb(exponent))
    # out of float range: "1e400" becomes inf (and inf <= inf/2 would make any claim hold), "7e-400" 0
    if not math.isfinite(number) or unit == 0.0 or (number == 0.0 and d != 0):
        raise SpecError(f"{text!r} is outside the float64 range (about 2.2e-308 .. 1.8e308)", "claim a value a float64 can hold")
    return number, unit


def _bands(unit: float, true: float, allowance: float, tolerance: float | None) -> tuple[float, float]:
    """(largest |error| that holds, largest that holds to rounding) for a number printed to `unit`."""
    # binary floating point of the decimal and of the float64 true value (TOLERANCES "printed"), relative:
    # an absolute floor (it was max(1, |true|)) let a claim 500 last-digit units off hold
    slack = compare.tolerance(np.float64, "printed") * abs(true)
    if tolerance is not None:
        return tolerance + slack, tolerance + slack
    return unit / 2 + slack, unit * (0.5 + allowance) + slack


def judge_number(claimed: Any, true: float, allowance: float, tolerance: float | None) -> tuple[str, float]:
    """Verdict for one printed number against the true value, and the error in last-digit units.

    Holds when the true value rounds to the printed one (|error| <= unit/2); holds to rounding when
    the error is within `allowance` further units (rounding carried through the document); else false.
    With `tolerance` set, holds iff |error| <= tolerance.
    """
    value, unit = printed(claimed)
    true = float(true)  # Python floats: an error beyond float64 in last-digit units is inf, not a warning
    err = abs(value - true)
    hold, rounding = _bands(unit, true, allowance, tolerance)
    if err <= hold:
        return HOLDS, err / unit
    if err <= rounding:
        return ROUNDING, err / unit
    return FALSE, err / unit


def number_finding(
    claimed: Any, true: float, allowance: float, tolerance: float | None, *, quantity: str, engine: str, where: str = ""
) -> compare.Finding:
    """`judge_number` as a `numeric.compare.Finding` (measure "abs"; it fails exactly when the verdict is
    false: the tolerance is the rounding band, or `tolerance`, plus the decimal's slack)."""
    value, unit = printed(claimed)
    return compare.Finding(
        quantity,
        engine,
        abs(value - true),
        _bands(unit, true, allowance, tolerance)[1],
        where=where,
        value=claimed if isinstance(claimed, str) else value,
        truth=float(true),
        measure="abs",
        reference="manual engine",
    )  # the claim as printed, trailing zeros kept
