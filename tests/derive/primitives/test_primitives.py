import numpy as np
import pytest
import sympy as sp
import torch

from derive import ACTIVATIONS, KERNELS, Net, activation, compile_net, kernel
from derive.primitives import R, X


@pytest.mark.parametrize("name", list(KERNELS))
def test_phi_is_g_prime_over_r(name):
    k = kernel(name)
    for r in (sp.Rational(1, 3), sp.Rational(7, 5)):
        assert sp.simplify(k.phi.subs(R, r) - (k.dg / R).subs(R, r)) == 0


def test_phi_limits_at_zero():
    assert kernel("gaussian").phi0 == -2 and kernel("gaussian").dg0 == 0
    assert kernel("exponential").dg0 == -1 and kernel("exponential").phi0 == -sp.oo
    assert kernel("cosine_cutoff").phi0 == -(sp.pi**2) / 8
    for name in KERNELS:
        k = kernel(name)
        if k.dg0 == 0:  # phi(0) = g''(0) when g'(0) = 0
            assert sp.simplify(k.phi0 - k.d2g0) == 0


def test_relu_convention_matches_torch_at_zero():
    x = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    torch.relu(x).sum().backward()
    fprime = compile_net(Net((1, 1), hidden="relu", output="relu"), "numpy").df[0]
    assert np.all(fprime(np.zeros(3)) == x.grad.numpy()) and np.all(x.grad.numpy() == 0)
    assert activation("leaky_relu(alpha=0.1)").deriv.subs(X, 0) == sp.Rational(1, 10)


@pytest.mark.parametrize("name", [n if n != "leaky_relu" else "leaky_relu(0.2)" for n in ACTIVATIONS])
def test_numpy_and_torch_forms_come_from_one_definition(name):
    xs = np.linspace(-3, 3, 13)
    net = Net((1, 1), hidden=name, output=name)
    cn, ct = compile_net(net, "numpy"), compile_net(net, "torch")
    t = torch.tensor(xs, requires_grad=True)
    np.testing.assert_allclose(cn.f[0](xs), ct.f[0](t).detach().numpy(), rtol=1e-14, atol=1e-15)
    # torch autograd of the torch form equals the SymPy derivative's numpy form (away from kinks)
    (g,) = torch.autograd.grad(ct.f[0](t).sum(), t)
    np.testing.assert_allclose(cn.df[0](xs), g.numpy(), rtol=1e-12, atol=1e-14)
    exact = [float(activation(name).deriv.subs(X, sp.Rational(str(v)))) for v in xs]
    np.testing.assert_allclose(cn.df[0](xs), exact, rtol=1e-13, atol=1e-15)


def test_phi_is_stable_near_a_compact_support_edge():
    """Regression (found by derivcheck verify, case m229): an expanded polynomial phi cancels
    catastrophically near r = s; the factored form keeps float32 phi accurate to a few ulps."""
    c = compile_net(Net((1, 1), kernel="wendland_c2"), "numpy")
    r = np.float32(1.999)
    exact = float(kernel("wendland_c2").phi.subs(R, sp.Rational(float(r))))  # at the float32 value itself
    assert abs(float(c.phi(np.array([r]))[0]) - exact) <= 1e-5 * abs(exact)


# -- coincident nodes: the kernel's own properties (every decision about r = 0 reads these) ---------
@pytest.mark.parametrize(
    "name, grad, hess",
    [
        ("gaussian", True, True),
        ("exponential", False, False),
        ("inverse_quadratic", True, True),
        ("inverse_multiquadric", True, True),
        ("wendland_c2", True, True),
        ("cosine_cutoff", True, True),
    ],
)
def test_coincidence_properties_of_library_kernels(name, grad, hess):
    k = kernel(name)
    assert k.gradient_at_0 is grad and k.hessian_at_0 is hess and k.phi0_finite is grad
    if hess:  # the Hessian tends to phi(0) I: radial and tangential eigenvalues agree
        assert sp.simplify(k.d2g0 - k.phi0) == 0


def test_gaussian_limits_follow_its_width():
    k = kernel("gaussian", (("s", 0.5),))
    assert k.g0 == 1 and k.dg0 == 0 and k.phi0 == -8 and k.d2g0 == -8  # phi(0) = -2/s^2
    assert k.psi0 == 64  # phi = -2/s^2 exp(-r^2/s^2): psi = phi'/r -> 4/s^4
    assert k.gradient_at_0 and k.hessian_at_0


def test_exponential_has_no_gradient_at_coincidence():
    k = kernel("exp(-r)")
    assert k.dg0 == -1 and not k.gradient_at_0 and not k.phi0_finite and not k.hessian_at_0


def test_wendland_is_c2_but_not_c3_at_coincidence():
    k = kernel("wendland_c2")  # s = 2: g''(0) = phi(0) = -5, psi(0) is infinite (g'''(0+) != 0)
    assert k.d2g0 == -5 and k.phi0 == -5 and k.hessian_at_0
    assert not k.psi0.is_finite


def test_gradient_without_hessian_at_coincidence():
    # g = 1 + r^2 log r: g'(0+) = 0 but phi = 2 log r + 1 -> -oo, so engines refuse coincident nodes
    k = kernel("1 + r**2*log(r)")
    assert k.gradient_at_0 and not k.phi0_finite and not k.hessian_at_0


def test_removable_kernel_value_at_coincidence_is_the_limit():
    assert kernel("sin(r)/r").g0 == 1


def test_one_coincidence_error_names_the_reason():
    from derive.errors import coincidence_error

    e = str(coincidence_error(kernel("exponential"), "node 1 of layer 2 and node 2 of layer 1"))
    assert "g'(0) = -1" in e and "dL/dz is undefined" in e and len(e.splitlines()) == 1
    assert "phi(0+) = -oo" in str(coincidence_error(kernel("1 + r**2*log(r)"), "two nodes"))
    assert "the Hessian" in str(coincidence_error(kernel("exponential"), "two nodes", order=2))
