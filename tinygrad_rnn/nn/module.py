"""Module, Parameter and the containers Sequential and ModuleList.

A Module finds its parameters by attribute: assigning a `Parameter` or another `Module` to an
attribute records it (in `_parameters` / `_modules`), and `named_parameters()` walks that tree
with dotted names such as `encoder.weight_ih_l0`. `state_dict()` maps those names to plain
ndarray copies; `load_state_dict()` checks every key and shape before it writes anything.
"""
from __future__ import annotations

import itertools
import time
from collections import OrderedDict
from typing import Any, Callable, Iterable, Iterator, NamedTuple

import numpy as np

from tinygrad_rnn import profiler
from tinygrad_rnn._validate import check_bool
from tinygrad_rnn.autograd import RemovableHandle
from tinygrad_rnn.function import mark_modified
from tinygrad_rnn.tensor import Tensor


_hook_keys = itertools.count()  # keys of module hooks, in registration order


class Parameter(Tensor):
    """A Tensor that a Module owns and optimizers update; it always requires grad.

    `Parameter(data)` takes an ndarray (its dtype kept), a Tensor (its array is shared) or a
    nested list (float32).
    """

    __slots__ = ()  # Tensor uses __slots__; a Parameter adds no state of its own

    def __init__(self, data: Any, requires_grad: bool = True):
        if isinstance(data, Tensor):
            data = data.data
        super().__init__(data, requires_grad=requires_grad)
        if not np.issubdtype(self.dtype, np.floating):
            raise TypeError(f"Parameter needs floating-point data, got dtype {self.dtype}")

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class IncompatibleKeys(NamedTuple):
    """What `load_state_dict(strict=False)` skipped."""

    missing_keys: list
    unexpected_keys: list

    def __repr__(self) -> str:  # (PyTorch's words when nothing was skipped)
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (f"IncompatibleKeys(missing_keys={self.missing_keys!r}, "
                f"unexpected_keys={self.unexpected_keys!r})")


