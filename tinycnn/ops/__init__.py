"""Every differentiable op, one ``Function`` subclass each, grouped by kind.

Importing this package installs the operator and method forms (``x + y``, ``x.sum()``, ``x.reshape()``...)
on ``Tensor``: each ops module lists its methods in ``TENSOR_METHODS``. Doing it here, rather than in
``autograd.py``, keeps the import direction ops -> autograd.
"""
from ..autograd import Tensor
from . import arithmetic, conversion

_MODULES = [arithmetic, conversion]

# --- elementwise/reduction/shape (helper) ---
from . import activation  # noqa: E402  (activations helper: relu/sigmoid/tanh/softmax/log_softmax methods)
_MODULES.append(activation)
from . import elementwise, reduction, shape  # noqa: E402
_MODULES += [elementwise, reduction, shape]
# --- end elementwise/reduction/shape ---

for _module in _MODULES:
    for _name, _fn in getattr(_module, "TENSOR_METHODS", {}).items():
        setattr(Tensor, _name, _fn)
