"""derive.primitives.penalty: a penalty parameter carries no sign assumption, and its fields take only what
they say (issue 22: `abs(s)` with s = -1 was read as -1 because s was a positive symbol)."""

import pytest
import sympy as sp

from derive import SpecError
from derive.parse import symbol
from derive.primitives.penalty import Penalty

R, W = symbol("r"), symbol("w")


@pytest.mark.parametrize("name", ["s", "c", "rc", "delta", "alpha", "q0"])
def test_abs_of_a_negative_parameter_is_its_magnitude(name):
    p = Penalty(f"abs({name})*w**2*r**2", params={name: -1})
    assert sp.simplify(p.expr - W**2 * R**2) == 0
    p = Penalty(f"{name}*w**2*r**2", params={name: -1})
    assert sp.simplify(p.expr + W**2 * R**2) == 0


@pytest.mark.parametrize(
    "kw, words",
    [
        (dict(scale=True), "scale True"),
        (dict(layers=[2.5]), "layers [2.5] are not integers"),
        (dict(layers=["2"]), "layers ['2'] are not integers"),
        (dict(layers=[True]), "are not integers"),
        (dict(layers="23"), "are not integers"),
    ],
)
def test_fields_are_refused_not_coerced(kw, words):
    with pytest.raises(SpecError, match=words.replace("[", r"\[").replace("]", r"\]")):
        Penalty("w**2*r**2", **kw)


def test_whole_number_layers_are_kept():
    assert Penalty("w**2*r**2", layers=[3, 2]).layers == (2, 3)
