"""Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from tinygrad_rnn._validate import check_bool
from tinygrad_rnn.optim.optimizer import Optimizer, _check_nonnegative


class SGD(Optimizer):
    """PyTorch's SGD:

        g = grad + weight_decay * p
        b = g (first step),  b = momentum * b + (1 - dampening) * g (later)
        g = g + momentum * b (nesterov)  or  g = b (momentum > 0)
        p = p - lr * g
    """

    def __init__(self, params: Iterable[Any], lr: float, momentum: float = 0.0,
                 dampening: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0, *,
                 maximize: bool = False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
                        weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_nonnegative("SGD", group, "lr", "momentum", "weight_decay")
        if not isinstance(group["nesterov"], (bool, np.bool_)):  # (PyTorch's positional order
            # is lr, momentum, dampening, weight_decay, nesterov: its weight_decay lands here)
            raise TypeError(f"SGD: nesterov must be a bool, got {type(group['nesterov']).__name__} "
                            f"{group['nesterov']!r}; the order here is SGD(params, lr, momentum, "
                            f"dampening, nesterov, weight_decay): pass weight_decay= by keyword")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"SGD: Nesterov momentum requires momentum > 0 and dampening = 0, got "
                f"momentum={group['momentum']}, dampening={group['dampening']}"
            )

    def _state_names(self, group: dict[str, Any]) -> set[str]:
        return {"momentum_buffer"} if group["momentum"] != 0 else set()

    def _update(self, p: np.ndarray, g: np.ndarray, group: dict[str, Any], state: dict[str, Any]) -> None:
        lr, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
        if wd != 0:
            g = g + wd * p
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(g, dtype=p.dtype)  # a 0-d array, not a scalar
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * g
            g = g + momentum * buf if group["nesterov"] else buf
        p -= lr * g

