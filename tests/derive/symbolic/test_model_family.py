"""The wider model family (MATH.md "The wider model family", issue 16): mse_half, free amplitudes,
penalties on distances; every engine against the symbolic truth."""

import numpy as np
import pytest

from derive import Net, Params, symbolic
from numeric.engines import ENGINES
from tests.helpers import REPO, random_data, random_params


def _engines():
    return [e for e in ENGINES.values() if e.name != "symbolic" and e.available()[0] and e.dtype == np.float64]


def test_mse_half_is_half_mse_in_every_engine():
    base = Net((2, 3, 2), dim=2, kernel="gaussian", loss="mse")
    half = Net((2, 3, 2), dim=2, kernel="gaussian", loss="mse_half")
    P, (X, Y) = random_params(base), random_data(base)
    t_full, t_half = symbolic.gradients(base, P, X, Y), symbolic.gradients(half, P, X, Y)
    assert t_half.loss == pytest.approx(t_full.loss / 2, rel=1e-15)
    for a, b in zip(t_half.dZ, t_full.dZ, strict=True):
        np.testing.assert_allclose(a, b / 2, rtol=1e-14, atol=1e-300)
    for e in _engines():
        g = e.gradients(half, P, X, Y)
        assert g.loss == pytest.approx(t_half.loss, rel=1e-13), e.name
        np.testing.assert_allclose(g.flat(), t_half.flat(), rtol=1e-9, atol=1e-12)


# -- free amplitudes and penalties -----------------------------------------------------------------
FAMILY = {
    "free_mlp_wiring": Net(
        (2, 3, 2), dim=2, kernel="1", amplitudes="free", penalties=({"rho": "abs(w)*r", "reduce": "mean", "scale": 0.1},)
    ),
    "distance_penalty": Net(
        (2, 3, 1),
        dim=3,
        kernel="tanh(r)",
        loss="mse_half",
        penalties=({"rho": "(s*(r-q0))**2", "params": {"s": 6.1, "q0": 0.433}},),
    ),
    "bimt_one_layer": Net(
        (2, 2, 2, 1),
        dim=2,
        kernel="gaussian",
        amplitudes="free",
        bias=True,
        penalties=({"rho": "abs(w)*(lam*r + l0)", "params": {"lam": 1.0, "l0": 0.5}, "layers": [3]},),
    ),
    "two_terms": Net(
        (3, 2, 2),
        dim=2,
        kernel="gaussian",
        hidden="sigmoid",
        penalties=("w**2*r**2", {"rho": "r**3", "scale": 0.5, "reduce": "mean"}),
    ),
}


def family_params(net, seed=0):
    rng = np.random.default_rng(seed)
    P = random_params(net, seed)
    if net.free:
        P.theta = [rng.uniform(-1.5, 1.5, (net.widths[l + 1], net.widths[l])) for l in range(net.L - 1)]
    return P


@pytest.mark.parametrize("name", sorted(FAMILY))
def test_every_engine_matches_the_symbolic_truth(name):
    from numeric.compare import check_gradients

    net = FAMILY[name]
    P, (X, Y) = family_params(net), random_data(net)
    truth = symbolic.gradients(net, P, X, Y)
    assert (truth.dtheta is not None) == net.free
    for e in ENGINES.values():
        if e.name == "symbolic" or not e.available()[0]:
            continue
        g = e.gradients(net, P, X, Y)
        findings = check_gradients(g, truth, dtype=e.dtype, engine=e.name)
        assert {f.quantity for f in findings} >= {"loss", "dW", "dZ", "dX"} | ({"dtheta"} if net.free else set())
        assert all(f.ok for f in findings), [f.describe() for f in findings if not f.ok]


@pytest.mark.parametrize("name", sorted(FAMILY))
def test_hvp_matches_the_exact_hessian(name):
    from numeric import autograd, manual

    net = FAMILY[name]
    P, (X, Y) = family_params(net), random_data(net)
    H = symbolic.hessian(net, P, X, Y)
    assert np.allclose(H, H.T, rtol=0, atol=1e-12 * np.abs(H).max())
    v = np.random.default_rng(3).normal(size=H.shape[0])
    exact = H @ v
    for hv in (manual.hvp(net, P, X, Y, v), autograd.hvp(net, P, X, Y, v), symbolic.hvp(net, P, X, Y, v)):
        np.testing.assert_allclose(hv, exact, rtol=0, atol=1e-10 * np.abs(exact).max())


