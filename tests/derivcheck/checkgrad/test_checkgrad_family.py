"""check-grad on the wider model family (penalties on distances, free amplitudes): the catalog of penalty
and wiring-cost mistakes and a new user's realistic bugs (finding 6 of u1's trial), each diagnosed by name,
and the "error grows as nodes approach" sweep staying silent on bugs unrelated to near nodes."""

import catalog_grads as C  # tests/ is on sys.path (pytest rootdir-relative import)
import numpy as np
import pytest

import derivcheck
from derivcheck import cli
from derivcheck.checkgrad.shrink import Judge, separation_sweep
from derive import SpecError
from numeric.draws import draw_case, place_pair
from tests.helpers import REPO

ROOT = REPO
CASES = 4  # drawn cases per check (plus the adversarial ones): small nets, fast


USER_BUGS = [(n, "USER_NET") for n in ("user_half", "user_sign", "user_dz_notheta")] + [("user0_dz_notheta", "USER_NET0")]


@pytest.mark.parametrize("name,net", USER_BUGS)
def test_separation_sweep_is_silent_when_the_error_does_not_grow(name, net):
    """A user's bugs unrelated to near nodes (finding 6): their dZ error stays O(1) as a pair approaches,
    so the sweep names nothing (it used to divide by the moved edge's term, which goes to 0 like r)."""
    judge = Judge(getattr(C, name), False, np.float64)
    case = draw_case(getattr(C, net), np.random.default_rng(3), batch=4)
    assert judge.fails(case)
    assert separation_sweep(judge, case) is None
    assert separation_sweep(judge, place_pair(case, 2, 1, 0, 1.0)) is None  # the pair between layers 2 and 3


def test_separation_sweep_names_the_eps_mismatch_on_a_drawn_case():
    judge = Judge(C.eps_mismatch, False, np.float64)
    case = draw_case(C.NET, np.random.default_rng(3), batch=3)
    text = separation_sweep(judge, case)
    assert text is not None and text.startswith("error grows as nodes approach"), text


# The wider model family (issue 16): penalty and wiring-cost mistakes, each caught and diagnosed.
FAMILY_CATALOG = [
    (
        "half_penalty",
        "PEN_NET",
        "dZ: matches with the gradient of the penalty '(s*(r-q0))**2' at half its value "
        "(d/dr (s*(r-q0))**2 = 74.42*r - 32.22 at q0=0.433, s=6.1)",
    ),
    (
        "penalty_wrong_layer",
        "LAYER3_NET",
        "dZ: matches with the penalty '(s*(r-q0))**2' of layer(s) [3] differentiated with the coordinates of layer(s) [2]",
    ),
    ("wiring_no_sign", "WIRING_NET", "dW, dtheta: matches with d|w|/dw = 1: the gradient of 'abs(w)*r' forgets sign(w)"),
]


@pytest.mark.parametrize("name,net,diagnosis", FAMILY_CATALOG, ids=[c[0] for c in FAMILY_CATALOG])
def test_family_catalog_bug_is_caught_and_diagnosed(name, net, diagnosis):
    result = derivcheck.check_grad(getattr(C, name), getattr(C, net), cases=CASES, seed=3)
    assert not result and result.failed == result.checked
    assert result.diagnosis is not None and result.diagnosis.startswith(diagnosis), result.report()


THETA_MISSING = "dZ: matches with theta left out of dJ/dr (W/theta confusion): with W = theta g(r), dJ/dr = dJ/dW theta g'(r)"
# A new user's realistic bugs on a net with two penalty terms and free amplitudes (finding 6): one term's
# gradient halved, sign-flipped or missing, theta left out of dJ/dr, every penalty missing.
USER_CATALOG = [
    (
        "user_half",
        "USER_NET",
        "dZ: matches with the gradient of the penalty '(k*(r-q0))**2' of layer(s) [2] at half its value "
        "(d/dr (k*(r-q0))**2 = 8*r - 4 at k=2, q0=0.5)",
    ),
    ("user_sign", "USER_NET", "dZ: matches with the gradient of the penalty '(k*(r-q0))**2' of layer(s) [2] with its sign flipped"),
    ("user_wire_missing", "USER_NET", "dZ, dW, dtheta: matches without the gradient of the penalty 'abs(w)*r': it is missing"),
    ("user_all_half", "USER_NET", "dZ, dW, dtheta: matches with every penalty's gradient at half its value"),
    ("user0_correct", "USER_NET", "dZ, dW, dtheta: matches the data loss's gradient alone: every penalty's gradient is missing"),
    ("user_dz_notheta", "USER_NET", THETA_MISSING + " + the penalties' d/dr, not dJ/dW g'(r)"),
    ("user0_dz_notheta", "USER_NET0", THETA_MISSING + ", not dJ/dW g'(r)"),
]


@pytest.mark.parametrize("name,net,diagnosis", USER_CATALOG, ids=[c[0] for c in USER_CATALOG])
def test_user_bug_is_diagnosed(name, net, diagnosis):
    result = derivcheck.check_grad(getattr(C, name), getattr(C, net), cases=CASES, seed=3)
    assert not result and result.failed == result.checked
    assert result.diagnoses == [diagnosis], result.report()
    assert result.shrunk is not None and result.shrunk_findings


@pytest.mark.parametrize(
    "name,net",
    [
        ("family_correct", "PEN_NET"),
        ("layer3_correct", "LAYER3_NET"),
        ("wiring_correct", "WIRING_NET"),
        ("user_correct", "USER_NET"),
        ("user0_correct", "USER_NET0"),
    ],
)
def test_family_correct_passes_and_gets_theta(name, net):
    result = derivcheck.check_grad(getattr(C, name), getattr(C, net), cases=CASES, seed=3)
    assert result, result.report()
    assert result.checked >= CASES


def test_wiring_fn_without_theta_argument_is_a_spec_error():
    with pytest.raises(SpecError, match="theta"):
        derivcheck.check_grad(C.correct, C.WIRING_NET, cases=1, seed=0)


def test_cli_penalty_flags_reach_check_grad(capsys):
    flags = [
        "--widths",
        "2,3,2",
        "--dim",
        "2",
        "--kernel=1",
        "--amplitudes",
        "free",
        "--penalty",
        "abs(w)*r",
        "--penalty-scale",
        "0.05",
        "--penalty-reduce",
        "mean",
        "--loss",
        "mse",
        "--bias",
        "--cases",
        "2",
    ]
    assert cli.main(["check-grad", f"{ROOT}/tests/catalog_grads.py:wiring_correct", *flags]) == 0
    assert cli.main(["check-grad", f"{ROOT}/tests/catalog_grads.py:wiring_no_sign", *flags]) == 1
    out = capsys.readouterr().out
    assert "forgets sign(w)" in out and "theta = [" in out
    assert "--amplitudes free --penalty='abs(w)*r' --penalty-scale 0.05 --penalty-reduce mean" in out
