"""Every differentiable op, one ``Function`` subclass each, grouped by kind.

Importing this package installs the operator and method forms (``x + y``, ``x.sum()``, ``x.reshape()``...)
on ``Tensor``: each ops module lists its methods in ``TENSOR_METHODS``. Doing it here, rather than in
``autograd.py``, keeps the import direction ops -> autograd.
"""
from ..autograd import Tensor
from . import activation, arithmetic, conversion, elementwise, reduction, shape

for _module in (arithmetic, conversion, activation, elementwise, reduction, shape):
    for _name, _fn in getattr(_module, "TENSOR_METHODS", {}).items():
        setattr(Tensor, _name, _fn)