@pytest.mark.parametrize("name", sorted(FAMILY))
def test_penalties_keep_the_rigid_motion_identities(name):
    from numeric import manual
    from numeric.compare import rotation_asymmetry, translation_residual

    net = FAMILY[name]
    P, (X, Y) = family_params(net), random_data(net)
    g = manual.gradients(net, P, X, Y)
    assert translation_residual(g.dZ) < 1e-12
    assert rotation_asymmetry(P.Z, g.dZ) < 1e-12
    # and the objective itself is unchanged by a rotation and a shift of every node
    c, s = np.cos(0.7), np.sin(0.7)
    A = np.array([[c, -s], [s, c]]) if net.dim == 2 else np.eye(net.dim)[[1, 2, 0]]
    moved = Params(Z=[z @ A.T + 0.3 for z in P.Z], b=P.b, theta=P.theta)
    assert manual.gradients(net, moved, X, Y).loss == pytest.approx(g.loss, rel=1e-13)


def test_penalty_changes_the_objective_by_its_value():
    from numeric import manual

    plain = Net((2, 3, 1), dim=2, kernel="gaussian")
    pen = Net((2, 3, 1), dim=2, kernel="gaussian", penalties=({"rho": "r", "reduce": "mean", "scale": 2.0},))
    P, (X, Y) = random_params(plain), random_data(plain)
    R = [np.linalg.norm(P.Z[l + 1][:, None] - P.Z[l][None], axis=-1) for l in range(2)]
    expected = 2.0 * sum(r.sum() for r in R) / sum(r.size for r in R)
    assert manual.gradients(pen, P, X, Y).loss - manual.gradients(plain, P, X, Y).loss == pytest.approx(expected)


def test_coincident_nodes_under_a_penalty_without_gradient_are_refused_by_every_engine():
    from derive import SpecError

    net = FAMILY["free_mlp_wiring"]
    P, (X, Y) = family_params(net), random_data(net)
    P.Z[1][0] = P.Z[0][1]
    for e in ENGINES.values():
        if not e.available()[0]:
            continue
        with pytest.raises(SpecError, match="coincide.*abs\\(w\\)\\*r"):
            e.gradients(net, P, X, Y)


def test_coincident_nodes_under_a_smooth_penalty_agree_with_the_truth():
    from numeric import autograd, manual
    from numeric.compare import check_gradients

    net = Net((2, 3, 1), dim=2, kernel="gaussian", amplitudes="free", penalties=("w**2*r**2 + r**4",))
    from derive.primitives.penalty import Penalty

    assert Penalty("w**2*r**2 + r**4").gradient_at_0 and not Penalty("abs(w)*r").gradient_at_0
    P, (X, Y) = family_params(net), random_data(net)
    P.Z[1][0] = P.Z[0][1]
    truth = symbolic.gradients(net, P, X, Y)
    for g in (manual.gradients(net, P, X, Y), autograd.gradients(net, P, X, Y)):
        assert all(f.ok for f in check_gradients(g, truth))
    H = symbolic.hessian(net, P, X, Y)
    np.testing.assert_allclose(autograd.hessian(net, P, X, Y), H, rtol=0, atol=1e-10 * np.abs(H).max())


def test_bad_family_specs_are_one_line_errors():
    from derive import SpecError

    with pytest.raises(SpecError, match="amplitudes"):
        Net((2, 1), kernel="1")
    with pytest.raises(SpecError, match="amplitudes 'fre'"):
        Net((2, 1), amplitudes="fre")
    with pytest.raises(SpecError, match="reduce"):
        Net((2, 1), penalties=({"rho": "r", "reduce": "max"},))
    with pytest.raises(SpecError, match="layer 4"):
        Net((2, 2, 1), penalties=({"rho": "r", "layers": [4]},))
    with pytest.raises(SpecError, match="needs a value for q; pass --penalty-param q=VALUE"):
        Net((2, 1), penalties=("(r - q)**2",))
    with pytest.raises(SpecError, match="theta"):
        from numeric import manual

        net = Net((2, 1), dim=2, amplitudes="free")
        manual.gradients(net, random_params(net), *random_data(net))
    assert hash(FAMILY["two_terms"]) == hash(
        Net(
            (3, 2, 2),
            dim=2,
            kernel="gaussian",
            hidden="sigmoid",
            penalties=("w**2*r**2", {"rho": "r**3", "scale": 0.5, "reduce": "mean"}),
        )
    )


# -- presets and the spec -------------------------------------------------------------------------
PRESETS = sorted(p.stem for p in (REPO / "presets").glob("*.toml"))