class Module:
    """Base class of layers and models.

    Subclasses call `super().__init__()` first, assign Parameters and sub-Modules as
    attributes, and define `forward`. Calling the module runs `forward`.
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_hooks", None)  # an instance attribute: the fastest check

    # ----- registration -----------------------------------------------------------------
    def _check_initialised(self, name: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign '{name}' on {type(self).__name__} before Module.__init__() "
                f"was called: call super().__init__() first in __init__"
            )

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, Parameter):
            self._check_initialised(name)
            self._forget(name, keep=self._parameters)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._check_initialised(name)
            self._forget(name, keep=self._modules)
            self._modules[name] = value
        elif "_parameters" in self.__dict__ and name in self._parameters:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} to parameter '{name}' of "
                    f"{type(self).__name__}: expected a Parameter or None"
                )
            self._parameters[name] = None
        elif "_modules" in self.__dict__ and name in self._modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} to child module '{name}' of "
                    f"{type(self).__name__}: expected a Module or None"
                )
            self._modules[name] = None
        elif "_buffers" in self.__dict__ and name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign {type(value).__name__} to buffer '{name}' of "
                    f"{type(self).__name__}: expected a Tensor or None"
                )
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: dict | None = None) -> None:
        """Drop `name` from the instance dict and every registry but `keep`, the one it is
        re-registered in: there it keeps its position (as in PyTorch), so parameters(),
        state_dict() and optimizer state keep their order when an attribute is re-assigned."""
        for registry in (self._parameters, self._buffers, self._modules):
            if registry is not keep:
                registry.pop(name, None)
        self._non_persistent.discard(name)
        self.__dict__.pop(name, None)

    def __getattr__(self, name: str) -> Any:
        # only called when normal lookup fails: look in the registries
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in d and name in d[registry]:
                return d[registry][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                self._non_persistent.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list:
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))

    def _check_new_name(self, name: Any, kind: str, registry: dict) -> None:
        """A name register_parameter / register_buffer / add_module may take, as PyTorch's:
        a string without a dot, not already an attribute of another kind (re-registering
        the same kind replaces it)."""
        if not isinstance(name, str):
            raise TypeError(f"{kind} name must be a string, got {type(name).__name__}")
        if "." in name or not name:
            raise KeyError(f"{kind} name can't be empty or contain \".\", got {name!r}")
        if name not in registry and (name in self._parameters or name in self._buffers or
                                     name in self._modules or name in self.__dict__ or
                                     hasattr(type(self), name)):
            raise KeyError(f"attribute '{name}' already exists on {type(self).__name__}: a "
                           f"{kind} needs a name of its own")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Record `param` (or None, a declared but absent parameter such as bias=False)."""
        self._check_initialised(name)
        self._check_new_name(name, "parameter", self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter('{name}'): expected a Parameter or None, "
                            f"got {type(param).__name__}")
        self._forget(name, keep=self._parameters)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Record a Tensor that is state but not a parameter (saved in state_dict if persistent)."""
        self._check_initialised(name)
        self._check_new_name(name, "buffer", self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer('{name}'): expected a Tensor or None, "
                            f"got {type(tensor).__name__}")
        self._forget(name, keep=self._buffers)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: "Module | None") -> None:
        """Record a child module under `name` (a name that is not a valid identifier works too,
        but not one with a dot)."""
        self._check_initialised(name)
        self._check_new_name(name, "module", self._modules)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module('{name}'): expected a Module or None, "
                            f"got {type(module).__name__}")
        self._forget(name, keep=self._modules)
        self._modules[name] = module

    # ----- calling ----------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._hooks is not None or profiler.running:  # all that hooks and profiles cost
            return self._call_watched(args, kwargs)
        return self.forward(*args, **kwargs)

    def _call_watched(self, args: tuple, kwargs: dict) -> Any:
        """forward with the hooks, timed by every running profiler (per module class)."""
        if not profiler.running:
            return self._call_with_hooks(args, kwargs)
        t0 = time.perf_counter()
        try:
            return self._call_with_hooks(args, kwargs) if self._hooks is not None \
                else self.forward(*args, **kwargs)
        finally:
            profiler.module_done(type(self).__name__, time.perf_counter() - t0)

    # ----- forward hooks (PyTorch's semantics) ------------------------------------------
    _hooks: Any = None  # {key: (kind, fn, with_kwargs)} once a hook is set, else None

    def register_forward_pre_hook(self, hook: Callable, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """hook(module, args) -> None | new args runs before forward; a value that is not a
        tuple becomes the only argument. With with_kwargs=True: hook(module, args, kwargs)
        -> None | (args, kwargs). prepend=True runs it before the hooks already set.
        Returns a handle whose remove() takes the hook away."""
        return self._add_hook("pre", hook, prepend, with_kwargs)

    def register_forward_hook(self, hook: Callable, *, prepend: bool = False,
                              with_kwargs: bool = False) -> RemovableHandle:
        """hook(module, args, output) -> None | new output runs after forward (args as the
        pre-hooks left them); a returned value replaces the output. With with_kwargs=True:
        hook(module, args, kwargs, output). Returns a handle with remove()."""
        return self._add_hook("post", hook, prepend, with_kwargs)

    def _add_hook(self, kind: str, hook: Callable, prepend: bool,
                  with_kwargs: bool) -> RemovableHandle:
        if not callable(hook):
            raise TypeError(f"register_forward_{'pre_' if kind == 'pre' else ''}hook: the hook "
                            f"must be callable, got {type(hook).__name__}")
        if self._hooks is None:
            object.__setattr__(self, "_hooks", OrderedDict())
        key = next(_hook_keys)
        self._hooks[key] = (kind, hook, bool(with_kwargs))
        if prepend:
            self._hooks.move_to_end(key, last=False)
        return RemovableHandle(self._hooks, key)

    def _call_with_hooks(self, args: tuple, kwargs: dict) -> Any:
        if not self._hooks:  # every hook was removed: back to the single check
            object.__setattr__(self, "_hooks", None)
            return self.forward(*args, **kwargs)
        hooks = list(self._hooks.values())  # a hook may remove itself while running
        for kind, fn, with_kwargs in hooks:
            if kind != "pre":
                continue
            if with_kwargs:
                result = fn(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError("a forward pre-hook registered with_kwargs=True "
                                           "must return None or a tuple (args, kwargs), got "
                                           f"{type(result).__name__}")
                    args, kwargs = result
                    args = args if isinstance(args, tuple) else (args,)
            else:
                result = fn(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        output = self.forward(*args, **kwargs)
        for kind, fn, with_kwargs in hooks:
            if kind != "post":
                continue
            result = fn(self, args, kwargs, output) if with_kwargs else fn(self, args, output)
            if result is not None:
                output = result
        return output

    # ----- traversal --------------------------------------------------------------------
    def named_modules(self, prefix: str = "", remove_duplicate: bool = True) -> Iterator[tuple]:
        """(dotted name, module) for this module and every descendant, each once; with
        remove_duplicate=False a module reached by several paths comes under each name (a
        module inside itself is not entered again)."""
        seen: set = set()
        stack = [(prefix, self, ())]  # (name, module, ids of its ancestors)
        while stack:
            name, m, above = stack.pop()
            if id(m) in (seen if remove_duplicate else above):
                continue
            seen.add(id(m))
            yield name, m
            below = () if remove_duplicate else above + (id(m),)
            children = [(f"{name}.{n}" if name else n, c, below)
                        for n, c in m._modules.items() if c is not None]
            stack.extend(reversed(children))

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple]:
        seen: set = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator["Module"]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, registry: str, prefix: str, recurse: bool,
                       remove_duplicate: bool = True) -> Iterator[tuple]:
        # a tensor shared by two modules is reported once, under its first name (unless
        # remove_duplicate=False)
        seen: set = set()
        modules = self.named_modules(prefix, remove_duplicate) if recurse else [(prefix, self)]
        for mod_name, m in modules:
            for name, t in getattr(m, registry).items():
                if t is None or (remove_duplicate and id(t) in seen):
                    continue
                seen.add(id(t))
                yield (f"{mod_name}.{name}" if mod_name else name), t

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple]:
        """(dotted name, Parameter) pairs, e.g. ('rnn.weight_ih_l0', ...), each parameter once
        (under every name it has with remove_duplicate=False)."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple]:
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn: Callable[["Module"], Any]) -> "Module":
        """Call fn on every descendant and then on self (as PyTorch does); return self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ----- state ------------------------------------------------------------------------
    def _state_items(self, prefix: str = "") -> list:
        """(key, tensor) for every parameter and persistent buffer, PyTorch's key order.

        Unlike named_parameters, a module reached by two paths appears under both names,
        as in PyTorch's state_dict.
        """
        items = [(prefix + n, p) for n, p in self._parameters.items() if p is not None]
        items += [(prefix + n, b) for n, b in self._buffers.items()
                  if b is not None and n not in self._non_persistent]
        for name, m in self._modules.items():
            if m is not None:
                items += m._state_items(f"{prefix}{name}.")
        return items

    def state_dict(self, *, destination: Any = None, prefix: str = "",
                   keep_vars: bool = False) -> "OrderedDict[str, np.ndarray]":
        """Copies of every parameter and persistent buffer as plain ndarrays, keyed by
        dotted names (the same keys PyTorch uses for the same model), each key after
        `prefix`. keep_vars=True gives the Tensors themselves; `destination` (a dict) is
        filled and returned instead of a new OrderedDict."""
        out = OrderedDict() if destination is None else destination
        for k, t in self._state_items(prefix):
            out[k] = t if keep_vars else np.array(t.data, copy=True)
        return out

    def load_state_dict(self, state_dict: Any, strict: bool = True) -> IncompatibleKeys:
        """Copy arrays into the parameters and buffers of the same names, in place.

        Everything is checked before anything is written: values must be numeric arrays of
        the target's shape; with strict=True the keys must match exactly. A failed load
        raises and leaves the module unchanged. Values are cast to each target's dtype.
        """
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise TypeError(f"load_state_dict for {type(self).__name__}: expected a mapping of "
                            f"names to arrays, got {type(state_dict).__name__}")
        own = OrderedDict(self._state_items())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict.keys() if k not in own]
        errors = []
        if strict and missing:
            errors.append(f"missing keys: {missing}")
        if strict and unexpected:
            errors.append(f"unexpected keys: {unexpected}")
        values = {}
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            arr = value.data if isinstance(value, Tensor) else value
            try:
                arr = np.asarray(arr)
            except Exception:  # noqa: BLE001 - anything unconvertible is reported below
                arr = None
            if arr is None or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
                kind = type(value).__name__ if arr is None else f"dtype {arr.dtype}"
                errors.append(f"value for '{key}' is not a numeric array ({kind})")
                continue
            if arr.shape != target.shape:
                errors.append(f"size mismatch for '{key}': got shape {arr.shape}, "
                              f"expected {target.shape}")
                continue
            values[key] = arr
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}: "
                               + "; ".join(errors) + ". Nothing was loaded.")
        for key, arr in values.items():
            target = own[key]
            if target.data.flags.writeable:
                np.copyto(target.data, arr, casting="unsafe")
                mark_modified(target)
            else:
                target.data = arr.astype(target.dtype, copy=True)
        return IncompatibleKeys(missing, unexpected)

    # ----- modes and dtypes -------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        """Set training mode (dropout active) on this module, then call train(mode) on each
        child, as PyTorch does (so a child's own train() override runs)."""
        mode = check_bool(mode, "mode", "train(mode)")
        object.__setattr__(self, "training", mode)
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> "Module":
        """Set evaluation mode (dropout off); the same as train(False)."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """Set requires_grad on every parameter (False freezes the module); returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the accumulated gradients (set to None, or fill with zeros)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.data = np.zeros_like(p.grad.data)

    def to(self, dtype: Any) -> "Module":
        """Cast floating parameters, their gradients and buffers to `dtype`, in place.

        The Parameter objects stay the same (only their arrays change), so references held
        elsewhere, such as an optimizer's, remain valid. PyTorch's device "cpu" (everything
        here runs there) changes nothing; another device is refused.
        """
        if isinstance(dtype, str) and dtype.split(":")[0] in ("cpu", "cuda", "mps", "xpu"):
            if dtype.split(":")[0] != "cpu":
                raise ValueError(f"to({dtype!r}): tinygrad_rnn computes on the CPU with "
                                 f"NumPy; there is no {dtype} device (to('cpu') is a no-op)")
            return self
        dt = np.dtype(dtype)
        if not np.issubdtype(dt, np.floating):
            raise TypeError(f"to(dtype): modules hold floating-point parameters, got {dt}")
        for t in list(self.parameters()) + list(self.buffers()):
            if np.issubdtype(t.dtype, np.floating):
                t.data = t.data.astype(dt)
                if t.grad is not None:
                    t.grad.data = t.grad.data.astype(dt)
        return self

    def double(self) -> "Module":
        return self.to(np.float64)

    def float(self) -> "Module":
        return self.to(np.float32)

    def half(self) -> "Module":
        return self.to(np.float16)

    # ----- printing ---------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The constructor arguments shown in repr(); subclasses override it."""
        return ""

    def __repr__(self) -> str:
        # PyTorch's layout: a one-line extra_repr without children stays inline, else each
        # line of extra_repr and each child gets an indented line of its own
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        children = [f"({name}): {_indented(repr(m))}" for name, m in self._modules.items()]
        return _block(type(self).__name__, lines + children, inline=not children)


def _indented(text: str) -> str:
    """Lines after the first indented by two spaces (blank ones left empty), as PyTorch's."""
    first, *rest = text.split("\n")
    return "\n".join([first] + [f"  {line}" if line.strip() else "" for line in rest])


def _block(name: str, lines: list, inline: bool = False) -> str:
    """name(...) around `lines`: one line inline when `inline` allows, else one per line."""
    if not lines:
        return f"{name}()"
    if inline and len(lines) == 1:
        return f"{name}({lines[0]})"
    return f"{name}(\n  " + "\n  ".join(lines) + "\n)"


class _Numbered(Module):
    """A container whose children are named '0', '1', ... by position (Sequential,
    ModuleList): removing some renumbers the rest, as in PyTorch."""

    def __delitem__(self, i: Any) -> None:
        """Remove the module(s) at i (an int or a slice); the rest renumber."""
        mods = list(self._modules.values())
        if isinstance(i, slice):
            del mods[i]
        else:
            del mods[_checked_index(i, len(mods), type(self).__name__)]
        _renumber(self, mods)

    def pop(self, i: int = -1) -> Module:
        """Remove the module at position i and return it (the rest renumber)."""
        m = self[i]
        del self[i]
        return m


class Sequential(_Numbered):
    """Modules applied in order: `Sequential(a, b, c)(x) == c(b(a(x)))`.

    Also accepts one OrderedDict of name -> module. Children are named '0', '1', ...
    """

    def __init__(self, *modules: Any):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (dict, OrderedDict)):
            for name, m in modules[0].items():
                self._add(str(name), m)
        else:
            for i, m in enumerate(modules):
                self._add(str(i), m)

    def _add(self, name: str, m: Any) -> None:
        if not isinstance(m, Module):
            raise TypeError(f"Sequential: element '{name}' must be a Module, "
                            f"got {type(m).__name__}")
        self.add_module(name, m)

    def forward(self, x: Any) -> Any:
        for m in self._modules.values():
            x = m(x)
        return x

    def append(self, module: Module) -> "Sequential":
        n = len(self._modules)
        while str(n) in self._modules:  # a slice keeps its names: '1', '2' + append -> '3'
            n += 1
        self._add(str(n), module)
        return self

    def __getitem__(self, i: int) -> Module:
        mods = list(self._modules.values())
        if isinstance(i, slice):  # children keep their names, hence their state_dict keys
            return Sequential(OrderedDict(list(self._modules.items())[i]))
        return mods[_checked_index(i, len(mods), "Sequential")]

    def __setitem__(self, i: int, module: Module) -> None:
        """Replace the module at position i (it keeps that position's name)."""
        names = list(self._modules)
        self._add(names[_checked_index(i, len(names), "Sequential")], module)

    def insert(self, index: int, module: Module) -> "Sequential":
        """Put `module` before position `index` (as list.insert); the children renumber."""
        if not isinstance(module, Module):
            raise TypeError(f"Sequential: elements must be Modules, got {type(module).__name__}")
        mods = list(self._modules.values())
        mods.insert(_int_index(index, "Sequential.insert"), module)
        _renumber(self, mods)
        return self

    def extend(self, modules: Iterable[Module]) -> "Sequential":
        for m in modules:
            self.append(m)
        return self

    def __add__(self, other: "Sequential") -> "Sequential":
        if not isinstance(other, Sequential):
            raise TypeError(f"Sequential + {type(other).__name__}: add another Sequential")
        return Sequential(*self, *other)

    def __iadd__(self, other: Iterable[Module]) -> "Sequential":
        return self.extend(other)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))


