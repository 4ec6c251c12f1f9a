"""derivcheck.guard: counts >= 1, the run-time estimate against the budget (refused before any work,
naming the flag that raises it), and input files read only when regular and small."""

from __future__ import annotations

import os

import pytest

from derivcheck import guard
from derive import SpecError


@pytest.fixture(autouse=True)
def _default_budget():
    guard.set_max_seconds(None)
    yield
    guard.set_max_seconds(None)


@pytest.mark.parametrize("count", [0, -3, True, 2.5])
def test_a_count_below_one_is_one_line_naming_the_flag(count):
    with pytest.raises(SpecError, match=r"--cases .* must be an integer >= 1"):
        guard.check_verify([2, 3, 1], 3, count)


def test_a_huge_count_is_refused_with_the_estimate_and_the_flag():
    with pytest.raises(SpecError, match=r"1000000000 cases .* estimated at .*days.*--max-seconds"):
        guard.check_verify([2, 3, 1], 3, 10**9)


@pytest.mark.parametrize("widths", [[3000, 3000], [2] * 500])
def test_a_huge_width_or_depth_is_refused(widths):
    with pytest.raises(SpecError, match="over the 30 min budget"):
        guard.check_verify(widths, 3, 20)
    with pytest.raises(SpecError, match="--max-seconds"):
        guard.check_train(widths, 128, 1280, "train") if widths[0] == 3000 else guard.check_verify(widths, 3, 20)


def test_check_grad_is_refused_where_its_ball_truth_would_not_fit_and_accepted_where_it_is_cheap():
    # 9e6 weights: ~40 min, and with the time budget raised, ~13 GiB of balls (over the 8 GiB budget)
    with pytest.raises(SpecError, match="over the 30 min budget"):
        guard.check_checkgrad([3000, 3000], 3, 20)
    guard.set_max_seconds(1e5)
    with pytest.raises(SpecError, match=r"ground truth of widths 3000,3000 needs about 1\d\.\d GiB, over the 8 GiB"):
        guard.check_checkgrad([3000, 3000], 3, 20)
    guard.set_max_seconds(None)
    # 500 layers of width 2 is a second per case of ball arithmetic, not hours: accepted
    assert guard.check_checkgrad([2] * 500, 3, 20) < 60
    # the sizes people train: 784-128-10 estimated within the minute the README states
    assert 20 < guard.check_checkgrad([784, 128, 10], 3, 25) < 60


def test_a_normal_run_is_accepted_and_the_model_fits_the_calibration():
    assert guard.check_verify([4, 8, 8, 2], 3, 20) < 60  # measured: 26 cases x 0.33 s
    assert guard.check_checkgrad([3, 4, 2], 3, 20) < 10
    assert guard.check_verify(None, 3, 20, 24) < 60
    assert guard.check_train([4, 8, 8, 2], 128, 1280, "train") < 60
    # within a factor of 2 of the measured seconds per case (module docstring)
    for widths, verify, checkgrad in [
        ([8, 16, 16, 4], 1.9, 0.029),
        ([16, 32, 32, 8], 18.4, 0.028),
        ([2, *[3] * 8, 1], 0.87, 0.012),
    ]:
        assert verify / 2 < guard.case_seconds("verify", widths) < verify * 2
        assert checkgrad / 2 < guard.case_seconds("check-grad", widths) < checkgrad * 2


def test_max_seconds_raises_the_budget_and_is_checked():
    guard.set_max_seconds(1e8)
    assert guard.check_verify([2, 3, 1], 3, 10**6) > 1800
    for bad in (0, -1, float("nan"), float("inf"), 1e20):
        with pytest.raises(SpecError, match="--max-seconds"):
            guard.set_max_seconds(bad)


def test_a_family_of_huge_widths_is_refused_without_overflow():
    with pytest.raises(SpecError, match="no budget covers it"):
        guard.check_checkgrad([3, 4, 2], 3, 20, ((2, 3), (1, 10**20)))


def test_only_regular_small_files_are_read(tmp_path):
    f = tmp_path / "net.toml"
    f.write_text("[network]\n")
    assert guard.read_input(f) == "[network]\n"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(SpecError, match="is a FIFO, not a regular file"):
        guard.read_input(fifo)  # refused by type: opening it would block
    with pytest.raises(SpecError, match="is a device"):
        guard.read_input("/dev/zero")
    with pytest.raises(SpecError, match="is a folder"):
        guard.read_input(tmp_path)
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * (guard.INPUT_BYTES + 1))
    with pytest.raises(SpecError, match="over the 1024 KiB limit"):
        guard.read_input(big)