def _preset(name):
    from derivcheck.netspec import load_net
    from numeric.draws import draw_case

    spec = load_net(REPO / "presets" / f"{name}.toml")
    return draw_case(spec.net, np.random.default_rng(spec.data.seed), batch=spec.data.batch)


def test_the_four_presets_ship():
    assert PRESETS == ["bimt", "note", "notebook_tanh_penalty", "serrn_wiring"]


@pytest.mark.parametrize("name", PRESETS)
def test_preset_through_every_engine_identities_and_hvp(name):
    from numeric.compare import check_gradients, rotation_asymmetry, translation_residual

    case = _preset(name)
    net, P, X, Y = case.net, case.params, case.X, case.Y
    truth = symbolic.gradients(net, P, X, Y)
    for e in ENGINES.values():
        if e.name == "symbolic" or not e.available()[0]:
            continue
        g = e.gradients(net, P, X, Y)
        findings = check_gradients(g, truth, dtype=e.dtype, engine=e.name)
        assert all(f.ok for f in findings), [f.describe() for f in findings if not f.ok]
        if e.dtype == np.float64:
            assert translation_residual(g.dZ) < 1e-12 and rotation_asymmetry(P.Z, g.dZ) < 1e-12
        if e.hvp is not None and e.dtype == np.float64:
            v = np.random.default_rng(5).normal(size=truth.flat().size)
            exact = symbolic.hvp(net, P, X, Y, v)
            np.testing.assert_allclose(e.hvp(net, P, X, Y, v), exact, rtol=0, atol=1e-9 * np.abs(exact).max())


@pytest.mark.parametrize("name", PRESETS)
def test_preset_passes_verify_case(name):
    from derivcheck import verify

    case = _preset(name)
    rec = verify.run_case(verify.Case(case.net, case.params, case.X, case.Y, id="p", seed=0), verify.CHECKS)
    assert rec["pass"], rec["failures"]


def test_flags_build_the_same_net_as_the_spec_file():
    import argparse

    from derivcheck.netspec import add_net_arguments, load_net, net_flags, net_from_args

    parser = argparse.ArgumentParser()
    add_net_arguments(parser)
    path = REPO / "presets" / "notebook_tanh_penalty.toml"
    from_file = load_net(path).net
    args = parser.parse_args(
        [
            "--widths",
            "3,4,2",
            "--dim",
            "3",
            "--kernel",
            "tanh(r)",
            "--loss",
            "mse_half",
            "--penalty",
            "(s*(r-q0))**2",
            "--penalty-param",
            "s=6.1",
            "--penalty-param",
            "q0=0.433",
        ]
    )
    assert net_from_args(args).net == from_file
    again = parser.parse_args(__import__("shlex").split(net_flags(from_file)))
    assert net_from_args(again).net == from_file
    two = parser.parse_args(
        [
            "--widths",
            "2,3,1",
            "--amplitudes",
            "free",
            "--kernel",
            "1",
            "--penalty",
            "abs(w)*r",
            "--penalty",
            "r**2",
            "--penalty-scale",
            "0.01",
            "--penalty-reduce",
            "mean",
        ]
    )
    net = net_from_args(two).net
    assert net.free and [(p.rho, p.scale, p.reduce) for p in net.penalties] == [("abs(w)*r", 0.01, "mean"), ("r**2", 0.01, "mean")]
    assert net_from_args(parser.parse_args(__import__("shlex").split(net_flags(net)))).net == net


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[network.penalty]]\nrho = "r"\nscal = 1.0', "unknown key 'scal'.*did you mean 'scale'"),
        ("[[network.penalty]]\nscale = 1.0", "has no rho"),
        ('[[network.penalty]]\nrho = "(r - q)**2"\nparams = { q = 1.0, t = 2.0 }', "parameter t is not used"),
        ('[[network.penalty]]\nrho = "r"\nreduce = "max"', "reduce"),
        ('amplitudes = "fre"', "amplitudes 'fre'"),
    ],
)
def test_bad_penalty_tables_are_one_line_errors(tmp_path, text, message):
    from derivcheck.netspec import load_net
    from derive import SpecError

    f = tmp_path / "net.toml"
    head, _, rest = text.partition("[[network.penalty]]")
    f.write_text(f"[network]\nwidths = [2, 2]\n{head}\n" + (f"[[network.penalty]]{rest}\n" if rest or _ else ""))
    with pytest.raises(SpecError, match=message) as exc:
        load_net(f)
    assert "\n" not in str(exc.value)


