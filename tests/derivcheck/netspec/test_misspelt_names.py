"""A misspelt kernel, activation or loss name is one line naming the closest name (exit 2), not a
request for a parameter value ('kernel gausian needs a value for gausian') or a bare list."""

from __future__ import annotations

import pytest

from derivcheck import cli


@pytest.mark.parametrize(
    "flags, said",
    [
        (["--kernel", "gausian"], "unknown kernel 'gausian' (did you mean 'gaussian'?)"),
        (["--loss", "mes"], "unknown name 'mes' (did you mean 'mse'?)"),
        (["--hidden", "tahn"], "unknown name 'tahn' (did you mean 'tanh'?)"),
        (["--output", "sigmod"], "unknown name 'sigmod' (did you mean 'sigmoid'?)"),
    ],
)
def test_a_misspelt_name_says_the_closest_one(flags, said, capsys):
    assert cli.main(["verify", "--widths", "2,2", "--dim", "2", *flags]) == 2
    err = capsys.readouterr().err.replace("\n", " ")
    assert said in err and "Traceback" not in err and "needs a value" not in err


def test_a_name_far_from_every_kernel_lists_them():
    from derivcheck.netspec.read import _check_params_given
    from derive import SpecError

    with pytest.raises(SpecError, match="unknown kernel 'zzz'; use one of gaussian"):
        _check_params_given("zzz", {}, "the flags")
