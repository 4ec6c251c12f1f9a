"""The forward pass as a straight-line program of intermediate symbols, and exact symbolic
differentiation over it (reverse mode for the gradient, forward-over-reverse for the Hessian).

Why a program and not one expression: the flattened loss of a spatial net is a tree whose size
explodes with depth (MATH.md's W^l_ij = g(||z^l_i - z^(l-1)_j||) is reused by every later layer), and
`sympy.diff` on it redoes shared work for every coordinate. Here every intermediate (r2_ij, W_ij, h,
a, adjoints, tangents) is one named node, and the chain rule runs over the nodes:

* a node is either a *polynomial node* -- an exact sum of monomials ``c * s1 * s2 * ...`` of earlier
  names, with ``c`` an int or `fractions.Fraction` -- or a *primitive node* ``T(args)`` where ``T`` is a
  `Template`: a kernel, activation or loss expression defined once in SymPy (derive.primitives),
  whose partial derivatives are themselves templates, derived by SymPy (or SymEngine) once per net;
* the reverse sweep appends adjoint nodes (eq. "First order" of MATH.md falls out of it: the adjoint
  of W^l_ij is delta^l_i a^(l-1)_j summed over the batch);
* the Hessian is the forward-mode derivative (tangent) of the gradient program along each leaf e_k,
  propagated sparsely and only towards gradient entries m >= k (symmetry: each pair is derived once).

The program is already in common-subexpression form, so `lambdify_program` (derive.symbolic.codegen)
prints one assignment per node and compiles it in chunks; `Template` lives in derive.symbolic.template.
Nothing here introduces a float: coefficients are exact and floats appear only in the
generated code of a float target.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction

import sympy as sp

__all__ = ["Program"]

_INLINE_DEGREE = 3  # single-monomial values up to this degree stay inline (no node, no line of code)


@dataclass
class Program:
    """A straight-line program: leaves (inputs) and nodes in topological order.

    Node ``name`` is either ``("lin", [(coef, (names...)), ...])`` or ``("tmpl", (Template, (args...)))``.
    `labels` maps names to readable labels (``"W[2](1,0)"``) for reports.
    """

    leaves: list[str] = field(default_factory=list)
    nodes: dict[str, tuple] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    args: dict[str, tuple] = field(default_factory=dict)
    _cache: dict = field(default_factory=dict)
    _n: int = 0

    # -- construction ---------------------------------------------------------------------------
    def leaf(self, name: str) -> str:
        self.leaves.append(name)
        return name

    def _new(self, kind, data, label=None) -> str:
        name = f"t{self._n}"
        self._n += 1
        self.nodes[name] = (kind, data)
        self.args[name] = tuple({f for _, fs in data for f in fs}) if kind == "lin" else tuple(set(data[1]))
        if label:
            self.labels[name] = label
        return name

    def lin(self, terms, label=None, inline=True):
        """A polynomial node from monomials; returns a name, an exact constant, None (zero) or, for a
        single short monomial, the monomial itself ``(c, (names...))`` (kept inline in its consumers:
        most tangents are such products, and a line of generated code each would dominate codegen).

        Trivial results are not stored: a lone symbol is returned as an alias, a constant as a number.
        """
        if len(terms) == 1:
            c, fs = terms[0]
            mono = [(c, tuple(sorted(fs)) if len(fs) > 1 else fs)] if c else []
        else:
            acc: dict[tuple, object] = {}
            for c, fs in terms:
                if c:
                    key = tuple(sorted(fs)) if len(fs) > 1 else fs
                    acc[key] = acc.get(key, 0) + c
            mono = [(c, fs) for fs, c in acc.items() if c]
        if not mono:
            return None
        if len(mono) == 1:
            c, fs = mono[0]
            if not fs:
                return c
            if c == 1 and len(fs) == 1:
                return fs[0]
            if inline and len(fs) <= _INLINE_DEGREE:
                return (c, fs)
        key = ("lin", tuple(mono))
        if key in self._cache:
            return self._cache[key]
        name = self._new("lin", mono, label)
        self._cache[key] = name
        return name

    def tmpl(self, t, args, label=None):
        """A primitive node T(args) (deduplicated: the same call is one node)."""
        if isinstance(t, (int, Fraction)):
            return t or None
        args = tuple(self.materialize(a) for a in args)
        key = ("tmpl", id(t), tuple(args))
        if key in self._cache:
            return self._cache[key]
        name = self._new("tmpl", (t, tuple(args)), label)
        self._cache[key] = name
        self._cache.setdefault("_keep", []).append(t)  # keep id(t) alive
        return name

    def args_of(self, name) -> tuple:
        return self.args[name]

    def materialize(self, v):
        """A value as a name or constant (an inline monomial becomes a node)."""
        return self.lin([v], inline=False) if isinstance(v, tuple) else v

    # -- differentiation ------------------------------------------------------------------------
    def part_node(self, name, k):
        """The node (or constant, or None) of d(node)/d(arg k) for a primitive node."""
        t, args = self.nodes[name][1]
        if k not in t.diff_args:
            return None
        return self.tmpl(t.part(k), args)

    def reverse(self, output: str, wrt: list[str]) -> dict[str, object]:
        """Reverse-mode adjoints of `output`: {name: adjoint name/constant} for every node and leaf
        reached (MATH.md "First order" as a program transformation). Adjoint nodes are appended."""
        order = list(self.nodes)
        pos = {n: i for i, n in enumerate(order)}
        adj: dict[str, list] = defaultdict(list)
        adj[output].append((1, ()))
        bar: dict[str, object] = {}
        for v in reversed(order[: pos[output] + 1]):
            if v not in adj:
                continue
            bv = self.lin(adj.pop(v), label=f"bar {self.labels.get(v, v)}")
            bar[v] = bv
            if bv is None:
                continue
            kind, data = self.nodes[v]
            if kind == "lin":
                for c, fs in data:
                    for i, u in enumerate(fs):
                        adj[u].append(_times(c, fs[:i] + fs[i + 1 :], bv))
            else:
                for k, u in enumerate(data[1]):
                    p = self.part_node(v, k)
                    if p is not None:
                        adj[u].append(_times(1, (p,), bv) if isinstance(p, str) else _times(p, (), bv))
        for u in wrt:
            bar[u] = self.lin(adj.pop(u, []), label=f"bar {self.labels.get(u, u)}")
        for u in wrt:
            bar[u] = self.materialize(bar[u])
        return bar  # other adjoints may be inline monomials: `materialize` them to use as outputs

    def hessian(self, outputs: list, wrt: list[str]) -> list[list]:
        """Upper triangle of d outputs[m] / d wrt[k] for m >= k (outputs = the gradient w.r.t. wrt).

        Forward-mode tangents of the gradient program along e_k, sparse, and only through nodes that
        feed some output m >= k: each symmetric pair is derived once. Returns H[k] = list of
        entries for m = k..n-1 (names, constants or None for zero).
        """
        order = list(self.nodes)
        maxout: dict[str, int] = {}
        for m, o in enumerate(outputs):
            if isinstance(o, str):
                maxout[o] = max(maxout.get(o, -1), m)
        for v in reversed(order):
            mv = maxout.get(v)
            if mv is None:
                continue
            for u in self.args_of(v):
                if maxout.get(u, -1) < mv:
                    maxout[u] = mv
        rows = []
        active = [(v, *self.nodes[v], self.args[v]) for v in order if v in maxout]
        for k, leaf in enumerate(wrt):
            tan: dict[str, object] = {leaf: 1}
            active = [t for t in active if maxout[t[0]] >= k]
            for v, kind, data, vargs in active:
                for u in vargs:
                    if u in tan:
                        break
                else:
                    continue
                terms = []
                if kind == "lin":
                    for c, fs in data:
                        for i, f in enumerate(fs):
                            t = tan.get(f)
                            if t is not None:
                                terms.append(_times(c, fs[:i] + fs[i + 1 :], t))
                else:
                    for j, u in enumerate(data[1]):
                        t = tan.get(u)
                        if t is None:
                            continue
                        p = self.part_node(v, j)
                        if p is None:
                            continue
                        terms.append(_times(1, (p,), t) if isinstance(p, str) else _times(p, (), t))
                if terms:
                    tv = self.lin(terms, label=f"d{self.labels.get(v, v)}/d{leaf}")
                    if tv is not None:
                        tan[v] = tv
            rows.append([self.materialize(tan.get(o)) if isinstance(o, str) else None for o in outputs[k:]])
        return rows

    # -- export ---------------------------------------------------------------------------------
    def to_sympy(self, names, symbols: dict[str, sp.Symbol], expand: bool = False):
        """SymPy form of `names`: with ``expand=False`` each node is written in its direct arguments
        (a list of (Symbol, expr) assignments, i.e. a cse-form ``(replacements, exprs)``);
        with ``expand=True`` the full expression in the leaves (tiny nets only)."""
        memo: dict[str, sp.Expr] = {}
        sym = lambda n: symbols.get(n) or sp.Symbol(n, real=True)  # noqa: E731

        def node_expr(n, inner):
            kind, data = self.nodes[n]
            if kind == "lin":
                return sp.Add(
                    *[
                        sp.Rational(c.numerator, c.denominator) * sp.Mul(*[inner(f) for f in fs])
                        if isinstance(c, Fraction)
                        else c * sp.Mul(*[inner(f) for f in fs])
                        for c, fs in data
                    ]
                )
            t, args = data
            return t.expr.xreplace(dict(zip(t.args, [inner(a) for a in args])))

        if expand:

            def inner(n):
                if not isinstance(n, str):
                    return _sym_const(n)
                if n not in self.nodes:
                    return sym(n)
                if n not in memo:
                    memo[n] = node_expr(n, inner)
                return memo[n]

            return [inner(n) for n in names]
        need = self.live(names)
        repl = [(sym(n), node_expr(n, lambda a: sym(a) if isinstance(a, str) else _sym_const(a))) for n in need]
        return repl, [sym(n) if isinstance(n, str) else _sym_const(n) for n in names]

    def live(self, names) -> list[str]:
        """Nodes needed for `names`, in program order (dead-code elimination)."""
        seen, stack = set(), [n for n in names if isinstance(n, str) and n in self.nodes]
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            stack.extend(a for a in self.args_of(n) if a in self.nodes and a not in seen)
        return [n for n in self.nodes if n in seen]


def _sym_const(c):
    if c is None:
        return sp.S.Zero
    return sp.Rational(c.numerator, c.denominator) if isinstance(c, Fraction) else sp.Integer(c)


def _times(c, fs, t, extra=1):
    """Monomial c * extra * prod(fs) * t where t is a name, an inline monomial or an exact constant."""
    if isinstance(t, str):
        return (c * extra, tuple(fs) + (t,))
    if isinstance(t, tuple):
        return (c * extra * t[0], tuple(fs) + t[1])
    return (c * extra * t, tuple(fs))
