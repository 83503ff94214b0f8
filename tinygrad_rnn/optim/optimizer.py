"""Optimizer base: parameter groups, per-parameter state, zero_grad, state_dict.

Optimizers work outside the graph: `step()` reads `p.grad.data` and rewrites `p.data` in place,
so nothing is recorded and every reference to a parameter's array sees the new values.
A state dict is made of plain Python values and ndarrays only (PyTorch's layout)::

    {"state": {0: {"step": 3, "exp_avg": ndarray, ...}, ...},
     "param_groups": [{"lr": 0.001, ..., "params": [0, 1, 2]}, ...]}

Files are not the optimizer's business: `tinygrad_rnn.checkpoint` stores such nested dicts.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from tinygrad_rnn._validate import check_bool, check_number, require_writeable
from tinygrad_rnn.function import mark_modified
from tinygrad_rnn.profiler import section
from tinygrad_rnn.tensor import Tensor


class Optimizer:
    """Base class: keeps `param_groups` and `state`; subclasses write one update rule.

    `params` is an iterable of Tensors, or of dicts ``{"params": [...], <hyperparameter>: ...}``
    whose missing hyperparameters are taken from `defaults`.
    A subclass overrides `_check_group` (validate hyperparameters), `_state_names` (the state
    entries a parameter has after its first step) and `_update` (one parameter's step).
    Every optimizer takes PyTorch's `maximize` (ascend: the gradient is negated before the
    update); PyTorch's implementation switches `foreach`, `fused` and `capturable` may
    appear in a group (a loaded PyTorch state dict has them) and change nothing here.
    """

    #: state entries that are Python numbers (the rest are ndarrays shaped like the parameter)
    _scalar_state: frozenset = frozenset({"step"})

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]):
        name = type(self).__name__
        if isinstance(params, (Tensor, np.ndarray, dict)):
            raise TypeError(
                f"{name}: params must be an iterable of Tensors or of parameter-group dicts, "
                f"got a single {type(params).__name__}; wrap it in a list"
            )
        self.defaults = dict(defaults)
        self.defaults.setdefault("maximize", False)
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Tensor, dict[str, Any]] = {}
        groups = list(params)
        if not groups:
            raise ValueError(f"{name} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ----- groups -----------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group ``{"params": [...], ...}``; unspecified hyperparameters get the defaults."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(
                f"{name}: a parameter group must be a dict with a 'params' key, "
                f"got {type(param_group).__name__}"
            )
        if "params" not in param_group:
            raise ValueError(f"{name}: a parameter group must have a 'params' key")
        params = param_group["params"]
        if isinstance(params, (set, frozenset)):  # (as PyTorch: the state dict numbers them)
            raise TypeError(f"{name}: a parameter group's params must be an ordered collection "
                            f"such as a list, got a set, whose order changes between runs")
        params = [params] if isinstance(params, Tensor) else list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{name}: parameters must be Tensors, got {type(p).__name__} at position {i}"
                )
            if not np.issubdtype(p.dtype, np.floating):
                raise TypeError(
                    f"{name}: parameter {i} has dtype {p.dtype}; only floating tensors can be optimized"
                )
            if not p.is_leaf:
                raise ValueError(f"{name}: can't optimize a non-leaf Tensor (parameter {i})")
            require_writeable(p.data, f"{name}: parameter {i}")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or any(id(p) in seen for p in params):
            raise ValueError(f"{name}: some parameters appear more than once (in one or several groups)")
        group = dict(self.defaults)
        group.update(param_group)
        group["params"] = params
        self._check_common(group)
        self._check_group(group)
        self.param_groups.append(group)

    def _check_common(self, group: dict[str, Any]) -> None:
        """The options every optimizer takes (maximize) and PyTorch's that it cannot."""
        name = type(self).__name__
        check_bool(group.get("maximize", False), "maximize", name)
        if group.get("differentiable"):
            raise ValueError(f"{name}: differentiable=True is not supported: step() updates the "
                             f"parameters outside the graph")

    def _check_group(self, group: dict[str, Any]) -> None:
        """Raise ValueError for an invalid hyperparameter (subclasses)."""

    def _state_names(self, group: dict[str, Any]) -> set[str]:
        """The state entries a parameter of `group` has after its first step (subclasses)."""
        return set()

    # ----- the update -------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: `p.grad = None` (or zero them in place with set_to_none=False)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad.data[...] = 0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient, in place; return closure's loss if given."""
        loss = closure() if closure is not None else None
        with section(f"{type(self).__name__}.step"):  # a row of a running profiler
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    g = p.grad.data
                    if g.shape != p.shape:
                        raise RuntimeError(
                            f"{type(self).__name__}.step: gradient of shape {g.shape} does not "
                            f"match its parameter of shape {p.shape}"
                        )
                    if g.dtype != p.dtype:
                        g = g.astype(p.dtype)
                    if group.get("maximize"):  # ascend: as PyTorch, the gradient negated first
                        g = np.negative(g)
                    self._update(p.data, g, group, self.state.setdefault(p, {}))
                    mark_modified(p)  # a graph that saved the old values must not backprop silently
        return loss

    def _update(self, p: np.ndarray, g: np.ndarray, group: dict[str, Any], state: dict[str, Any]) -> None:
        """Rewrite `p` in place from its gradient `g` (never modify `g`)."""
        raise NotImplementedError

    # ----- state dict -------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """A copy of the state as plain Python values and ndarrays, parameters named by index."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index[id(p)] = len(index)
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {
            index[id(p)]: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
            for p, s in self.state.items() if s
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Take over state and hyperparameters; all checks run before anything is changed."""
        name = type(self).__name__
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            raise ValueError(
                f"{name}.load_state_dict expects a dict with keys 'state' and 'param_groups', got "
                + (f"keys {sorted(map(str, state_dict))}" if isinstance(state_dict, dict)
                   else type(state_dict).__name__)
            )
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the state dict has {len(saved_groups)} parameter groups "
                f"but this optimizer has {len(self.param_groups)}"
            )
        params: list[Tensor] = []
        new_groups = []
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if not isinstance(saved, dict):
                raise ValueError(
                    f"{name}.load_state_dict: parameter group {i} is a {type(saved).__name__}, expected a dict"
                )
            n_saved = len(saved.get("params", ()))
            if n_saved != len(group["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: parameter group {i} has {n_saved} parameters in the "
                    f"state dict but {len(group['params'])} in this optimizer"
                )
            new_group = dict(group)
            new_group.update({k: v for k, v in saved.items() if k != "params"})
            self._check_common(new_group)
            self._check_group(new_group)
            new_groups.append(new_group)
            params.extend(group["params"])
        group_of = [g for g in new_groups for _ in g["params"]]

        new_state: dict[Tensor, dict[str, Any]] = {}
        for key, saved in state_dict["state"].items():
            try:
                idx = int(key)
            except (TypeError, ValueError):
                raise ValueError(f"{name}.load_state_dict: state key {key!r} is not a parameter index")
            if not 0 <= idx < len(params):
                raise ValueError(
                    f"{name}.load_state_dict: state for parameter {idx} but the optimizer has "
                    f"{len(params)} parameters (indices 0..{len(params) - 1})"
                )
            if not saved:
                continue
            p = params[idx]
            expected = self._state_names(group_of[idx])
            if set(saved) != expected:
                raise ValueError(
                    f"{name}.load_state_dict: state of parameter {idx} has entries {sorted(saved)} "
                    f"but {name} with these settings keeps {sorted(expected)}; "
                    "was it saved by another optimizer?"
                )
            entry: dict[str, Any] = {}
            for k, v in saved.items():
                if k in self._scalar_state:
                    v = v.item() if isinstance(v, (np.ndarray, np.generic)) and np.size(v) == 1 else v
                    if isinstance(v, bool) or not isinstance(v, (int, float)):
                        raise ValueError(
                            f"{name}.load_state_dict: state '{k}' of parameter {idx} is a "
                            f"{type(v).__name__}, expected a number"
                        )
                    entry[k] = v
                    continue
                arr = np.asarray(v)
                if arr.shape != p.shape:
                    raise ValueError(
                        f"{name}.load_state_dict: state '{k}' of parameter {idx} has shape "
                        f"{arr.shape} but the parameter has shape {p.shape}"
                    )
                entry[k] = arr.astype(p.dtype, copy=True)
            new_state[p] = entry
        for group, new_group in zip(self.param_groups, new_groups):
            group.clear()
            group.update(new_group)
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines + [")"])


def lerp_(start: np.ndarray, end: np.ndarray, weight: float, scratch: np.ndarray) -> np.ndarray:
    """start += weight * (end - start) in place, in PyTorch's lerp spelling: for |weight| >=
    0.5 it is end - (end - start) * (1 - weight), which keeps the bits that the other
    spelling loses where start and end are far apart (beta1 = 0 after a large gradient: 2%
    off in float32). torch's kernel also fuses the multiply and the add, so the last bit may
    still differ (emulating that in float64 made the step 3x slower). `scratch` (start's
    shape and dtype) receives the scaled difference and is returned."""
    np.subtract(end, start, out=scratch)
    w = start.dtype.type(weight)  # the weight in the arrays' precision, as torch's opmath
    if abs(w) < 0.5:
        scratch *= w
        start += scratch
    else:
        scratch *= start.dtype.type(1) - w
        np.subtract(end, scratch, out=start)
    return scratch


def _check_nonnegative(opt: str, group: dict[str, Any], *names: str) -> None:
    """Hyperparameters that must be numbers >= 0 (NaN is refused too)."""
    for name in names:
        value = group[name]
        if not check_number(value, name, opt) >= 0:  # NaN fails too
            raise ValueError(f"{opt}: invalid {name}={value} (expected {name} >= 0)")


def _check_range(opt: str, name: str, value: Any, lo: float, hi: float) -> None:
    """A hyperparameter that must lie in [lo, hi)."""
    check_number(value, name, opt)
    if not lo <= value < hi:
        raise ValueError(f"{opt}: invalid {name}={value} (expected {lo} <= {name} < {hi})")
