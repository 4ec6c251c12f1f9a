"""Hypothesis profiles: `dev` (quick), `ci` (what make test runs), `thorough` (nightly)."""

import importlib
import os
import pkgutil

from hypothesis import HealthCheck, settings

import derivcheck
import derive
import numeric

# Hypothesis mixes constants found in the project's loaded modules into its draws (its "local
# constants"). A module imported lazily by one test would change the draws of the tests that run after
# it, so the same seed could draw different cases depending on test order and xdist's scheduling. Import
# every project module up front: the draws then depend on the commit only.
for _pkg in (derive, numeric, derivcheck):
    for _mod in pkgutil.walk_packages(_pkg.__path__, _pkg.__name__ + "."):
        if not _mod.name.endswith("__main__"):
            importlib.import_module(_mod.name)

_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=10, **_common)
settings.register_profile("ci", max_examples=25, derandomize=True, print_blob=True, **_common)
settings.register_profile("thorough", max_examples=300, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
