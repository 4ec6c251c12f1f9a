"""derivcheck audit-kernel: pinned verdicts for every library kernel, the exact evidence behind them,
user kernels with known defects, the JSON schema, exit codes, and the LaTeX report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from derivcheck import cli
from derivcheck.audit import CHECKS, REGISTRY, audit, float32_errors, parse_params, to_json, worst, write_report
from derivcheck.audit.registry import check
from derivcheck.latex import tex_available
from derive import KERNELS, SpecError

P, W, F = "pass", "warn", "fail"
# Expected verdicts per library kernel, in CHECKS order:
# real_finite, differentiable, gradient_at_coincidence, hessian_at_coincidence, phi, bounded, decay,
# lipschitz, sign_range, float32, engines_agree.
EXPECTED = {
    "gaussian": (P, P, P, P, P, P, P, P, P, P, P),
    # g'(0) = -1/s: kink where nodes meet. float32 passes: near pairs take eq. (8)'s term from their own
    # difference, so float32 dZ no longer degrades as nodes approach (it lost 100x at 1e-7 before)
    "exponential": (P, P, F, F, W, P, P, F, P, P, P),
    "inverse_quadratic": (P, P, P, P, P, P, P, P, P, P, P),
    "inverse_multiquadric": (P, P, P, P, P, P, P, P, P, P, P),
    "wendland_c2": (P, P, P, P, P, P, W, P, P, P, P),  # compact support: dead edges
    "cosine_cutoff": (P, W, P, P, P, P, W, P, P, P, P),  # only C1 at r = rc; dead edges
}
EXAMPLES = 8  # hypothesis examples per engines_agree run in the tests (the CLI default is 25)


def test_every_library_kernel_has_pinned_verdicts():
    assert set(EXPECTED) == set(KERNELS)


def test_every_check_is_one_registered_function_with_a_docstring():
    assert set(REGISTRY) == set(CHECKS)
    assert all(REGISTRY[name].__doc__ for name in CHECKS)
    with pytest.raises(SpecError, match="unknown audit check"):
        check("no_such_check")


@pytest.fixture(scope="module")
def library():
    return {name: audit(name, seed=0, examples=EXAMPLES) for name in KERNELS}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_library_kernel_verdicts(library, name):
    a = library[name]
    assert [c.name for c in a.checks] == list(CHECKS)
    got = {c.name: c.verdict for c in a.checks}
    want = dict(zip(CHECKS, EXPECTED[name], strict=True))
    assert got == want, {k: (got[k], want[k], a.check(k).detail) for k in CHECKS if got[k] != want[k]}
    for c in a.checks:
        assert c.detail and c.evidence["decided"] in ("symbolic", "numeric", "symbolic+numeric")


def test_gaussian_evidence_is_exact(library):
    ev = library["gaussian"].check("hessian_at_coincidence").evidence
    assert (ev["g'(0+)"], ev["g''(0+)"], ev["phi(0+)"], ev["g'''(0+)"]) == ("0", "-2", "-2", "0")
    assert library["gaussian"].check("lipschitz").evidence["L"] == pytest.approx(2.0, rel=1e-12)
    assert library["gaussian"].check("bounded").evidence["sup|g'|"]["value"] == pytest.approx(
        2**0.5 * sp.exp(-0.5).evalf(), rel=1e-6
    )


def test_exponential_gives_direction_dependent_limits(library):
    c = library["exponential"].check("gradient_at_coincidence")
    assert c.evidence["g'(0+)"] == "-1"
    assert c.evidence["limit along +e1"] != c.evidence["limit along -e1"]
    f32 = library["exponential"].check("float32").evidence
    # phi = g'/r ~ 1/r, yet float32 dZ keeps its digits down to 1e-7 (near pairs summed from their own
    # difference; the efficient form alone lost them: 100x the error without a near pair)
    assert f32["errors"]["1e-07"]["max_rel_error"] < 10 * max(f32["errors"]["none"]["max_rel_error"], 1e-7)


def test_cutoff_smoothness_orders(library):
    pts = library["cosine_cutoff"].check("differentiable").evidence["points"]
    assert [(v["r"], v["C^k"]) for v in pts.values()] == [(2.0, 1)]  # g'' jumps by pi^2/8 at rc = 2
    pts = library["wendland_c2"].check("differentiable").evidence["points"]
    # (1 - r/s)^4 vanishes to 4th order at the support's edge: C3 there. "C2" is its smoothness at the
    # origin: g'''(0) = 15 != 0 (s = 2), so w = g(|z|) is C2 but not C3 where nodes meet.
    assert [(v["r"], v["C^k"]) for v in pts.values()] == [(2.0, ">=3")]
    ev = library["wendland_c2"].check("hessian_at_coincidence").evidence
    assert (ev["g''(0+)"], ev["g'''(0+)"]) == ("-5", "15")
    assert library["wendland_c2"].check("decay").evidence["fractions"]["D=3"]["zero"] > 0.3


def test_engines_agree_uses_ground_truth_and_second_order(library):
    ev = library["gaussian"].check("engines_agree").evidence
    assert ev["symbolic"] == "used" and ev["counterexample"] is None
    so = ev["second_order"]
    assert isinstance(so, dict) and so["ok"] and "coincident" in so["cases"] and so["max|Hv|"] > 0


def test_parameter_changes_exact_values():
    a = audit("exp(-r**2/s**2)", {"s": 0.5}, engines=False)
    assert a.check("phi").evidence["phi(0)"] == "-8"  # phi(0) = g''(0) = -2/s^2
    assert a.params == {"s": 0.5}


@pytest.mark.parametrize(
    "spec, name, verdict, needle",
    [
        ("abs(r-1)", "differentiable", F, "C0 at r = 1"),
        ("where(r < 1, r**2, 1)", "differentiable", F, "C0 at r = 1"),
        ("max(1-r,0)**3", "differentiable", P, "C2 at r = 1"),
        # removable 0/0 at r = 0: the engines put g(0+) in for coincident nodes (issue 22: this failed,
        # saying engines get NaN weights there, which they do not; see test_removable_kernel_engines_agree)
        ("sin(r)/r", "real_finite", W, "the engines use that limit"),
        ("sin(r)/r", "phi", W, "cancellation"),
        ("1/(r-1)", "real_finite", F, "{1}"),
        ("sqrt(1-r)", "real_finite", F, "Interval.open(1, oo)"),
        ("r**2*log(r)", "hessian_at_coincidence", F, "-oo"),
        ("exp(-r**2)*cos(3*r)", "sign_range", W, "negative"),
        ("exp(1000*r)", "real_finite", W, "overflow"),
        ("1 - r", "bounded", F, "inf"),
    ],
)
def test_defective_user_kernels(spec, name, verdict, needle):
    c = audit(spec, engines=False).check(name)
    assert c.verdict == verdict and needle in c.detail, c.detail


def test_removable_kernel_engines_agree_with_the_truth_at_coincident_nodes():
    """What the audit says of sin(r)/r at r = 0 is what the engines do: finite, equal to the truth."""
    from derive import Net, Params, symbolic
    from numeric import autograd, manual

    net = Net((2, 3, 1), dim=2, kernel="sin(r)/r")
    Z = [np.array([[0.0, 0.0], [1.0, 0.5]]), np.array([[0.0, 0.0], [0.3, -0.2], [-1.0, 1.0]]), np.array([[0.2, 0.1]])]
    p, X, Y = Params(Z=Z), np.array([[0.5, -0.4], [1.0, 0.2]]), np.array([[0.1], [0.3]])
    truth = symbolic.gradients(net, p, X, Y)
    for g in (manual.gradients(net, p, X, Y), autograd.gradients(net, p, X, Y)):
        for a, b in zip(g.dZ, truth.dZ):
            assert np.isfinite(a).all()
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_float32_errors_are_reproducible_from_the_seed():
    from derive import kernel

    k = kernel("gaussian")
    assert float32_errors(k, 3, trials=2) == float32_errors(k, 3, trials=2)


def test_parse_params():
    assert parse_params(["s=0.5", "rc = 2"]) == {"s": 0.5, "rc": 2.0}
    for bad in (["s"], ["s=abc"], ["__class__=1"], ["=1"]):
        with pytest.raises(SpecError):
            parse_params(bad)


def _main(capsys, *argv):
    code = cli.main(["audit-kernel", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_json_schema_and_exit_codes(capsys):
    code, out, _ = _main(capsys, "gaussian", "--json", "--examples", "4")
    doc = json.loads(out)
    assert code == 0 and set(doc) == {"kernel", "params", "verdict", "checks"}
    assert doc["kernel"] == "gaussian" and doc["params"] == {"s": 1.0} and doc["verdict"] == "pass"
    assert [c["name"] for c in doc["checks"]] == list(CHECKS)
    assert all(set(c) == {"name", "verdict", "detail", "evidence"} for c in doc["checks"])
    code, out, _ = _main(capsys, "cosine_cutoff", "--json", "--examples", "4")
    assert code == 0 and json.loads(out)["verdict"] == "warn"
    code, _, _ = _main(capsys, "cosine_cutoff", "--strict", "--examples", "4")
    assert code == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["__import__('os')"],
        ["gausian"],
        ["gaussian", "--param", "s=abc"],
        ["gaussian", "--param", "t=1"],
        ["exp(-r/s)"],
        ["exp(-r/s)", "--param", "s=-1"],
        ["lambda: r"],
        ["gaussian", "--examples", "0"],
        ["gaussian", "--seed", "-1"],
    ],
)
def test_cli_bad_input_exits_2_with_one_line(capsys, argv):
    code, out, err = _main(capsys, *argv)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "error" in err


def test_console_script_prints_verdicts_for_exp():
    exe = Path(sys.executable).with_name("derivcheck")
    proc = subprocess.run([str(exe), "audit-kernel", "exp(-r)", "--examples", "3"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "gradient_at_coincidence" in proc.stdout and "fail" in proc.stdout and "overall: fail" in proc.stdout


def test_report_tex_and_plots(library, tmp_path):
    tex, pdf = write_report(library["exponential"], tmp_path, compile=tex_available())
    text = tex.read_text()
    for name in CHECKS:
        assert name.replace("_", r"\_") in text
    assert (tmp_path / "audit_kernel.png").stat().st_size > 1000
    assert (tmp_path / "audit_float32.png").stat().st_size > 1000
    if tex_available():
        assert pdf is not None and pdf.read_bytes()[:4] == b"%PDF"


def test_json_roundtrip_is_plain(library):
    doc = to_json(library["exponential"])
    assert json.loads(json.dumps(doc)) == doc and doc["verdict"] == "fail"


def test_checks_that_could_not_run_say_skipped_not_fail():
    """Issue 24: the table said `fail` for the engine checks it never ran (g not finite on [0, inf))."""
    a = audit("1/(r-1)")
    assert a.check("real_finite").verdict == "fail"
    for name in ("float32", "engines_agree"):
        c = a.check(name)
        assert c.verdict == "skipped" and c.detail.startswith("not run: ") and c.evidence["decided"] == "not run"
    assert a.verdict == "fail"
    assert worst(["pass", "skipped", "warn"]) == "skipped"  # a skipped check is never a pass
