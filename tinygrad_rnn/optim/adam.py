"""Adam (L2 weight decay added to the gradient) and AdamW (decoupled weight decay)."""
from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

from tinygrad_rnn._validate import check_bool
from tinygrad_rnn.optim.optimizer import Optimizer, _check_nonnegative, _check_range, lerp_


class Adam(Optimizer):
    """PyTorch's Adam, at step t:

        g = grad + weight_decay * p
        m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g**2
        (amsgrad: v_max = max(v_max, v), used in place of v below)
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    decoupled_weight_decay=True is AdamW's step (PyTorch's switch of the same name).
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *,
                 maximize: bool = False, decoupled_weight_decay: bool = False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        name = type(self).__name__
        _check_nonnegative(name, group, "lr", "eps", "weight_decay")
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        group["betas"] = tuple(betas)
        check_bool(group["amsgrad"], "amsgrad", name)
        check_bool(group.get("decoupled_weight_decay", False), "decoupled_weight_decay", name)
        for i, beta in enumerate(betas):
            _check_range(name, f"betas[{i}]", beta, 0.0, 1.0)

    def _state_names(self, group: dict[str, Any]) -> set[str]:
        names = {"step", "exp_avg", "exp_avg_sq"}
        return names | {"max_exp_avg_sq"} if group["amsgrad"] else names

    def _update(self, p: np.ndarray, g: np.ndarray, group: dict[str, Any], state: dict[str, Any]) -> None:
        lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p)
            state["exp_avg_sq"] = np.zeros_like(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p)
        state["step"] += 1
        t = state["step"]
        if group.get("decoupled_weight_decay"):
            if wd != 0:
                p *= 1 - lr * wd
        elif wd != 0:
            g = g + wd * p
        m, v = state["exp_avg"], state["exp_avg_sq"]
        # m moves toward g by (1 - beta1), rounded as PyTorch's lerp; one scratch array,
        # reused below
        tmp = lerp_(m, g, 1 - beta1, np.empty_like(p))
        np.multiply(g, g, out=tmp)
        tmp *= 1 - beta2
        v *= beta2
        v += tmp
        if group["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        denom = np.sqrt(v, out=tmp)
        denom /= math.sqrt(1 - beta2 ** t)
        denom += eps
        update = np.divide(m, denom, out=tmp)
        update *= lr / (1 - beta1 ** t)
        p -= update


class AdamW(Adam):
    """Adam with decoupled weight decay (PyTorch's AdamW): first p = p * (1 - lr * weight_decay),
    then the Adam step on the plain gradient."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=True)
