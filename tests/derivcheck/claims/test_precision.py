"""derivcheck.claims.precision: a worked number is judged by its printed digits and stated tolerance only.

The binary slack is relative to the true value; there is no absolute floor that would let a claim about a
tiny value, or a claim many units off in its last printed digit, hold (issue 22)."""

import pytest

from derivcheck.claims.precision import FALSE, HOLDS, ROUNDING, judge_number


@pytest.mark.parametrize(
    "claimed, true, tolerance, verdict",
    [
        ("-5e-13", 1.2e-36, 0.0, FALSE),  # held under the old floor of 1e-12 max(1, |true|)
        ("-5e-13", 1.2e-36, None, FALSE),
        ("0.999088948806100", 0.999088948806600, None, FALSE),  # 500 units in its last digit
        ("0.999088948806100", 0.9990889488061004, None, HOLDS),  # rounds to the printed digits
        ("0.999088948806", 0.9990889488072, None, ROUNDING),  # 1.2 units: within the allowance of 1
        ("1.2e-36", 1.2e-36, 0.0, HOLDS),  # exact: a zero tolerance still admits the decimal's own rounding
        ("0.1", 0.1 + 2e-17, 0.0, HOLDS),
    ],
)
def test_verdict_by_printed_precision_and_tolerance_only(claimed, true, tolerance, verdict):
    assert judge_number(claimed, true, 1.0, tolerance)[0] == verdict