def test_readme_model_section_states_the_equations_and_its_spec_loads(tmp_path):
    import re

    from derivcheck.netspec import load_net

    text = (REPO / "README.md").read_text()
    model = text.split("## Model", 1)[1].split("\n## ", 1)[0]
    for eq in ("W^l_ij = theta^l_ij g(r^l_ij)", "dJ/dtheta_l = dJ/dW_l * g(R_l)", "1/(2 B K)", "G_l         = (dJ/dr)_l / R_l"):
        assert eq in model
    spec = re.search(r"```\n(\[network\].*?)```", model, re.S)
    assert spec is not None
    f = tmp_path / "net.toml"
    f.write_text(spec.group(1))
    net = load_net(f).net
    assert net.loss == "mse_half" and net.penalties[0].rho == "(s*(r-q0))**2"


@pytest.mark.parametrize(
    "net",
    [
        Net((2, 2, 1), dim=2, kernel="gaussian", amplitudes="free", penalties=({"rho": "abs(w)*r", "reduce": "mean"},)),
        Net(
            (1, 2, 1),
            dim=2,
            kernel="tanh(r)",
            loss="mse_half",
            penalties=({"rho": "(s*(r-q0))**2", "params": {"s": 6.1, "q0": 0.433}},),
        ),
    ],
    ids=["wiring", "distance"],
)
def test_flat_route_agrees_with_the_program(net):
    import sympy as sp

    P, (X, Y) = family_params(net), random_data(net, batch=1)
    fl, grads = symbolic.flat_gradient(net, batch=1)
    f = sp.lambdify([*fl.leaves, *fl.x, *fl.y], [fl.expr, *grads], "numpy", cse=True)
    values = [*(v for z in P.Z for v in z.reshape(-1)), *(v for t in (P.theta or []) for v in t.reshape(-1))]
    out = f(*values, *X.reshape(-1), *Y.reshape(-1))
    truth = symbolic.gradients(net, P, X, Y)
    assert float(out[0]) == pytest.approx(truth.loss, rel=1e-12)
    np.testing.assert_allclose(np.array(out[1:], dtype=float), truth.flat(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "net",
    [
        Net((3, 40, 30, 2), dim=2, kernel="gaussian", penalties=("w**2*r**2", {"rho": "r**3", "scale": 0.5, "reduce": "mean"})),
        Net(
            (3, 40, 30, 2),
            dim=3,
            kernel="tanh(r)",
            penalties=({"rho": "(s*(r-q0))**2", "params": {"s": 6.1, "q0": 0.433}, "layers": [3]},),
        ),
        Net((3, 40, 30, 2), dim=3, kernel="inverse_quadratic", penalties=({"rho": "(r - q)**2*w**2", "params": {"q": 1.5}},)),
    ],
    ids=["gaussian_two_terms", "tanh_layer3", "inverse_quadratic_w"],
)
def test_fast_route_fuses_penalties_and_agrees_with_the_reference(net):
    from numeric.manual import fast, penalty, reference

    assert penalty.fused_ok(net)
    P, (X, Y) = random_params(net), random_data(net)
    assert fast.forward(net, P, X, Y, lean=True).lean
    g, r = fast.gradients(net, P, X, Y), reference.gradients(net, P, X, Y)
    assert g.loss == pytest.approx(r.loss, rel=1e-13)
    np.testing.assert_allclose(g.flat(), r.flat(), rtol=0, atol=1e-12 * np.abs(r.flat()).max())
    for a, b in zip(g.dW, r.dW, strict=True):  # dJ/dW, the penalties' rho_w included
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12 * np.abs(b).max())


@pytest.mark.parametrize("name", ["free_mlp_wiring", "distance_penalty"])
def test_derivation_proves_the_widened_formulas_for_the_family(name):
    """(C) with e_ij = (dL/dW + P_w) theta g' + P_r and (T) dJ/dtheta = (dL/dW + P_w) g equal the exact
    derivatives of J = L + penalties, for every coordinate and amplitude."""
    d = symbolic.derivation(FAMILY[name])
    assert d.n_checked() == FAMILY[name].n_coords + sum(len(T) for T in d.thetas)
    assert d.proof_eq8("a") is True


@pytest.mark.parametrize("part", [0, 1])  # P_r (the coordinates' term), P_w (the weights' term)
def test_derivation_disproves_a_penalty_gradient_at_half_its_value(part, monkeypatch):
    from derive.symbolic.proof import Derivation

    true = Derivation.penalty_partials

    def half(self, l):
        parts = list(true(self, l))
        parts[part] = parts[part] / 2
        return tuple(parts)

    monkeypatch.setattr(Derivation, "penalty_partials", half)
    assert symbolic.derivation(FAMILY["free_mlp_wiring"]).proof_eq8("a") is False


