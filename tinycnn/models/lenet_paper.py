"""The original LeNet-5 (LeCun, Bottou, Bengio & Haffner, 1998, "Gradient-based learning applied to document
recognition", Section II-B), layer for layer.

The modern LeNet-5 (``lenet5``) keeps the shapes but not the details. The 1998 network, on a 32x32 input
(MNIST's 28x28 digits padded by 2)::

    C1  6 maps 5x5 conv                -> 6x28x28     156 parameters
    S2  2x2 subsampling                -> 6x14x14     12   (per map: coefficient and bias)
    C3  16 maps 5x5, partial table     -> 16x10x10    1,516
    S4  2x2 subsampling                -> 16x5x5      32
    C5  120 maps 5x5 conv              -> 120x1x1     48,120
    F6  84 units, fully connected      -> 84          10,164
    output: 10 Euclidean RBF units     -> 10          fixed, not trained
                                                      60,000 trainable parameters

* Every layer up to F6 is followed by the squashing function ``f(a) = A tanh(S a)`` with A = 1.7159 and
  S = 2/3 (Appendix A; chosen so that f(1) = 1 and f(-1) = -1, with the largest second derivative there).
* A subsampling unit adds its four inputs, multiplies the sum by a trainable coefficient and adds a
  trainable bias: ``y = w_c * (x_1 + x_2 + x_3 + x_4) + b_c``, then f. It is average pooling times
  ``4 w_c``, with one (w, b) pair per map.
* C3 is not fully connected to S2 (Table I): maps 0-5 read three contiguous S2 maps, 6-11 four contiguous,
  12-14 four non-contiguous and 15 all six, 60 map pairs in all, so 60 * 25 + 16 = 1,516 parameters instead
  of 6 * 16 * 25 + 16 = 2,416. The paper's reasons: fewer connections, and symmetry broken so that the C3
  maps are forced to extract different features.
* The output units are Euclidean radial basis functions, ``y_i = sum_j (x_j - w_ij)^2``, with fixed
  ``w_ij`` in {-1, +1}: a penalty, the squared distance of F6's 84 outputs to the class's code. The
  paper drew its codes as 7x12 bitmaps of the characters; it notes that random +-1 codes would also do,
  which is what ``EuclideanRBF`` uses (a fixed seed, stored as a buffer). The forward returns the
  *negated* penalties, so the largest output is the predicted class and ``cross_entropy`` on them is the
  paper's MAP criterion ``y_correct + log(sum_i exp(-y_i))`` without its constant "rubbish class" term.
  ``output="linear"`` puts the usual Linear(84, 10) there instead (60,850 parameters).

Initialisation (Appendix C): every weight and bias uniform in (-2.4 / F, 2.4 / F), F the unit's fan-in
(25 for C1, 4 for a subsampling unit, 25 times the number of connected S2 maps for a C3 map, 400 for C5,
120 for F6).
"""
from __future__ import annotations

import numpy as np

from .. import nn
from ..autograd import Tensor
from ..nn import functional as F
from ..nn.parameter import Parameter

# Table I: the S2 maps each C3 map reads.
C3_TABLE = ((0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1),
            (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2),
            (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
            (0, 1, 2, 3, 4, 5))

SQUASH_A, SQUASH_S = 1.7159, 2.0 / 3.0


class ScaledTanh(nn.Module):
    """``f(a) = A tanh(S a)``, A = 1.7159, S = 2/3 (a composition: its backward is A S (1 - tanh^2(S a)))."""

    def forward(self, x):
        return (x * SQUASH_S).tanh() * SQUASH_A


class Subsampling(nn.Module):
    """LeNet's S-layer: per map, ``w_c * (sum of each 2x2 block) + b_c`` (a trainable, scaled average pool)."""

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        self.weight = Parameter(np.ones(channels, dtype=np.float32))
        self.bias = Parameter(np.zeros(channels, dtype=np.float32))

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise ValueError(f"Subsampling({self.channels}) expects (N, {self.channels}, H, W) input, got "
                             f"{tuple(x.shape)}")
        block_sums = F.avg_pool2d(x, kernel_size=2, stride=2) * 4.0
        return block_sums * self.weight.reshape(1, -1, 1, 1) + self.bias.reshape(1, -1, 1, 1)

    def extra_repr(self) -> str:
        return f"{self.channels}"


class PartialConv2d(nn.Module):
    """A convolution in which output map ``o`` reads only the input maps ``table[o]``.

    The parameter holds one ``k x k`` kernel per connection, ``weight`` of shape (connections, k, k), so that
    only connected pairs are trainable. The dense kernel is built from it by a fixed 0/1 placement matrix P
    of shape (out * in, connections) with P[o * in + i, c] = 1 when connection c joins input i to output o::

        W_dense = (P @ weight.reshape(connections, k * k)).reshape(out, in, k, k)
        y = conv2d(x, W_dense, bias)

    Both steps are existing ops, so the backward is theirs: dL/dweight = P^T @ dL/dW_dense, i.e. each
    connection's kernel receives exactly the gradient of its slot of the dense kernel, and the unconnected
    slots (always zero in the forward) pass no gradient anywhere.
    """

    def __init__(self, in_channels: int, table, kernel_size: int = 5, padding: int = 0):
        super().__init__()
        table = tuple(tuple(int(i) for i in inputs) for inputs in table)
        for o, inputs in enumerate(table):
            if not inputs or len(set(inputs)) != len(inputs) or not all(0 <= i < in_channels for i in inputs):
                raise ValueError(f"PartialConv2d: table row {o} must list distinct input maps in "
                                 f"[0, {in_channels}), got {inputs}")
        self.in_channels, self.out_channels = in_channels, len(table)
        self.kernel_size, self.padding, self.table = kernel_size, padding, table
        pairs = [(o, i) for o, inputs in enumerate(table) for i in inputs]
        placement = np.zeros((self.out_channels * in_channels, len(pairs)), dtype=np.float32)
        for c, (o, i) in enumerate(pairs):
            placement[o * in_channels + i, c] = 1.0
        self.register_buffer("placement", Tensor(placement), persistent=False)
        self.weight = Parameter(np.zeros((len(pairs), kernel_size, kernel_size), dtype=np.float32))
        self.bias = Parameter(np.zeros(self.out_channels, dtype=np.float32))

    def dense_weight(self):
        """The (out, in, k, k) kernel with zeros where the table has no connection."""
        k = self.kernel_size
        flat = self.placement @ self.weight.reshape(self.weight.shape[0], k * k)
        return flat.reshape(self.out_channels, self.in_channels, k, k)

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"PartialConv2d({self.in_channels}, {self.out_channels}) expects "
                             f"{self.in_channels} input channels, got input of shape {tuple(x.shape)}")
        return F.conv2d(x, self.dense_weight(), self.bias, padding=self.padding)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"connections={self.weight.shape[0]}")


