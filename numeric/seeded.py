"""Hypothesis draws that depend only on the seed (and the strategy): `seed_only`.

Hypothesis (6.131 and later) mixes into its draws, with probability 0.05 each, literal constants it
scans from the source of every *local* module in sys.modules (not site-packages, not the stdlib), cached
per choice type at the first draw that needs one. So the same `find(..., random=Random(seed))` drew and
shrank differently when the project's source changed anywhere, when another module had been imported
first (a test session, a torch version that imports lazily), or when a module came in mid-run:
`derivcheck claims --only 000/eq8 --seed 0` shrank to widths (1, 1, 1, 1) or (1, 1, 1) depending on
that. Inside `seed_only()` the local constants are empty and the constant cache is fresh, so the draws
are a function of the seed and the strategy (and hypothesis' own fixed constants) alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["seed_only"]


@contextmanager
def seed_only() -> Iterator[None]:
    """Hypothesis draws inside the block ignore the project's source constants (see the module doc);
    a hypothesis without them (before 6.131) is left as it is."""
    try:
        from hypothesis.internal.cache import LRUCache
        from hypothesis.internal.conjecture import providers as P
        from hypothesis.internal.constants_ast import Constants
    except ImportError:  # pragma: no cover - no local constants in this hypothesis
        yield
        return
    get, cache = getattr(P, "_get_local_constants", None), getattr(P, "CONSTANTS_CACHE", None)
    if get is None or cache is None:  # pragma: no cover
        yield
        return
    P._get_local_constants = Constants  # an empty set of constants, looked up at each provider
    P.CONSTANTS_CACHE = LRUCache(getattr(cache, "max_size", 1024))  # no entry cached with local ones
    try:
        yield
    finally:
        P._get_local_constants, P.CONSTANTS_CACHE = get, cache
