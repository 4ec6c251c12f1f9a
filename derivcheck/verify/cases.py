"""The cases of `derivcheck verify` without a network: the library matrix (every kernel x activation x
loss on a (2, 2, 2) net in D = 3, or with quick a covering set) and nets drawn by the public hypothesis
strategies, each a `numeric.draws.Case` with its id and the seed that drew it; `case_spec` is its
results.json "spec"."""

from __future__ import annotations

import itertools

import numpy as np

from derivcheck.netspec import net_table
from derive import ACTIVATIONS, KERNELS, LOSSES, Net, Params
from numeric.draws import Case

__all__ = ["case_spec", "matrix_cases", "drawn_cases", "ACTS", "LOSS_SPECS"]

ACTS = tuple(a if a != "leaky_relu" else "leaky_relu(alpha=0.1)" for a in ACTIVATIONS)
LOSS_SPECS = tuple(x if x != "huber" else "huber(delta=0.5)" for x in LOSSES)


def case_spec(case: Case) -> dict:
    """A verification case's results.json "spec": the net's [network] table and the batch, and for an
    adversarial case (verify --net) its kind ("draw") and the separation of its placed pair."""
    out = {**net_table(case.net), "batch": case.batch}
    return out if case.kind == "drawn" else {**out, "draw": case.kind, "separation": case.sep}


def _draw_case(case_id: str, net: Net, seed: int, batch: int = 2) -> Case:
    rng = np.random.default_rng(seed)
    Z = [np.round(rng.uniform(-1.2, 1.2, size=(n, net.dim)), 3) for n in net.widths]
    b = [np.round(rng.uniform(-0.5, 0.5, size=n), 3) for n in net.widths[1:]] if net.bias else None
    X = np.round(rng.uniform(-1.5, 1.5, size=(batch, net.widths[0])), 3)
    K = net.widths[-1]
    if net.loss == "bce":
        Y = np.round(rng.uniform(0.1, 0.9, size=(batch, K)), 3)
    elif net.loss == "softmax_ce":
        Y = rng.dirichlet(np.ones(K), size=batch)
    else:
        Y = np.round(rng.uniform(-1, 1, size=(batch, K)), 3)
    return Case(net, Params(Z=Z, b=b), X, Y, id=case_id, seed=seed)


def matrix_cases(seed: int, quick: bool = False) -> list[Case]:
    """Every kernel x activation x loss (or, with quick, a covering set: each appears at least once)."""
    combos = list(itertools.product(KERNELS, ACTS, LOSS_SPECS))
    if quick:
        n = max(len(KERNELS), len(ACTS), len(LOSS_SPECS))
        ks, acts, ls = list(KERNELS), list(ACTS), list(LOSS_SPECS)
        combos = [(ks[i % len(ks)], acts[i % len(acts)], ls[i % len(ls)]) for i in range(n)]
    cases = []
    for i, (k, act, loss) in enumerate(combos):
        out = "sigmoid" if loss == "bce" else "identity"
        net = Net((2, 2, 2), dim=3, kernel=k, hidden=act, output=out, loss=loss, bias=(i % 2 == 0))
        cases.append(_draw_case(f"m{i:03d}", net, seed * 100003 + i))
    return cases


def drawn_cases(seed: int, count: int) -> list[Case]:
    """`count` nets drawn by the public hypothesis strategies, reproducibly from `seed`."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hseed

    from numeric import strategies

    out: list[Case] = []
    if count == 0:
        return out

    @hseed(seed)
    @settings(max_examples=4 * count, database=None, deadline=None, derandomize=False, suppress_health_check=list(HealthCheck))
    @given(strategies.cases())
    def collect(case):
        if len(out) < count:
            net, params, X, Y = case
            out.append(Case(net, params, X, Y, id=f"h{len(out):03d}", seed=seed))

    from numeric.seeded import seed_only

    with seed_only():  # the draws depend on the seed alone, not on the project's loaded source
        collect()
    return out
