"""`--activations NAME` on an MLP applies NAME to every layer, as `MLP(activations="NAME")` does (the flag
refused it: '1 activations for 2 weighted layers'); a wrong count of several names is still one line."""

from __future__ import annotations

from derivcheck import cli
from derivcheck.netspec import net_from_args
from derivcheck.verify.args import add_arguments


def _net(*flags):
    import argparse

    p = argparse.ArgumentParser()
    add_arguments(p)
    return net_from_args(p.parse_args(list(flags))).net


def test_one_name_is_every_layer():
    net = _net("--kind", "mlp", "--widths", "3,4,4,2", "--activations", "sigmoid")
    assert net.activations == ("sigmoid", "sigmoid", "sigmoid")
    assert _net("--kind", "mlp", "--widths", "3,4,2", "--activations", "tanh, identity").activations == ("tanh", "identity")


def test_a_wrong_count_is_one_line(capsys):
    argv = ["verify", "--kind", "mlp", "--widths", "3,4,2", "--activations", "sigmoid,tanh,relu"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "3 activations for 2 weighted layers" in err and len(err.strip().splitlines()) <= 2
