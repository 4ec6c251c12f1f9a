"""Issue 22's inputs not yet in the hostile tables (tests/derivcheck/test_hostile.py), one row each through the
command line: exit code and one line. Parameters far from 1 on every verb (kernels and penalties: evaluated,
or refused with the range their formula allows in float64), the penalty spec values that were coerced
(scale = true, layers = [2.5] or ["2"]), claims judged by their printed digits only, and a where(...)
kernel's derivation report. (sin(r)/r's audit, 5 s, is in tests/derivcheck/audit/test_audit.py.)"""

from __future__ import annotations

import json

import pytest

from tests.helpers import REPO
from tests.hostile import BASE_CLAIMS, assert_verdict_or_one_line

KERNEL = "exp(-r**2/s**2)"
RHO = "(s*(r-q0))**2"
GAUSS = ["--widths", "2,2", "--dim", "2", "--kernel", KERNEL]
PEN = ["--widths", "2,2", "--dim", "2", "--kernel", "1", "--amplitudes", "free", "--penalty", RHO, "--penalty-scale", "0.01"]
GRAD = str(REPO / "examples" / "my_grad.py") + ":grad"


def _verbs(penalty: bool, value: str) -> dict[str, list[str]]:
    """Every verb that takes a net, with the kernel's (or the penalty's) parameter s = value."""
    if penalty:
        net = [*PEN, "--penalty-param", "q0=0.4", "--penalty-param", f"s={value}"]
        audit = ["audit-kernel", "--penalty", RHO, "--penalty-param", "q0=0.4", "--penalty-param", f"s={value}"]
    else:
        net = [*GAUSS, "--param", f"s={value}"]
        audit = ["audit-kernel", KERNEL, "--param", f"s={value}"]
    return {
        "verify": ["verify", *net, "--cases", "1", "--out", "r.json"],
        "check-grad": ["check-grad", GRAD, *net, "--cases", "1"],
        "train": ["train", *net, "--iters", "2", "--quiet", "--out", "tr"],
        "report": ["report", "--which", "derivation", "--no-pdf", "--out", "rep", *net],
        "audit-kernel": audit,
    }


#: (id, argv, the accepted range the one line must state): g'' of the Gaussian carries s**-4 (1e280 / 4
#: decades), the penalty's second derivatives s**2
REFUSED = [
    (f"{'penalty' if pen else 'kernel'} s={v} {verb}", argv, "[1e-140, 1e+140]" if pen else "[1e-70, 1e+70]")
    for pen, values in ((False, ("1e-300", "1e308", "5e-324", "1e-71")), (True, ("1e-300", "1e308", "5e-324", "1e141")))
    for v in values
    for verb, argv in _verbs(pen, v).items()
]


@pytest.mark.parametrize(("argv", "phrase"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_a_parameter_beyond_float64_is_refused_with_its_range_on_every_verb(argv, phrase, tmp_path):
    code, err = assert_verdict_or_one_line(argv, tmp_path)
    assert code == 2 and f"must lie in {phrase}" in err, err[-600:]


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        # was refused (torch's int64 constants); Taylor steps now small against the kernel's width at the
        # coincident pair (a fitted slope of 0 was a false failure at s = 1e-8, inside the old range)
        (_verbs(False, "1e-10")["verify"], 0),
        (_verbs(False, "1e-70")["verify"], 0),
        (_verbs(True, "1e140")["verify"], 0),  # was: overflow, three false failures at s = 1e150 .. 1e300
        # wendland_c2's range ends at 1e-56 (s**-5): its weight at coincident nodes was read at r = 1e-9
        ("verify --widths 2,3,2 --dim 2 --kernel wendland_c2 --param s=1e-56 --cases 1 --out r.json".split(), 0),
    ],
    ids=["kernel s=1e-10", "kernel s=1e-70", "penalty s=1e140", "wendland s=1e-56"],
)
def test_a_parameter_within_its_range_is_verified(argv, code, tmp_path):
    got, err = assert_verdict_or_one_line(argv, tmp_path, allowed={"r.json"})
    assert got == code, err[-800:]
    assert json.loads((tmp_path / "r.json").read_text())["summary"]["verdict"] == "pass"


# ------------------------------------------------------------------------------ spec values once coerced
PENALTY_SPEC = '[network]\nwidths = [2, 2]\nkernel = "1"\namplitudes = "free"\n[[network.penalty]]\nrho = "abs(w)*r"\n'


@pytest.mark.parametrize(
    ("line", "phrase"),
    [
        ("scale = true", "scale True is not a finite number"),
        ("layers = [2.5]", "are not integers"),
        ('layers = ["2"]', "are not integers"),
    ],
)
@pytest.mark.parametrize("verb", ["verify", "train"])
def test_a_penalty_value_that_was_coerced_is_refused(line, phrase, verb, tmp_path):
    (tmp_path / "p.toml").write_text(PENALTY_SPEC + line + "\n")
    argv = [verb, "--net", "p.toml", *(["--out", "r.json"] if verb == "verify" else ["--quiet"])]
    code, err = assert_verdict_or_one_line(argv, tmp_path)
    assert code == 2 and phrase in err, err


# ------------------------------------------------------------------------------ claims, audit, report
def _claim(value: str, quantity: str = "loss", weights: str = "3.0") -> str:
    text = BASE_CLAIMS.replace('value = "4.16e-7"', f'value = "{value}"').replace("[[[3.0]]]", f"[[[{weights}]]]")
    return text.replace('quantity = "loss"', f'quantity = "{quantity}"')


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (_claim("-5e-13", weights="40.0"), 1),  # the true loss is ~1e-36: an absolute floor let it hold
        (_claim("0.999088948806100", quantity="a"), 1),  # a = sigmoid(7) = 0.99908894880559940: 500 units off
        (_claim("0.999088948805599", quantity="a"), 0),  # the same digits, rounded right
    ],
    ids=["tiny loss -5e-13", "500 units in the last digit", "right digits"],
)
def test_claims_are_judged_by_their_printed_digits(text, code, tmp_path):
    (tmp_path / "c.toml").write_text(text.replace('quantity = "a"', 'quantity = "a"\nlayer = 2'))
    got, err = assert_verdict_or_one_line(["claims", "c.toml"], tmp_path)
    assert got == code, err[-800:]


def test_the_derivation_of_a_where_kernel_is_written(tmp_path):
    argv = [
        "report",
        "--which",
        "derivation",
        "--no-pdf",
        "--no-proof",
        "--out",
        "rep",
        "--widths",
        "2,1",
        "--kernel",
        "where(r < 1, 1 - r**2, 0)",
    ]
    code, err = assert_verdict_or_one_line(argv, tmp_path, allowed={"rep"})
    assert code == 0 and (tmp_path / "rep" / "derivation.tex").is_file(), err[-800:]


def test_check_grad_in_float32_refuses_a_parameter_float32_cannot_hold(tmp_path):
    """s = 1e-20 holds in float64 (|s| down to 1e-70 for this kernel), but 1/s**2 = 1e40 is inf in float32:
    any float32 code gives NaN, which was judged a wrong gradient (exit 1). Refused in one line instead."""
    argv = _verbs(False, "1e-20")["check-grad"] + ["--float32"]
    code, err = assert_verdict_or_one_line(argv, tmp_path)
    assert code == 2 and "range float32 can evaluate" in err and "[1e-08, 1e+08]" in err, err[-600:]
