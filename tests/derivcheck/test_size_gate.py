"""One memory gate (numeric.validate.check_memory) before anything is allocated, in every verb that
draws cases: a size that would not fit is one line and exit 2, never a MemoryError or ValueError."""

from __future__ import annotations

import numpy as np
import pytest

from derive import MLP, Net, SpecError
from numeric.validate import check_memory, check_net_memory
from tests.hostile import assert_verdict_or_one_line

HUGE = [
    ["--widths", "100000,100000,2", "--dim", "3", "--kernel", "gaussian"],
    ["--widths", "3,4,2", "--dim", "100000"],
    ["--widths", "3,99999999999999999999,2", "--dim", "2"],
]

# a gradient function that records being called: the gate must refuse the size before fn runs
NEVER = """
CALLED = []
def grads(Z, X, Y):
    CALLED.append(1)
    raise RuntimeError("fn was called")
"""


@pytest.mark.parametrize("flags", HUGE, ids=["widths", "dim", "20-digit width"])
def test_verify_refuses_a_size_over_the_budget_in_one_line(flags, tmp_path):
    code, err = assert_verdict_or_one_line(["verify", *flags, "--out", "r.json"], tmp_path)
    assert code == 2 and "memory budget" in err


@pytest.mark.parametrize("flags", HUGE, ids=["widths", "dim", "20-digit width"])
def test_check_grad_refuses_a_size_before_calling_fn(flags, tmp_path):
    (tmp_path / "never.py").write_text(NEVER)
    code, err = assert_verdict_or_one_line(["check-grad", "never.py:grads", *flags], tmp_path)
    assert code == 2 and "memory budget" in err and "fn was called" not in err


def test_train_gates_a_net_file_too(tmp_path):
    net = '[network]\nkind = "spatial"\nwidths = [3, 100000, 100000, 2]\ndim = 2\nkernel = "gaussian"\n'
    (tmp_path / "big.toml").write_text(net)
    code, err = assert_verdict_or_one_line(["train", "--net", "big.toml", "--quiet"], tmp_path)
    assert code == 2 and "memory budget" in err


def test_the_estimate_counts_the_dimension():
    check_memory([3, 4, 2], dim=1000)  # small: passes
    with pytest.raises(SpecError, match=r"D = 100000 need about .* GiB, over the 8 GiB memory budget"):
        check_memory([3, 4, 2], dim=100000)  # the D x D basis alone is 75 GiB
    with pytest.raises(SpecError, match="memory budget"):
        check_memory([300, 3000, 2], dim=3000)  # the exact side's N_l x N_(l-1) x D differences


def test_a_twenty_digit_width_is_refused_not_overflowed():
    with pytest.raises(SpecError, match=r"need about [0-9.]+e\+\d+ GiB"):
        check_memory([3, 10**20, 2], dim=2)


def test_the_budget_variable_is_honoured_and_checked(monkeypatch):
    monkeypatch.setenv("DERIVCHECK_MEMORY_GB", "0.000001")
    with pytest.raises(SpecError, match="memory budget"):
        check_net_memory(Net((3, 40, 2), dim=2, kernel="gaussian"))
    with pytest.raises(SpecError, match="memory budget"):
        check_net_memory(MLP((3, 40, 2)), dtype=np.float32)
    monkeypatch.setenv("DERIVCHECK_MEMORY_GB", "lots")
    with pytest.raises(SpecError, match="DERIVCHECK_MEMORY_GB='lots' is not a number"):
        check_memory([3, 4, 2])


@pytest.mark.parametrize("flags", HUGE[:2], ids=["widths", "dim"])
def test_audit_kernel_gates_its_network_too(flags, tmp_path):
    """audit-kernel runs its engines_agree check on the net: a size over the budget is one line (u2
    finding N2: an 84-line traceback)."""
    code, err = assert_verdict_or_one_line(["audit-kernel", "gaussian", *flags[:4]], tmp_path)
    assert code == 2 and "memory budget" in err


@pytest.mark.parametrize(
    "flags, what",
    [(["--widths", "3,4,2", "--dim", "100000"], "900000 coordinates"), (["--widths", "2,2,1", "--dim", "40"], "200 coordinates")],
)
def test_the_derivation_report_refuses_many_coordinates_at_once(flags, what, tmp_path):
    """A derivation proves every coordinate's formula: D = 40 ran past 90 s, D = 100000 hung (u2 N3)."""
    code, err = assert_verdict_or_one_line(["report", "--which", "derivation", *flags, "--no-pdf", "--out", "o"], tmp_path)
    assert code == 2 and what in err and "over the 64" in err
