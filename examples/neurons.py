"""Object-per-neuron code, as people write it: a graph of `Neuron` objects, each with a position z, its
input neurons (one amplitude theta_j each), a bias, an activation, and its own `forward` and `backward`;
`Network` runs them in order. Weights are w_j = theta_j exp(-r_j^2 / s^2) with r_j the distance to input
neuron j (examples/neurons.toml: free amplitudes, biases, tanh hidden, identity output, mse).

derivcheck calls a function of arrays; `build_and_run` is the glue (under 10 lines): it builds the graph
from (Z, theta, b), runs it on (X, Y) and reads the gradients back as arrays.

    derivcheck check-grad examples/neurons.py:grad --net examples/neurons.toml         # exit 0
    derivcheck check-grad examples/neurons.py:grad_buggy --net examples/neurons.toml   # exit 1

`grad_buggy` uses `BuggyNeuron`, whose backward moves only the neuron itself when a distance changes:
the input neuron's share of d r / d z (eq. (8)'s forward term) is left out, a bug seen in the wild.
"""

import numpy as np

S = 0.7  # the kernel width s of neurons.toml


class Neuron:
    """One neuron. Values are arrays over the batch (one entry per example)."""

    def __init__(self, z, inputs=(), amplitudes=None, bias=0.0, activation="tanh"):
        self.z = np.array(z, dtype=float)
        self.inputs = list(inputs)
        self.amplitudes = np.ones(len(self.inputs)) if amplitudes is None else np.array(amplitudes, dtype=float)
        self.bias = float(bias)
        self.activation = activation
        self.zero_grad()

    def zero_grad(self):
        self.grad_z = np.zeros_like(self.z)
        self.grad_theta = np.zeros_like(self.amplitudes)
        self.grad_bias = 0.0
        self.grad_a = 0.0  # d loss / d (this neuron's output), per example

    def kernel(self, j):
        """g(r) = exp(-r^2 / s^2) of the edge from input neuron j."""
        return np.exp(-np.sum((self.z - self.inputs[j].z) ** 2) / S**2)

    def forward(self):
        self.h = self.bias + sum(self.amplitudes[j] * self.kernel(j) * n.a for j, n in enumerate(self.inputs))
        self.a = np.tanh(self.h) if self.activation == "tanh" else self.h

    def backward(self):
        delta = self.grad_a / np.cosh(self.h) ** 2 if self.activation == "tanh" else self.grad_a
        self.grad_bias += np.sum(delta)
        for j, n in enumerate(self.inputs):
            g = self.kernel(j)
            dw = np.sum(delta * n.a)  # d loss / d w_j
            n.grad_a = n.grad_a + delta * self.amplitudes[j] * g
            self.grad_theta[j] += dw * g
            # d w / d z_self = theta g'(r) (z_self - z_n) / r = theta g (-2 / s^2) (z_self - z_n)
            self.move(n, dw * self.amplitudes[j] * g * (-2 / S**2) * (self.z - n.z))

    def move(self, n, dz):
        """Moving this neuron by dz changes r as moving input neuron n by -dz does."""
        self.grad_z += dz
        n.grad_z -= dz


class BuggyNeuron(Neuron):
    def move(self, n, dz):
        self.grad_z += dz  # the input neuron's share is forgotten


class Network:
    """Neurons in order (inputs first); the loss is the mean squared error over examples and outputs."""

    def __init__(self, inputs, outputs, neurons):
        self.inputs, self.outputs, self.neurons = inputs, outputs, neurons

    def loss_and_backward(self, X, Y):
        for n in self.neurons:
            n.zero_grad()
        for i, n in enumerate(self.inputs):
            n.a = X[:, i]
        for n in self.neurons:
            if n.inputs:
                n.forward()
        A = np.stack([n.a for n in self.outputs], axis=1)
        for k, n in enumerate(self.outputs):
            n.grad_a = 2 * (n.a - Y[:, k]) / Y.size
        for n in reversed(self.neurons):
            if n.inputs:
                n.backward()
        return np.mean((A - Y) ** 2)


def build_and_run(cls, Z, X, Y, b=None, theta=None):
    """The glue: Z (one N_l x D array per layer), theta and b (layers 2..L, or None) -> the graph -> arrays."""
    layers, L = [[cls(z) for z in Z[0]]], len(Z)
    for l in range(1, L):
        th = [None] * len(Z[l]) if theta is None else theta[l - 1]
        bl = np.zeros(len(Z[l])) if b is None else b[l - 1]
        layers.append([cls(z, layers[-1], th[i], bl[i], "identity" if l == L - 1 else "tanh") for i, z in enumerate(Z[l])])
    loss = Network(layers[0], layers[-1], [n for layer in layers for n in layer]).loss_and_backward(X, Y)
    read = lambda attr, ls: [np.array([getattr(n, attr) for n in layer]) for layer in ls]  # noqa: E731
    out = {"loss": loss, "dZ": read("grad_z", layers), "dX": np.stack([n.grad_a for n in layers[0]], axis=1)}
    return out | {k: read(a, layers[1:]) for k, v, a in (("dtheta", theta, "grad_theta"), ("db", b, "grad_bias")) if v is not None}


def grad(Z, X, Y, b=None, theta=None):
    return build_and_run(Neuron, Z, X, Y, b=b, theta=theta)


def grad_buggy(Z, X, Y, b=None, theta=None):
    return build_and_run(BuggyNeuron, Z, X, Y, b=b, theta=theta)
