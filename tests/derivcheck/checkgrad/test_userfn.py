"""derivcheck.checkgrad.userfn: what the user's code does that is not an answer is refused in one line,
exit 2, never judged (issue 22: sys.exit(0) at import ended check-grad with exit 0 and no verdict; complex
gradients were cast to real and passed). A NaN is an answer, and a wrong one: judged, exit 1."""

import pytest

from derivcheck import cli
from tests.helpers import REPO, USER_PRELUDE

NET = str(REPO / "examples" / "my_net.toml")

GOOD = USER_PRELUDE

BODIES = {
    "exit_at_import": ("import sys\nsys.exit(0)\ndef grad(Z, X, Y):\n    return Z\n", "called sys.exit(0)"),
    "exit_in_fn": (GOOD + "def grad(Z, X, Y):\n    raise SystemExit(0)\n", "called sys.exit(0)"),
    "complex": (GOOD + "def grad(Z, X, Y):\n    return [a + 1e-3j for a in _dz(Z, X, Y)]\n", "complex values"),
    "complex_zero_imag": (GOOD + "def grad(Z, X, Y):\n    return [a + 0j for a in _dz(Z, X, Y)]\n", "complex values"),
    "object": (GOOD + "def grad(Z, X, Y):\n    return [np.array([object()]) for a in Z]\n", "not an array"),
}


@pytest.mark.parametrize("kind", sorted(BODIES))
def test_not_an_answer_is_one_line_and_exit_2(tmp_path, capsys, kind):
    body, words = BODIES[kind]
    path = tmp_path / f"user_{kind}.py"
    path.write_text(body)
    code = cli.main(["check-grad", f"{path}:grad", "--net", NET, "--cases", "2"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert words in err and len(err.strip().splitlines()) == 1, err


def test_the_same_code_with_real_finite_values_is_judged(tmp_path, capsys):
    path = tmp_path / "user_ok.py"
    path.write_text(GOOD + "def grad(Z, X, Y):\n    return _dz(Z, X, Y)\n")
    assert cli.main(["check-grad", f"{path}:grad", "--net", NET, "--cases", "2"]) == 0, capsys.readouterr()


def test_a_nan_entry_is_judged_wrong_not_refused(tmp_path, capsys):
    path = tmp_path / "user_nan.py"
    path.write_text(GOOD + "def grad(Z, X, Y):\n    d = _dz(Z, X, Y)\n    d[1][0, 0] = np.nan\n    return d\n")
    assert cli.main(["check-grad", f"{path}:grad", "--net", NET, "--cases", "2"]) == 1, capsys.readouterr()
