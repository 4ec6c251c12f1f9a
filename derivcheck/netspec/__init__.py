"""One network spec for every verb: a TOML file's ``[network]`` (and ``[data]``) table, or the same
fields as command-line flags, read by one loader into a `derive.Net` / `derive.MLP` plus drawing options.

A spec file::

    [network]
    kind = "spatial"              # or "mlp"
    widths = [3, 4, 2]            # N_1..N_L
    dim = 2                       # D (spatial)
    kernel = "exp(-r**2/s**2)"    # a library name or a formula in r (derive/parse.py grammar)
    kernel_params = { s = 0.7 }
    hidden = "tanh"               # spatial: activation of layers 2..L-1
    output = "identity"           # spatial: activation of layer L
    activations = ["tanh", "sigmoid"]   # mlp: one per layer 2..L (instead of hidden/output)
    loss = "mse"
    bias = false
    amplitudes = "none"           # spatial: or "free" (W = theta * g(r), theta trainable)
    loss_reduction = "batch"      # optional: "mean" (/ B K), "batch" (/ B) or "sum" (/ 1); default: the loss's own
    relu_grad_at_zero = 1         # optional: ReLU'(0) in [0, 1] (default 0, torch's); leaky: alpha + s (1 - alpha)

    [[network.penalty]]           # any number: J = L + scale * reduce over edges of rho(r, w)
    rho = "(s*(r-q0))**2"         # a formula in r and w (derive/parse.py grammar); mlp: in w alone ("w**2", "abs(w)")
    params = { s = 6.1, q0 = 0.433 }
    scale = 1.0
    reduce = "sum"                # or "mean"
    layers = [2, 3]               # optional: the layers l whose edges (l-1 to l) it covers (default all)

    [data]                        # optional: how cases are drawn
    batch = 3
    coordinate_range = [-1.5, 1.5]
    input_range = [-2.0, 2.0]
    weight_range = [-1.5, 1.5]    # mlp weights
    seed = 0

The flags (`add_net_arguments`): ``--net FILE`` and/or ``--widths 3,5,2 --dim 2 --kernel F --param s=0.7
--hidden tanh --output identity --loss mse --loss-reduction batch --relu-grad-at-zero 1 --bias
--amplitudes free --penalty 'abs(w)*r' --penalty-scale 0.01``
(flags override the file's fields; the --penalty* flags are repeatable, a single --penalty-scale,
--penalty-reduce or --penalty-layers applies to every --penalty, --penalty-param to those that use it).
Every bad input is a `derive.SpecError` of one line: what, where, and the fix.

Where each part lives (this module re-exports them; import from here): derivcheck/netspec/read.py (the
tables and files, `load_net`), derivcheck/netspec/flags.py (the flags, `net_from_args`) and
derivcheck/netspec/write.py (`net_table`, `net_flags`).
"""

from __future__ import annotations

from derivcheck.netspec.flags import NET_FLAGS, add_net_arguments, formula_argv, net_from_args, net_given
from derivcheck.netspec.read import (
    DATA_KEYS,
    NETWORK_KEYS,
    DataOptions,
    NetSpec,
    data_from_table,
    load_net,
    net_from_table,
    read_toml,
)
from derivcheck.netspec.write import net_flags, net_table

__all__ = [
    "NetSpec",
    "DataOptions",
    "NETWORK_KEYS",
    "DATA_KEYS",
    "load_net",
    "read_toml",
    "net_from_table",
    "data_from_table",
    "add_net_arguments",
    "net_from_args",
    "net_flags",
    "net_given",
    "formula_argv",
    "net_table",
    "NET_FLAGS",
]
