"""The house by concept (issue 21), as checks that fail when it erodes: few top-level modules, no import
cycle between modules (type-only imports included), no re-export outside a package face, and the README's
Design block naming every module."""

import ast
import itertools
from pathlib import Path

from tests.helpers import REPO

PACKAGES = ("derive", "numeric", "derivcheck")


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for p in (REPO / pkg).rglob("*.py"):
            if "catalog" in p.parts or p.is_symlink():
                continue
            name = ".".join(p.relative_to(REPO).with_suffix("").parts)
            out[name.removesuffix(".__init__")] = p
    return out


def _imports(name: str, path: Path, mods: dict[str, Path]) -> set[str]:
    """Project modules `name` imports, anywhere in its body (inside functions and TYPE_CHECKING too)."""
    is_pkg = path.name == "__init__.py"
    found = set()
    for n in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(n, ast.Import):
            targets = [a.name for a in n.names]
        elif isinstance(n, ast.ImportFrom):
            base = n.module or ""
            if n.level:
                parts = (name if is_pkg else name.rsplit(".", 1)[0]).split(".")
                parts = parts[: len(parts) - (n.level - 1)]
                base = ".".join(parts) + ("." + n.module if n.module else "")
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in n.names]
        for t in targets:
            while t not in mods and "." in t:
                t = t.rsplit(".", 1)[0]
            if t in mods and t != name:
                found.add(t)
    return found


def test_top_levels_are_small():
    for pkg, most in (("derivcheck", 12), ("derive", 14), ("numeric", 14)):
        top = [p for p in (REPO / pkg).glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
        assert len(top) <= most, (pkg, sorted(p.name for p in top))


def test_no_import_cycles():
    """Tarjan's strongly connected components of the module graph: every one a single module. Lazy imports
    inside functions count: a cycle through them is a cycle of concepts."""
    mods = _modules()
    graph = {m: _imports(m, p, mods) for m, p in mods.items()}
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], itertools.count()

    def visit(v):
        index[v] = low[v] = next(counter)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            comps.append(comp)

    for v in graph:
        if v not in index:
            visit(v)
    cycles = [sorted(c) for c in comps if len(c) > 1]
    assert cycles == [], cycles


def test_no_reexports_outside_faces():
    """A module outside an __init__.py lists in __all__ only what it defines."""
    bad = {}
    for name, p in _modules().items():
        if p.name == "__init__.py":
            continue
        tree = ast.parse(p.read_text())
        defined, listed = set(), []
        for n in ast.walk(tree):
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defined.add(n.name)
            elif isinstance(n, (ast.Assign, ast.AnnAssign)):
                for tg in n.targets if isinstance(n, ast.Assign) else [n.target]:
                    defined |= {x.id for x in ast.walk(tg) if isinstance(x, ast.Name)}
                if isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in n.targets):
                    listed = ast.literal_eval(n.value)
        missing = [x for x in listed if x not in defined]
        if missing:
            bad[name] = missing
    assert bad == {}


def test_readme_design_names_every_module():
    text = (REPO / "README.md").read_text()
    design = text[text.index("## Design") : text.index("## Python API")]
    absent = [n for n, p in _modules().items() if p.stem not in ("__init__", "__main__") and p.stem not in design]
    assert absent == []


def test_test_file_names_are_unique():
    """The test folders have no __init__.py, so pytest imports each test file by its name alone: two files
    of one name (checkgrad's and claims' test_result.py) made it refuse to collect the second."""
    names = sorted(p.name for p in (REPO / "tests").rglob("test_*.py"))
    assert [n for n, g in itertools.groupby(names) if len(list(g)) > 1] == []
