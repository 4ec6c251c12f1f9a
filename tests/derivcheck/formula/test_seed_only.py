"""Issue 22: the formula search draws and shrinks from its seed alone. Hypothesis mixes literal
constants from the source of every loaded local module into its draws (numeric.seeded says how): the
same `claims --only 000/eq8 --seed 0` shrank to widths (1, 1, 1, 1) or (1, 1, 1) as the project's
source or the modules loaded changed. Neither that nor torch's thread count moves a shrink now."""

import importlib
import sys

import catalog_grads as C  # tests/ is on sys.path
import pytest
import torch

import derivcheck
from derivcheck.claims.formulas import load_formulas
from derivcheck.formula import check_formula
from tests.helpers import REPO


@pytest.fixture(scope="module")
def eq8():
    (claim,) = [c for c in load_formulas(REPO / "claims/coordinate_note_000.py")[1] if c.id == "000/eq8"]
    return claim


def _search(claim):
    v = check_formula(claim, seed=0, prove=False)
    assert not v.holds and v.counterexample is not None
    ce = v.counterexample
    return ce.net, ce.params, ce.X, ce.Y, ce.message


@pytest.fixture
def threads():
    saved = torch.get_num_threads()
    yield
    torch.set_num_threads(saved)


def test_a_formula_shrink_is_the_same_under_1_and_2_torch_threads(eq8, threads):
    torch.set_num_threads(1)
    one = _search(eq8)
    torch.set_num_threads(2)
    assert _search(eq8) == one
    assert one[0].startswith("Net(widths=(1, 1, 1), D=1")  # the shrunk net, seed 0


def test_a_check_grad_shrink_is_the_same_under_1_and_2_torch_threads(threads):
    out = []
    for n in (1, 2):
        torch.set_num_threads(n)
        r = derivcheck.check_grad(C.h_for_a, C.NET, cases=4, seed=3)
        assert not r and r.shrunk is not None
        out.append((r.shrunk.net.widths, r.shrunk.X.tolist(), [z.tolist() for z in r.shrunk.params.Z], r.report()))
    assert out[0] == out[1]


def test_a_formula_shrink_ignores_constants_in_newly_loaded_source(eq8, tmp_path, monkeypatch):
    """A module loaded between two searches, full of literals in the drawn ranges, and hypothesis'
    constant cache emptied as in a fresh process: the same seed draws and shrinks the same case."""
    from hypothesis.internal.cache import LRUCache
    from hypothesis.internal.conjecture import providers

    before = _search(eq8)
    numbers = ", ".join(f"{k / 100:.2f}, {-k / 100:.2f}, {k / 7:.6f}" for k in range(1, 300))
    (tmp_path / "lots_of_constants.py").write_text(f"VALUES = [{numbers}, 1, 2, 3, 4]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("lots_of_constants")
    monkeypatch.setattr(providers, "CONSTANTS_CACHE", LRUCache(1024))
    try:
        assert _search(eq8) == before
    finally:
        sys.modules.pop("lots_of_constants", None)
