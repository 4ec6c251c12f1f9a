"""Training tasks for `derivcheck train`: the student net, its data and its seeded start.

``synthetic``: a teacher spatial net with hidden coordinates labels seeded Gaussian inputs; the
student (same architecture) starts from other seeded coordinates. ``diabetes``: scikit-learn's
bundled diabetes data (442 x 10, standardised; no download), net (10, hidden_width, 1).
Every draw comes from the task's seed.

Nets with free amplitudes (W = theta * g(r), README "Model") train theta too: the teacher's and the
student's amplitudes are seeded normal draws of standard deviation 1 / sqrt(N_(l-1)) (the usual
fan-in scale), drawn after the coordinates and biases of the same net, so a net without amplitudes
keeps every draw (data and start) it had.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from derive import Net, Params, SpecError

__all__ = ["TASKS", "Task", "synthetic_task", "diabetes_task", "make_task"]

TASKS = ("synthetic", "diabetes")
#: what the diabetes task takes from nobody: its 442 examples and their 10 features are the data set's
DIABETES_FIXED = ("widths", "batch", "input_range")


@dataclass
class Task:
    """A training problem: the student net, its data and its starting parameters.

    Attributes:
        name, description. net: the spatial Net. X: B x N_1. Y: B x N_L. params0: student start.
        teacher: the hidden teacher parameters (synthetic task) or None. seed: the seed of every draw.
    """

    name: str
    description: str
    net: Net
    X: np.ndarray
    Y: np.ndarray
    params0: Params
    teacher: Params | None = None
    seed: int = 0


def _coords(net: Net, rng: np.random.Generator, scale: float, coordinate_range=None) -> list[np.ndarray]:
    """Node coordinates: standard normal times `scale`, or uniform in `coordinate_range` (a spec's [data])."""
    if coordinate_range is not None:
        lo, hi = coordinate_range
        return [rng.uniform(lo, hi, (n, net.dim)) for n in net.widths]
    return [scale * rng.standard_normal((n, net.dim)) for n in net.widths]


def _amplitudes(net: Net, rng: np.random.Generator) -> list[np.ndarray] | None:
    """theta_2..theta_L (N_l x N_(l-1), standard deviation 1 / sqrt(N_(l-1))) for free amplitudes, else None."""
    if not net.free:
        return None
    N = net.widths
    return [rng.standard_normal((N[l + 1], N[l])) / np.sqrt(N[l]) for l in range(net.L - 1)]


def _start(net: Net, rng: np.random.Generator, scale: float, coordinate_range=None) -> Params:
    b = [np.zeros(n) for n in net.widths[1:]] if net.bias else None
    Z = _coords(net, rng, scale, coordinate_range)
    return Params(Z=Z, b=b, theta=_amplitudes(net, rng))


def synthetic_task(
    seed: int = 0,
    *,
    widths=(4, 8, 8, 2),
    dim: int = 3,
    kernel: str = "gaussian",
    kernel_params=(),
    hidden: str = "tanh",
    bias: bool = False,
    batch: int = 128,
    scale: float = 1.0,
    noise: float = 0.0,
    net: Net | None = None,
    input_range: tuple[float, float] | None = None,
    coordinate_range: tuple[float, float] | None = None,
) -> Task:
    """A teacher spatial net with hidden coordinates (standard normal times `scale`, and biases
    uniform in [-0.5, 0.5] if `bias`) labels B standard normal inputs; the student has the same
    architecture and starts from independent coordinates (biases 0). All draws come from `seed`.
    `net` (the user's network: its widths, D, kernel, activations, loss, bias) replaces the keywords;
    `input_range` / `coordinate_range` (a spec's [data]) make the inputs / the teacher's and the
    student's coordinates uniform in that range instead."""
    from numeric.manual import forward

    if net is None:
        net = Net(
            widths=tuple(widths),
            dim=dim,
            kernel=kernel,
            kernel_params=kernel_params,
            hidden=hidden,
            loss="mse",
            bias=bias,
        )
    dim, bias = net.dim, net.bias
    rng = np.random.default_rng(seed)
    teacher = Params(
        Z=_coords(net, rng, scale, coordinate_range), b=[rng.uniform(-0.5, 0.5, n) for n in net.widths[1:]] if bias else None
    )
    if net.free:  # drawn only here: a net without amplitudes keeps every draw it had
        teacher.theta = _amplitudes(net, rng)
    X = rng.standard_normal((batch, net.widths[0])) if input_range is None else rng.uniform(*input_range, (batch, net.widths[0]))
    Y = forward(net, teacher, X, np.zeros((batch, net.widths[-1]))).a[-1]
    if noise:
        Y = Y + noise * rng.standard_normal(Y.shape)
    return Task(
        "synthetic",
        f"teacher spatial net of widths {'-'.join(map(str, net.widths))}, D = {dim}, {batch} seeded inputs"
        + (f" uniform in [{input_range[0]:g}, {input_range[1]:g}]" if input_range is not None else "")
        + (f", coordinates uniform in [{coordinate_range[0]:g}, {coordinate_range[1]:g}]" if coordinate_range is not None else "")
        + (f", noise {noise:g}" if noise else ""),
        net,
        X,
        Y,
        _start(net, rng, scale, coordinate_range),
        teacher,
        seed,
    )


def diabetes_task(
    seed: int = 0,
    *,
    hidden_width: int = 8,
    dim: int = 3,
    kernel: str = "gaussian",
    kernel_params=(),
    hidden: str = "tanh",
    bias: bool = False,
    scale: float = 0.7,
    net: Net | None = None,
    coordinate_range: tuple[float, float] | None = None,
) -> Task:
    """scikit-learn's bundled diabetes data (442 patients, 10 features, disease progression after a
    year), features and target standardised; net (10, hidden_width, 1), or the user's `net` of that shape."""
    try:
        from sklearn.datasets import load_diabetes
    except ImportError:  # pragma: no cover - a dependency in pyproject
        raise SpecError("the diabetes task needs scikit-learn", "run `make setup` (pip install scikit-learn)") from None
    data = load_diabetes()
    X = (data.data - data.data.mean(axis=0)) / data.data.std(axis=0)
    y = (data.target - data.target.mean()) / data.target.std()
    if net is None:
        net = Net(
            widths=(X.shape[1], hidden_width, 1),
            dim=dim,
            kernel=kernel,
            kernel_params=kernel_params,
            hidden=hidden,
            loss="mse",
            bias=bias,
        )
    elif net.L != 3 or net.widths[0] != X.shape[1] or net.widths[-1] != 1:
        raise SpecError(
            f"the diabetes task needs widths 10,N,1, not {','.join(map(str, net.widths))}",
            "drop --widths (or set widths = [10, N, 1] in the spec file) for --task diabetes",
        )
    rng = np.random.default_rng(seed)
    return Task(
        "diabetes",
        f"scikit-learn diabetes, {X.shape[0]} x {X.shape[1]} standardised",  # the net follows in the heading
        net,
        X,
        y[:, None],
        _start(net, rng, scale, coordinate_range),
        None,
        seed,
    )


def make_task(name: str, seed: int = 0, **kw) -> Task:
    """The task `name` in TASKS with `seed`; keywords the task does not take (widths, batch, input_range
    for diabetes: its data are fixed) are dropped."""
    if name == "synthetic":
        return synthetic_task(seed, **kw)
    if name == "diabetes":
        for k in DIABETES_FIXED:
            kw.pop(k, None)
        return diabetes_task(seed, **kw)
    raise SpecError(f"unknown task {name!r}", f"use one of {', '.join(TASKS)}")