def test_derivation_of_the_family_separates_loss_and_penalty():
    net = FAMILY["distance_penalty"]
    d = symbolic.derivation(net)
    data = {s for M in (d.flat.x, d.flat.y) for s in M}
    assert d.penalty.free_symbols and not d.penalty.free_symbols & data  # distances only
    assert d.data_loss.free_symbols & data and d.dtheta == [] and d.dtheta_formula() == []
    # the penalty at one point: sum over the 9 edges of (6.1 (r - 0.433))^2, by hand
    Z = [np.arange(n * 3).reshape(n, 3) / 7.0 for n in net.widths]
    at = {s: v for M, Zl in zip(d.flat.params, Z) for s, v in zip(M, Zl.ravel())}
    r = [np.linalg.norm(Z[l][:, None] - Z[l - 1][None], axis=2) for l in (1, 2)]
    want = sum(float(((6.1 * (rl - 0.433)) ** 2).sum()) for rl in r)
    assert float(d.penalty.xreplace(at)) == pytest.approx(want, rel=1e-14)


def test_derivation_out_of_time_is_undecided_not_disproved(monkeypatch, tmp_path, capsys):
    """A proof that runs out of budget says "undecided" (report and exit 1), never "disproved"."""
    import derive.decide
    import derive.symbolic.proof
    from derivcheck import cli
    from derive.step_limits import budget

    monkeypatch.setattr(derive.symbolic.proof, "_expands_to_zero", lambda e: False)  # as without symengine
    with budget(0):
        assert symbolic.derivation(FAMILY["free_mlp_wiring"]).proof_eq8("a") is None
    flags = ["--widths", "2,1", "--dim", "1", "--amplitudes", "free", "--penalty", "abs(w)*r", "--no-pdf"]
    with monkeypatch.context() as m:  # every expansion and simplification out of time
        m.setattr(derive.decide, "_zero_form", lambda e: False)
        rc = cli.main(["report", "--which", "derivation", *flags, "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 1 and "formula (C) and (T) against the exact gradient: undecided" in out
    tex = (tmp_path / "derivation.tex").read_text()
    assert "UNDECIDED" in tex and "disproved" not in tex and "NOT equal" not in tex
    rc = cli.main(["report", "--which", "derivation", *flags, "--out", str(tmp_path)])
    assert rc == 0 and "against the exact gradient: proved" in capsys.readouterr().out


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"rho": "(s*r)**2"}, "penalty '(s*r)**2' needs a value for s; pass --penalty-param s=VALUE"),
        ({"rho": "(s*r)**2", "params": {"s": float("nan")}}, "penalty parameter s=nan is not a finite number"),
        ({"rho": "(s*r)**2", "params": {"s": float("inf")}}, "penalty parameter s=inf is not a finite number"),
    ],
)
def test_penalty_parameters_missing_or_not_finite_are_one_line_errors(spec, message):
    from derive import SpecError
    from derive.primitives.penalty import Penalty

    with pytest.raises(SpecError) as exc:
        Penalty(**spec)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_derivation_proves_the_formulas_in_one_dimension():
    """In D = 1, r = |z - z'| and the exact side has sign(z - z') where the formula has (z - z')/r: equal
    wherever r > 0, so proved (once reported "disproved", then "undecided")."""
    assert symbolic.derivation(Net((2, 2, 1), dim=1, kernel="gaussian", hidden="tanh")).proof_eq8("a") is True
    assert symbolic.derivation(Net((2, 1), dim=1, amplitudes="free", penalties=("abs(w)*r",))).proof_eq8("a") is True


def test_derivation_refuses_nets_beyond_its_size_budget():
    """It writes out and proves every entry: a big net is one line (exit 2), not a run of many minutes."""
    from derive import SpecError
    from derive.symbolic.proof import MAX_EDGES

    with pytest.raises(SpecError, match=f"has 400 edge terms, over the {MAX_EDGES}"):
        symbolic.derivation(Net((10, 20, 10), dim=1))
    symbolic.derivation(Net((6, 10, 5), dim=3))  # 110 edges: within the budget


def test_a_penalty_parameter_named_like_a_variable_is_one_line():
    from derive import SpecError
    from derive.primitives.penalty import Penalty

    with pytest.raises(SpecError, match="r is a variable of rho .* not a parameter"):
        Penalty("r**2", params={"r": 1.0})
