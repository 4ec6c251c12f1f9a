"""numeric.compare: the tolerance table, the Finding message shape, and the one failure path."""

import numpy as np
import pytest

from derivcheck.claims.precision import FALSE, judge_number, number_finding
from derivcheck.formula import Family, FormulaClaim, check_formula
from derive import SpecError, VerificationError
from numeric.compare import (
    QUANTITIES,
    TOLERANCES,
    Finding,
    Findings,
    check_close,
    check_gradients,
    check_identity,
    locate,
    rel_error,
    report,
    tolerance,
)

# Every row the checks read: verify (entries, fd, identities), numeric.fd (Taylor), numeric.spectrum,
# derivcheck.formula and derivcheck.claims.file.
USED = (
    *QUANTITIES,
    "fd",
    "translation",
    "rotation",
    "permutation",
    "hessian_symmetry",
    "hessian_translation",
    "hessian_rotation",
    "taylor_grad",
    "taylor_hvp",
    "taylor_floor",
    "formula_rtol",
    "formula_atol",
    "printed",
    "eigen_zero",
    "rank",
)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("quantity", USED)
def test_every_quantity_the_checks_use_has_a_tolerance(dtype, quantity):
    tol = tolerance(dtype, quantity)
    assert np.isfinite(tol) and tol > 0


def test_both_dtypes_have_the_same_rows_and_float32_is_never_stricter():
    assert set(TOLERANCES["float64"]) == set(TOLERANCES["float32"])
    for q, tol64 in TOLERANCES["float64"].items():
        assert TOLERANCES["float32"][q] >= tol64, q


def test_unknown_quantity_or_dtype_is_an_error_not_a_fallback():
    with pytest.raises(SpecError, match=r"no tolerance for quantity 'dQ'.*dZ"):
        tolerance(np.float64, "dQ")
    with pytest.raises(SpecError, match="no tolerances for dtype float16; use one of float64, float32"):
        tolerance(np.float16, "dZ")
    with pytest.raises(SpecError, match="no tolerance for quantity 'grad'"):  # no silent "hvp" default
        check_close("grad", "fd", np.ones(3), np.ones(3))


@pytest.mark.parametrize("dtype", [np.float16, "bogus", None, np.int64])
def test_unknown_dtype_names_the_known_ones_in_one_line(dtype):
    with pytest.raises(SpecError) as err:
        tolerance(dtype, "dZ")
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("no tolerances for dtype ") and msg.endswith("use one of float64, float32")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_unknown_quantity_names_every_known_one_in_one_line(dtype):
    with pytest.raises(SpecError) as err:
        tolerance(dtype, "dQ")
    msg = str(err.value)
    assert "\n" not in msg and f"no tolerance for quantity 'dQ' ({np.dtype(dtype).name})" in msg
    assert f"use one of {', '.join(TOLERANCES[np.dtype(dtype).name])} or add a row" in msg


def test_check_grad_reads_tolerances_through_the_one_reader():
    """check-grad had its own reader (an unknown quantity was a KeyError): it is gone, and its
    comparison refuses an unknown quantity with the reader's SpecError."""
    import derivcheck.checkgrad.compare as cg

    assert not hasattr(cg, "tolerance") or cg.tolerance is tolerance
    with pytest.raises(SpecError, match="no tolerance for quantity 'dQ' \\(float64\\); use one of loss, dW"):
        cg.compare({"dQ": np.ones(2)}, {"dQ": np.zeros(2)})
    with pytest.raises(SpecError, match="no tolerances for dtype float16"):
        cg.compare({"dZ": [np.ones((2, 2))]}, {"dZ": [np.zeros((2, 2))]}, np.float16)
    assert cg.compare({"dZ": [np.ones((2, 2))]}, {"dZ": [np.ones((2, 2))]}, np.float32) == []


def _dZ_with_one_wrong_entry():
    truth = [np.arange(6.0).reshape(3, 2) + 1, np.arange(4.0).reshape(2, 2) + 1]
    got = [t.copy() for t in truth]
    got[1][1, 0] *= 1 + 1e-6  # layer 2, node 2, dim 1 (every number from 1)
    return got, truth


