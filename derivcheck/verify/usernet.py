"""The cases of `derivcheck verify --net FILE` (or the network flags): the user's network over drawn
parameter sets and the adversarial ones.

Drawn cases: `numeric.draws.draw_case` with the spec's ``[data]`` ranges (coordinates or weights,
biases, inputs and loss-suited targets, 3 decimals). Adversarial cases (`numeric.draws.adversarial_cases`):
nearly coincident node pairs at separations 1e-3, 1e-5, 1e-7, exactly coincident nodes where phi(0) is
finite, saturated activations (|inputs| 30) and ReLU kinks (every hidden pre-activation 0). All come
from one generator seeded with ``--seed`` in a fixed order, so ``--only ID`` rebuilds the same case.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from derivcheck.netspec import NetSpec
from numeric.draws import Case, adversarial_cases, draw_case

__all__ = ["net_cases"]


def net_cases(spec: NetSpec, seed: int, count: int) -> list[Case]:
    """`count` drawn cases of spec.net (ids n000, n001, ...) then its adversarial cases (a00-near, ...)."""
    from derive import SpecError

    if count < 0:
        raise SpecError(f"--cases {count} is negative", "use a count >= 0 (default 20)")
    d = spec.data
    draw: dict[str, Any] = dict(
        batch=d.batch, coordinate_range=d.coordinate_range, input_range=d.input_range, weight_range=d.weight_range
    )
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        out.append(replace(draw_case(spec.net, rng, **draw), id=f"n{i:03d}", seed=seed))
    for j, c in enumerate(adversarial_cases(spec.net, rng, **draw)):
        sep = "" if not c.sep else f"-{c.sep:.0e}".replace("e-0", "e-")
        out.append(replace(c, id=f"a{j:02d}-{c.kind}{sep}", seed=seed))
    return out