def _renumber(container: Module, mods: list) -> None:
    """The container's children become exactly `mods`, named '0', '1', ... in order."""
    for name in list(container._modules):
        container._forget(name)
    for i, m in enumerate(mods):
        container.add_module(str(i), m)


def _int_index(i: Any, what: str) -> int:
    if not isinstance(i, (int, np.integer)) or isinstance(i, bool):
        raise TypeError(f"{what}: index must be an int, got {type(i).__name__}")
    return int(i)


class ModuleList(_Numbered):
    """A list of modules whose parameters are registered (children '0', '1', ...)."""

    def __init__(self, modules: Iterable[Module] | None = None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def append(self, module: Module) -> "ModuleList":
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList: elements must be Modules, got {type(module).__name__}")
        self.add_module(str(len(self._modules)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> "ModuleList":
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Put `module` before position `index` (as list.insert); the children renumber."""
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList: elements must be Modules, got {type(module).__name__}")
        mods = list(self._modules.values())
        mods.insert(_int_index(index, "ModuleList.insert"), module)
        _renumber(self, mods)

    def __getitem__(self, i: int) -> Module:
        mods = list(self._modules.values())
        if isinstance(i, slice):
            return ModuleList(mods[i])
        return mods[_checked_index(i, len(mods), "ModuleList")]

    def __setitem__(self, i: int, module: Module) -> None:
        """Replace the module at position i."""
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList: elements must be Modules, got {type(module).__name__}")
        self.add_module(str(_checked_index(i, len(self._modules), "ModuleList")), module)

    def __iadd__(self, modules: Iterable[Module]) -> "ModuleList":
        return self.extend(modules)

    def __add__(self, other: "ModuleList") -> "ModuleList":
        if not isinstance(other, ModuleList):
            raise TypeError(f"ModuleList + {type(other).__name__}: add another ModuleList")
        return ModuleList(list(self) + list(other))

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def __repr__(self) -> str:
        """As PyTorch's: a run of modules that print alike is one line, '(0-2): 3 x ...'."""
        runs: list = []  # [first, last, repr]
        for i, m in enumerate(self):
            r = repr(m)
            if runs and runs[-1][2] == r:
                runs[-1][1] = i
            else:
                runs.append([i, i, r])
        lines = [_indented(f"({a}): {r}" if a == b else f"({a}-{b}): {b - a + 1} x {r}")
                 for a, b, r in runs]
        return _block(type(self).__name__, lines)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ModuleList is a container: call its elements")


class ModuleDict(Module):
    """A dict of modules whose parameters are registered under their keys (insertion order,
    as PyTorch's): `d["enc"]`, `d["enc"] = m`, `del d["enc"]`, `in`, `len`, iteration over
    the keys, `keys()`, `values()`, `items()`, `update()`, `pop()`, `clear()`."""

    def __init__(self, modules: Any = None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        if key not in self._modules:
            raise KeyError(f"ModuleDict has no module {key!r}; it has {list(self._modules)}")
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        if not isinstance(key, str):
            raise TypeError(f"ModuleDict: keys must be strings, got {type(key).__name__}")
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict: values must be Modules, got {type(module).__name__}")
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        self[key]  # (the KeyError that names what there is)
        self._forget(key)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._modules))

    def keys(self) -> list:
        return list(self._modules)

    def values(self) -> list:
        return list(self._modules.values())

    def items(self) -> list:
        return list(self._modules.items())

    def update(self, modules: Any) -> None:
        """Add (or replace) the modules of a mapping or of (key, module) pairs."""
        pairs = modules.items() if hasattr(modules, "items") else modules
        for pair in pairs:
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
                raise TypeError(f"ModuleDict.update: expected a mapping or (key, module) "
                                f"pairs, got an element {pair!r}")
            self[pair[0]] = pair[1]

    def pop(self, key: str) -> Module:
        m = self[key]
        del self[key]
        return m

    def clear(self) -> None:
        for key in list(self._modules):
            self._forget(key)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ModuleDict is a container: call its elements")


def _checked_index(i: int, n: int, what: str) -> int:
    if not isinstance(i, (int, np.integer)):
        raise TypeError(f"{what} indices must be integers or slices, got {type(i).__name__}")
    if not -n <= i < n:
        raise IndexError(f"{what} index {i} is out of range for {n} modules")
    return int(i) % n
