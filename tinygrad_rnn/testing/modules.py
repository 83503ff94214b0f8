"""Gradchecking a whole module: its input, its state and every parameter at once."""
from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_rnn.gradcheck import gradcheck
from tinygrad_rnn.methods.movement import concatenate
from tinygrad_rnn.nn.module import Module
from tinygrad_rnn.nn.utils import functional_call
from tinygrad_rnn.tensor import Tensor


def flatten_state(state: Any) -> list:
    """Tensors of a Tensor / (nested) tuple state, in order."""
    if state is None:
        return []
    if isinstance(state, Tensor):
        return [state]
    return [t for s in state for t in flatten_state(s)]


def rebuild_state(template: Any, tensors: list) -> Any:
    """The structure of `template` filled with `tensors` (consumed from the front)."""
    if template is None:
        return None
    if isinstance(template, Tensor):
        return tensors.pop(0)
    return tuple(rebuild_state(s, tensors) for s in template)


def module_function(model: Module, x: Tensor, state: Any = None) -> tuple:
    """(fn, inputs): fn(x, *state tensors, *parameters) runs model(x, state) through
    `functional_call` and projects the output and every returned state tensor on a fixed
    random matrix with 3 columns, so a wrong gradient of any of them shows."""
    names = [n for n, _ in model.named_parameters()]
    params = [p for _, p in model.named_parameters()]
    states = flatten_state(state)
    n_states = len(states)

    def fn(x: Tensor, *rest: Tensor) -> Tensor:
        st = rebuild_state(state, list(rest[:n_states]))
        result = functional_call(model, dict(zip(names, rest[n_states:])), x, st)
        flat = concatenate([p.reshape(-1) for p in flatten_state(result)])
        proj = np.random.default_rng(1).standard_normal((flat.shape[0], 3))
        return flat @ Tensor(proj.astype(flat.dtype))

    return fn, [x, *states, *params]


def gradcheck_module(model: Module, x: Tensor, state: Any = None, **kwargs: Any) -> bool:
    """gradcheck of model(x, state) with respect to x, every state tensor and every
    parameter (see `module_function`); keyword arguments go to `gradcheck`."""
    fn, inputs = module_function(model, x, state)
    return gradcheck(fn, inputs, **kwargs)