def test_finding_message_names_everything_needed_to_act_on_it():
    got, truth = _dZ_with_one_wrong_entry()
    f = check_close("dZ", "manual", got, truth)
    f.seed, f.command = 7, "derivcheck verify --seed 7 --only m001"
    msg = f.describe()
    assert not f.ok and f.measure == "rel" and f.tol == tolerance(np.float64, "dZ")
    assert msg.startswith("dZ of layer 2, node 2, dim 1 (manual vs ground truth): ")
    assert f"{float(got[1][1, 0])!r} vs {float(truth[1][1, 0])!r}" in msg  # both values, every digit
    assert f"relative error {f.error:.3g} > tolerance 1e-09" in msg and " ulp)" in msg
    assert msg.endswith("; seed 7; reproduce: derivcheck verify --seed 7 --only m001")
    assert "reproduce" not in f.describe(reproduce=False) and "seed 7" in f.describe(reproduce=False)


def test_report_records_or_raises_a_failure_and_passes_a_pass():
    got, truth = _dZ_with_one_wrong_entry()
    bad, good = check_close("dZ", "manual", got, truth), check_close("dZ", "manual", truth, truth)
    into: list[Finding] = []
    assert report(good, into=into, raise_=True) is good and into == []
    assert report(bad, into=into) is bad and into == [bad]
    with pytest.raises(VerificationError) as err:
        report(bad, raise_=True)
    assert err.value.finding is bad and str(err.value) == bad.describe()
    assert isinstance(err.value, AssertionError)  # pytest shows it as a failed assertion


def test_findings_collects_every_check_with_the_runs_seed_and_command():
    got, truth = _dZ_with_one_wrong_entry()
    found = Findings(seed=3, command="derivcheck verify --seed 3 --only m002")
    found.report(check_close("dZ", "manual", truth, truth))
    found.report(check_close("dZ", "torch-cpu", got, truth))
    found.report(check_identity("translation", "manual", 1e-15))
    assert len(found.checks) == 3 and [f.engine for f in found.failures] == ["torch-cpu"] and not found.ok
    assert found.failures[0].describe().endswith("; seed 3; reproduce: derivcheck verify --seed 3 --only m002")
    strict = Findings(seed=3, raise_=True)
    with pytest.raises(VerificationError, match="torch-cpu vs ground truth"):
        strict.report(check_close("dZ", "torch-cpu", got, truth))


def test_identity_findings_use_the_table():
    ok, bad = check_identity("rotation", "manual", 1e-14), check_identity("rotation", "manual", 1e-9)
    assert ok.ok and not bad.ok and bad.tol == tolerance(np.float64, "rotation")
    assert bad.describe().startswith("rotation (manual vs the rotation identity): 1e-09 vs 0.0, relative error 1e-09 > ")
    with pytest.raises(SpecError, match="no tolerance for quantity 'reflection'"):
        check_identity("reflection", "manual", 0.0)


def test_shape_mismatch_goes_through_the_same_path():
    with pytest.raises(VerificationError, match=r"shape \(3,\) where the reference has shape \(4,\)") as err:
        rel_error(np.ones(3), np.ones(4))
    assert err.value.finding.measure == "shape" and not err.value.finding.ok


def test_unknown_measure_is_a_spec_error():
    with pytest.raises(SpecError, match="unknown error measure 'percent'"):
        Finding("dZ", "manual", 0.0, 1.0, measure="percent")


@pytest.mark.parametrize(
    "claimed,true,tol",
    [
        ("0.5", 0.5004, None),
        ("0.5", 0.52, None),
        ("0.5", 0.56, None),
        ("0.5", 0.52, 0.05),
        ("0.5", 0.52, 0.01),
        ("-3.25", -3.2549, None),
    ],
)
def test_worked_number_finding_fails_exactly_when_the_verdict_is_false(claimed, true, tol):
    f = number_finding(claimed, true, 1.0, tol, quantity="dW", engine="claim 'c'", where=" of layer 2")
    assert f.ok == (judge_number(claimed, true, 1.0, tol)[0] != FALSE)
    assert f.describe().startswith(f"dW of layer 2 (claim 'c' vs manual engine): {claimed} vs {true!r}, absolute error ")


