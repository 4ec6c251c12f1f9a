"""examples/neurons.py (issue 23.4): object-per-neuron code checked through under 10 lines of glue; the
README's commands exit as their comments say, the buggy variant is caught and diagnosed."""

import inspect
import re
import shlex

from derivcheck import cli
from tests.helpers import REPO


def _recipe_commands():
    text = (REPO / "README.md").read_text()
    section = text[text.index("### Object-per-neuron code") :]
    return [line for line in section.split("```sh\n")[1].split("```")[0].splitlines() if line.strip()]


def test_neurons_example_passes_and_its_bug_is_caught(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    commands = _recipe_commands()
    assert [shlex.split(c.partition("#")[0])[2] for c in commands] == ["examples/neurons.py:grad", "examples/neurons.py:grad_buggy"]
    for line in commands:
        command, _, comment = line.partition("#")
        expected = int(re.search(r"exit (\d)", comment).group(1))
        assert cli.main([*shlex.split(command)[1:], "--cases", "3"]) == expected, line
    out = capsys.readouterr().out
    assert "agrees with the ground truth on every case" in out
    assert "diagnosis: dZ: matches the truth without the forward term of eq. (8)" in out


def test_neurons_glue_is_under_10_lines_and_works_without_theta_or_b(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    monkeypatch.syspath_prepend(str(REPO))
    from examples import neurons

    body = inspect.getsource(neurons.build_and_run).split('"""')[2].strip().splitlines()
    assert len(body) < 10
    argv = ["check-grad", "examples/neurons.py:grad", "--widths", "2,3,1", "--dim", "3", "--kernel", "exp(-r**2/s**2)"]
    assert cli.main([*argv, "--param", "s=0.7", "--no-bias", "--cases", "2"]) == 0
