"""RMSprop: steps divided by a running root-mean-square of the gradients."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from tinygrad_rnn._validate import check_bool
from tinygrad_rnn.optim.optimizer import Optimizer, _check_nonnegative, lerp_


class RMSprop(Optimizer):
    """PyTorch's RMSprop:

        g = grad + weight_decay * p
        v = alpha * v + (1 - alpha) * g**2
        a = alpha * a + (1 - alpha) * g;  d = sqrt(v - a**2) + eps   (centered)
        d = sqrt(v) + eps                                          (otherwise)
        b = momentum * b + g / d;  p = p - lr * b                   (momentum > 0)
        p = p - lr * g / d                                         (otherwise)
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 maximize: bool = False):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_nonnegative("RMSprop", group, "lr", "alpha", "eps", "weight_decay", "momentum")
        check_bool(group["centered"], "centered", "RMSprop")

    def _state_names(self, group: dict[str, Any]) -> set[str]:
        names = {"step", "square_avg"}
        if group["momentum"] > 0:
            names.add("momentum_buffer")
        if group["centered"]:
            names.add("grad_avg")
        return names

    def _update(self, p: np.ndarray, g: np.ndarray, group: dict[str, Any], state: dict[str, Any]) -> None:
        alpha, momentum = group["alpha"], group["momentum"]
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p)
            if momentum > 0:
                state["momentum_buffer"] = np.zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(p)
        state["step"] += 1
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p
        v = state["square_avg"]
        v *= alpha
        v += (1 - alpha) * g * g
        if group["centered"]:
            a = state["grad_avg"]
            lerp_(a, g, 1 - alpha, np.empty_like(a))  # (PyTorch's rounding: optimizer.lerp_)
            avg = np.sqrt(v - a * a)
        else:
            avg = np.sqrt(v)
        avg += group["eps"]
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += g / avg
            p -= group["lr"] * buf
        else:
            p -= group["lr"] * (g / avg)
