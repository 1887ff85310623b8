"""Every differentiable op, one ``Function`` subclass each, grouped by kind.

Importing this package installs the operator and method forms (``x + y``, ``x.sum()``, ``x.reshape()``...)
on ``Tensor``: each ops module lists its methods in ``TENSOR_METHODS``. Doing it here, rather than in
``autograd.py``, keeps the import direction ops -> autograd. The in-place forms (``inplace``) come last:
they call the other methods by name.
"""
from ..autograd import Tensor
from . import (activation, arithmetic, conversion, diagonal, einsum, elementwise, gather, indexing, inplace, layout,
               logical, math, pointwise, reduction, scan, shape, sorting)

for _module in (arithmetic, conversion, activation, elementwise, math, pointwise, logical, reduction, scan,
                sorting, shape, layout, diagonal, indexing, gather, einsum, inplace):
    for _name, _fn in getattr(_module, "TENSOR_METHODS", {}).items():
        setattr(Tensor, _name, _fn)
