"""``parameters_to_vector`` and ``vector_to_parameters``: all parameters as one flat vector and back."""
from __future__ import annotations

from ...autograd import Tensor
from ...ops.shape import cat


def _params(parameters, name):
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"{name}: expected an iterable of Tensors, got {type(p).__name__}")
    devices = {p.device for p in params}
    if len(devices) > 1:
        raise RuntimeError(f"{name}: found parameters on different devices ({', '.join(sorted(devices))})")
    return params


def parameters_to_vector(parameters) -> Tensor:
    """The parameters flattened and concatenated in order: one (sum of numel,) tensor (differentiable)."""
    params = _params(parameters, "parameters_to_vector")
    if not params:
        raise ValueError("parameters_to_vector: got no parameters")
    return cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec: Tensor, parameters) -> None:
    """Copy consecutive slices of ``vec`` into the parameters, in order (as ``p.data = ...``: no gradient;
    each parameter then views ``vec``'s storage, as in PyTorch)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected vec to be a Tensor, got {type(vec).__name__}")
    params = _params(parameters, "vector_to_parameters")
    total = sum(p.numel() for p in params)
    if vec.ndim != 1 or vec.numel() != total:
        raise ValueError(f"vector_to_parameters: vec must be a 1-D tensor of {total} elements (the parameters' "
                         f"total), got shape {tuple(vec.shape)}")
    start = 0
    for p in params:
        n = p.numel()
        p.array = vec.array[start:start + n].reshape(p.array.shape)
        start += n
