"""Gradient clipping, truncated-BPTT state handling, parameters as one vector and calling a
module with given tensors.

Truncated backpropagation through time: run a long sequence in chunks, carrying the
recurrent state from one chunk to the next but cutting the graph between them, so each
backward covers one chunk and memory stays bounded::

    state = None
    for x, y in chunks:                      # consecutive windows of one long stream
        out, state = lstm(x, state)
        loss = F.cross_entropy(head(out), y)
        model.zero_grad()
        loss.backward()
        clip_grad_norm_(model.parameters(), 1.0)
        ...                                  # optimizer step
        state = detach_state(state)          # keep the values, drop the history

`detach_state` works on a Tensor, on an LSTM's (h, c) pair, or on any nesting of tuples
and lists of Tensors (None passes through).

`nn.utils.rnn` (the submodule) pads, packs and unpacks variable-length sequences, as
`torch.nn.utils.rnn`.
"""
from __future__ import annotations

import contextlib
import math
from typing import Any, Iterable, Iterator, Mapping

import numpy as np

from tinygrad_rnn._validate import require_writeable
from tinygrad_rnn.function import mark_modified
from tinygrad_rnn.methods.movement import concatenate
from tinygrad_rnn.nn.module import Module
from tinygrad_rnn.nn.utils import rnn
from tinygrad_rnn.tensor import Tensor


def _tensors(parameters: Iterable[Tensor] | Tensor, owner: str) -> list:
    out = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for p in out:
        if not isinstance(p, Tensor):
            raise TypeError(f"{owner}: expected Tensors (parameters), got {type(p).__name__}")
    return out


def _grads(parameters: Iterable[Tensor] | Tensor, owner: str) -> list:
    return [p.grad for p in _tensors(parameters, owner) if p.grad is not None]


def clip_grad_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach: bool | None = None) -> Tensor:
    """Scale all gradients together so that their joint norm is at most max_norm.

    total = norm of the vector of all gradient entries (p-norm, max |g| for inf; for 0, as
    PyTorch's norm of the per-parameter norms, the number of gradients not all zero); when max_norm / (total + 1e-6) < 1 every gradient is
    multiplied by that factor, in place. Returns total, the norm before clipping, as a 0-d
    tensor of the gradients' dtype (PyTorch's return); a NaN or infinite entry anywhere
    makes it NaN or inf. `foreach` (PyTorch's implementation switch) changes nothing here.
    """
    norm_type = float(norm_type)
    if max_norm < 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be non-negative, got {max_norm}")
    if norm_type < 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be >= 0 or inf, got {norm_type}")
    grads = _grads(parameters, "clip_grad_norm_")
    if not grads:
        return Tensor(np.asarray(0.0, dtype=np.float32))
    dtype = np.result_type(*[g.dtype for g in grads])
    flat = [np.abs(g.data.astype(np.float64, copy=False)).ravel() for g in grads]
    if math.isinf(norm_type):  # (np.max: a NaN in any gradient makes the norm NaN)
        total = float(np.max([f.max() if f.size else 0.0 for f in flat]))
    elif norm_type == 0:
        total = float(sum(bool(np.count_nonzero(f)) for f in flat))
    else:
        total = float(sum(np.sum(f ** norm_type) for f in flat)) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total gradient norm is {total}; "
                           f"set error_if_nonfinite=False to clip anyway")
    clip_coef = max_norm / (total + 1e-6)
    if clip_coef < 1 or math.isnan(clip_coef):  # as PyTorch's min(coef, 1): a NaN norm
        # makes every gradient NaN, rather than leaving the finite ones unclipped
        with np.errstate(invalid="ignore"):  # (an infinite entry times 0: NaN, as PyTorch)
            for g in grads:
                g.data *= np.asarray(clip_coef, dtype=g.dtype)
    with np.errstate(over="ignore"):
        return Tensor(np.asarray(total, dtype=dtype))


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float) -> None:
    """Clamp every gradient entry to [-clip_value, clip_value], in place."""
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be non-negative, got {clip_value}")
    for g in _grads(parameters, "clip_grad_value_"):  # one clip pass: 2.6 us on (100, 65)
        g.data.clip(-clip_value, clip_value, out=g.data)  # float64 against 7.2 us for
        # np.minimum then np.maximum


def parameters_to_vector(parameters: Iterable[Tensor] | Tensor) -> Tensor:
    """Every parameter flattened and joined into one 1-D tensor, in order (differentiable)."""
    flat = [p.reshape(-1) for p in _tensors(parameters, "parameters_to_vector")]
    if not flat:
        raise ValueError("parameters_to_vector: got no parameters")
    return concatenate(flat)


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor] | Tensor) -> None:
    """Copy consecutive slices of the 1-D `vec` into the parameters, in place (not recorded
    in the graph): the inverse of parameters_to_vector."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: vec must be a Tensor, got {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: vec must be 1-D, got shape {vec.shape}")
    params = _tensors(parameters, "vector_to_parameters")
    total = sum(p.size for p in params)
    if vec.size != total:
        raise ValueError(f"vector_to_parameters: vec has {vec.size} elements but the "
                         f"parameters hold {total}")
    for p in params:
        require_writeable(p.data, "vector_to_parameters")
    start = 0
    for p in params:
        np.copyto(p.data, vec.data[start:start + p.size].reshape(p.shape), casting="unsafe")
        mark_modified(p)
        start += p.size


def detach_state(state: Any) -> Any:
    """The same values cut from the graph: a Tensor, or nested tuples/lists of them."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    raise TypeError(f"detach_state: expected a Tensor, a tuple/list of Tensors or None, "
                    f"got {type(state).__name__}")


@contextlib.contextmanager
def _swapped(module: Module, tensors: Mapping[str, Tensor]) -> Iterator[None]:
    owners = []
    for name, t in tensors.items():
        *path, leaf = name.split(".")
        owner = module
        for part in path:
            owner = owner._modules.get(part)
            if owner is None:
                raise KeyError(f"functional_call: no submodule '{part}' on the path of '{name}'")
        if leaf in owner._parameters:
            registry = owner._parameters
        elif leaf in owner._buffers:
            registry = owner._buffers
        else:
            raise KeyError(f"functional_call: '{name}' is not a parameter or buffer of "
                           f"{type(module).__name__}")
        if not isinstance(t, Tensor):
            raise TypeError(f"functional_call: value for '{name}' must be a Tensor, "
                            f"got {type(t).__name__}")
        owners.append((registry, leaf, registry[leaf]))
        registry[leaf] = t
    try:
        yield
    finally:
        for registry, leaf, old in reversed(owners):
            registry[leaf] = old


def functional_call(module: Module, tensors: Mapping[str, Tensor], *args: Any,
                    **kwargs: Any) -> Any:
    """module(*args, **kwargs) with the named parameters/buffers replaced by `tensors` for the
    duration of the call (the module is unchanged afterwards). Lets gradients flow to
    tensors that the module does not own, e.g. to gradcheck a module::

        names = [n for n, _ in model.named_parameters()]
        fn = lambda x, *ps: functional_call(model, dict(zip(names, ps)), x)[0]
        gradcheck(fn, [x, *model.parameters()])
    """
    with _swapped(module, tensors):
        return module(*args, **kwargs)
