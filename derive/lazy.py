"""Package faces that load their names on first use (PEP 562): `lazy_names` builds the module-level
``__getattr__`` of a face from a table name -> submodule, so that importing the package (for
`derivcheck VERB --help`, or `derive.SpecError`) does not import SymPy, torch or the engines.

It lives in derive, the lowest package, so that every face (derive's own, derivcheck's verbs) shares it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(package: str, where: Mapping[str, str], *, submodules: bool = False) -> Callable[[str], Any]:
    """The ``__getattr__`` of the face `package`: a name in `where` is imported from
    ``package.<where[name]>`` on first use and then kept in the face, so later lookups are plain.

    Args:
        package: the face's ``__name__``.
        where: public name -> the submodule (relative to `package`) that defines it.
        submodules: also load any other public name that is a submodule of `package` as that module.

    >>> getattr_ = lazy_names("derive", {"SpecError": "errors"})
    >>> getattr_("SpecError").__name__
    'SpecError'
    """

    def __getattr__(name: str) -> Any:
        if name in where:
            value = getattr(importlib.import_module(f"{package}.{where[name]}"), name)
        elif submodules and not name.startswith("_") and importlib.util.find_spec(f"{package}.{name}") is not None:
            value = importlib.import_module(f"{package}.{name}")
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