class EuclideanRBF(nn.Module):
    """Output layer of RBF units: returns ``-y_i = -sum_j (x_j - w_ij)^2`` for fixed +-1 codes ``w_i``."""

    def __init__(self, in_features: int = 84, num_classes: int = 10, prototypes=None, seed: int = 1998):
        super().__init__()
        if prototypes is None:
            prototypes = np.random.default_rng(seed).choice([-1.0, 1.0], size=(num_classes, in_features))
        prototypes = np.asarray(prototypes, dtype=np.float32)
        if prototypes.shape != (num_classes, in_features):
            raise ValueError(f"EuclideanRBF: prototypes must have shape ({num_classes}, {in_features}), got "
                             f"{prototypes.shape}")
        self.in_features, self.num_classes = in_features, num_classes
        self.register_buffer("prototypes", Tensor(prototypes))

    def forward(self, x):
        diff = x.reshape(x.shape[0], 1, self.in_features) - self.prototypes.reshape(1, self.num_classes,
                                                                                     self.in_features)
        return -(diff * diff).sum(2)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, num_classes={self.num_classes}"


class LeNet5_1998(nn.Module):
    """The 1998 LeNet-5; attributes named after the paper's layers (``C1``, ``S2``, ... ``F6``, ``output``)."""

    def __init__(self, num_classes: int = 10, output: str = "rbf", input_size: int = 28, init_weights: bool = True):
        super().__init__()
        if output not in ("rbf", "linear"):
            raise ValueError(f"lenet5_1998: output must be 'rbf' or 'linear', got {output!r}")
        if input_size not in (28, 32):
            raise ValueError(f"lenet5_1998: input_size must be 32 (the paper's) or 28 (MNIST, padded by 2 to 32), "
                             f"got {input_size}")
        self.input_size = input_size
        self.C1 = nn.Conv2d(1, 6, kernel_size=5, padding=2 if input_size == 28 else 0)
        self.S2 = Subsampling(6)
        self.C3 = PartialConv2d(6, C3_TABLE, kernel_size=5)
        self.S4 = Subsampling(16)
        self.C5 = nn.Conv2d(16, 120, kernel_size=5)
        self.F6 = nn.Linear(120, 84)
        self.output = EuclideanRBF(84, num_classes) if output == "rbf" else nn.Linear(84, num_classes)
        self.squash = ScaledTanh()
        if init_weights:
            self._init_weights()

    def _init_weights(self) -> None:
        fan_in = {self.C1: 25, self.S2: 4, self.S4: 4, self.C5: 400, self.F6: 120, self.output: 84}
        for m, f in fan_in.items():
            for p in m.parameters():
                nn.init.uniform_(p, -2.4 / f, 2.4 / f)
        nn.init.uniform_(self.C3.weight, -1.0, 1.0)
        nn.init.uniform_(self.C3.bias, -1.0, 1.0)
        bounds = np.array([2.4 / (25 * len(inputs)) for inputs in C3_TABLE], dtype=np.float32)
        per_connection = np.repeat(bounds, [len(inputs) for inputs in C3_TABLE])
        self.C3.weight.array = self.C3.weight.array * per_connection.reshape(-1, 1, 1).astype(
            self.C3.weight.array.dtype)
        self.C3.bias.array = self.C3.bias.array * bounds.astype(self.C3.bias.array.dtype)

    def forward(self, x):
        side = self.input_size
        if x.ndim != 4 or x.shape[1] != 1 or x.shape[2] != side or x.shape[3] != side:
            raise ValueError(f"LeNet5_1998 expects input of shape (N, 1, {side}, {side}), got {tuple(x.shape)}")
        f = self.squash
        x = f(self.S2(f(self.C1(x))))        # 6 x 14 x 14
        x = f(self.S4(f(self.C3(x))))        # 16 x 5 x 5
        x = f(self.C5(x)).flatten(1)         # 120
        return self.output(f(self.F6(x)))    # num_classes scores


def lenet5_1998(num_classes: int = 10, output: str = "rbf", input_size: int = 28,
                init_weights: bool = True) -> LeNet5_1998:
    """The original LeNet-5: scaled tanh, trainable subsampling, C3's partial connection table, RBF output
    (60,000 trainable parameters; ``output="linear"`` for a Linear head)."""
    return LeNet5_1998(num_classes=num_classes, output=output, input_size=input_size, init_weights=init_weights)