def test_false_formula_claim_is_a_finding_and_raises_on_request():
    family = Family(kind="mlp", layers=(2, 3), width=(1, 2), batch=(1, 1), hidden=("tanh",), output=("identity",))
    claim = FormulaClaim(
        "h-for-a", "dW", lambda c, l: c.delta[l].T @ (c.h[l - 1] if l > 1 else c.X), layers="weighted", family=family
    )
    v = check_formula(claim, seed=0, cases=25, prove=False, source="claims/x.py")
    f = v.finding
    assert not v.holds and f is not None and not f.ok and f.measure == "abs"
    assert f.tol == pytest.approx(
        tolerance(np.float64, "formula_atol") + tolerance(np.float64, "formula_rtol") * abs(v.counterexample.true)
    )
    msg = f.describe()
    row, col = (i + 1 for i in v.counterexample.index)  # named from 1, as verify and check-grad name entries
    assert msg.startswith(f"dW of layer {v.counterexample.layer}, row {row}, col {col} (claim 'h-for-a' vs manual engine): ")
    assert f.where == locate("dW", v.counterexample.layer, v.counterexample.index)
    assert "absolute error" in msg and "> tolerance" in msg and "; seed 0" in msg
    assert msg.endswith("reproduce: derivcheck claims claims/x.py --only h-for-a --seed 0")
    assert v.counterexample.message == f.describe(reproduce=False)
    with pytest.raises(VerificationError, match="claim 'h-for-a' vs manual engine") as err:
        check_formula(claim, seed=0, cases=25, prove=False, raise_=True)
    assert err.value.finding.quantity == "dW"


def test_verify_case_records_failures_as_findings():
    from derivcheck import verify

    case = verify.matrix_cases(0, quick=True)[0]
    rec = verify.run_case(case, ("manual", "taylor"), reproduce="derivcheck verify --seed 0 --only m000")
    assert rec["pass"] and rec["failures"] == []
    assert {k for ids in rec["identities"].values() for k in ids} == {"translation", "rotation", "permutation"}
    for qs in rec["errors"].values():
        for q, e in qs.items():
            assert e["tol"] == tolerance(e["dtype"], q)


@pytest.mark.parametrize(
    "quantity,entries_as,x,where",
    [
        ("db", None, [np.zeros(2), np.zeros(3)], " of layer 3, node 3"),
        ("dW", None, [np.zeros((2, 2)), np.zeros((3, 2))], " of layer 3, row 3, col 2"),
        ("dX", None, np.zeros((2, 3)), " of example 2, input 3"),
        ("hvp", "dZ", [np.zeros((2, 2)), np.zeros((3, 2))], " of layer 2, node 3, dim 2"),
        ("hvp", None, [np.zeros((2, 2)), np.zeros((3, 2))], " of block 2, entry (3, 2)"),
        ("fd", None, np.zeros(5), " entry 5"),
    ],
)
def test_the_worst_entry_is_named_in_the_quantitys_terms(quantity, entries_as, x, where):
    truth = [a.copy() for a in x] if isinstance(x, list) else x.copy()
    last = truth[-1] if isinstance(truth, list) else truth
    last.reshape(-1)[-1] = 1.0  # the last entry of the last block is wrong
    f = check_close(quantity, "manual", x, truth, entries_as=entries_as)
    assert f.where == where and (f.value, f.truth) == (0.0, 1.0)


def test_a_reference_that_cancels_to_zero_is_judged_against_the_problem_scale():
    # two output nodes at one place with opposite dL/da: dX = c w - c w is exactly 0, an FMA leaves ~eps
    from derive import Gradients

    def grads(dX, engine="manual"):
        return Gradients(loss=1.0, dW=[np.array([[0.3, -0.3]])], dX=np.full((1, 1), dX), engine=engine)

    truth = grads(0.0, "symbolic")
    assert not check_close("dX", "manual", grads(2.3e-18).dX, truth.dX).ok  # no scale: relative to 0
    assert all(f.ok for f in check_gradients(grads(2.3e-18), truth))  # ~10 eps of S = 1
    (bad,) = [f for f in check_gradients(grads(1e-12), truth) if not f.ok]  # far above rounding noise
    assert bad.quantity == "dX" and "dX of example 1, input 1" in bad.describe()
    # a non-zero entry is still judged relative to itself: 1e-3 relative on dW fails
    wrong = Gradients(loss=1.0, dW=[np.array([[0.3003, -0.3]])], dX=np.zeros((1, 1)), engine="manual")
    assert [f.quantity for f in check_gradients(wrong, truth) if not f.ok] == ["dW"]
