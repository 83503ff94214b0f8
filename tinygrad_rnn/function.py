"""Function: the unit of the graph. Every op, built-in or user-written, subclasses it.

A Function instance is also the context (`ctx`) its static `forward` / `backward` receive:
it keeps the parents (an ordered tuple of Tensors), which of them need a gradient, and the
arrays that backward needs. Grad mode is a single flag flipped by `no_grad()`.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import itertools
import threading
import weakref
from typing import Any, Callable, Iterator

import numpy as np


class _GradState(threading.local):
    """Whether results record the graph, per thread as PyTorch's grad mode: a no_grad()
    in one thread leaves the others recording, and every thread starts recording."""

    enabled = True


_grad = _GradState()
_generation = itertools.count()
# what watches every op (the sequence compiler's recorder, anomaly detection, the profiler):
# None, one Observer, or several combined; the hot path tests it and nothing else
observer = None
_observers: list = []
# generation of the latest in-place change of any tensor: backward checks saved arrays only
# for nodes older than it
last_inplace = -1


# generation of the latest in-place change of each memory buffer, by id of the array that
# owns it: views, detached tensors and from_numpy tensors share their buffer's version
_buffer_versions: dict = {}


def buffer_of(a: np.ndarray) -> np.ndarray:
    """The array that owns a's memory (a itself, or the end of its chain of bases)."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def mark_modified(t: "_tensor.Tensor") -> None:
    """Record that t's data was changed in place (in-place ops, setitem, optimizer steps), so
    that a backward through an op that saved it (or any view of the same memory) raises
    instead of using the new values."""
    global last_inplace
    last_inplace = next(_generation)
    owner = buffer_of(t.data)
    key = id(owner)
    if key not in _buffer_versions:
        weakref.finalize(owner, _buffer_versions.pop, key, None)
    _buffer_versions[key] = last_inplace


def buffer_version(a: np.ndarray) -> int:
    """Generation of the latest in-place change of a's memory (-1: never changed)."""
    return _buffer_versions.get(id(buffer_of(a)), -1)


class Observer:
    """Watches ops as they run: subclasses override what they need (all default to nothing).

    before(cls) and after(cls, ctx, args, kwargs, result) bracket every Function.apply;
    backward_before(ctx) / backward_after(ctx, grads, input_grads) bracket every node's
    backward; read(how) is called when a tensor's value is read into Python, and
    modify(how) just before a tensor is changed in place (it may raise to prevent it);
    number(t) when a Python number written in the code becomes the constant tensor t.
    """

    def before(self, cls: type) -> None:
        pass

    def after(self, cls: type, ctx: "Function", args: tuple, kwargs: dict, result: Any) -> None:
        pass

    def backward_before(self, ctx: "Function") -> None:
        pass

    def backward_after(self, ctx: "Function", grads: Any, input_grads: tuple) -> None:
        pass

    def read(self, how: str) -> None:
        pass

    def modify(self, how: str) -> None:
        pass

    def number(self, t: "_tensor.Tensor") -> None:
        pass


class _Several(Observer):
    """Several observers at once, called in the order they were started."""

    def __init__(self, observers: list):
        self.observers = observers

    def before(self, cls):
        for o in self.observers:
            o.before(cls)

    def after(self, cls, ctx, args, kwargs, result):
        for o in self.observers:
            o.after(cls, ctx, args, kwargs, result)

    def backward_before(self, ctx):
        for o in self.observers:
            o.backward_before(ctx)

    def backward_after(self, ctx, grads, input_grads):
        for o in self.observers:
            o.backward_after(ctx, grads, input_grads)

    def read(self, how):
        for o in self.observers:
            o.read(how)

    def modify(self, how):
        for o in self.observers:
            o.modify(how)

    def number(self, t):
        for o in self.observers:
            o.number(t)


def as_number(value: Any, dtype: Any = None) -> "_tensor.Tensor":
    """A Python number (int, float, bool) or NumPy scalar as a 0-d constant tensor; an
    observer is told that it is a number written in the code (the compiled path takes such
    numbers as constants, where a tensor made from data inside a step must not be frozen)."""
    t = _tensor.Tensor(np.asarray(value, dtype=dtype))
    if observer is not None:
        observer.number(t)
    return t


def start_observing(obs: Observer) -> None:
    """Let `obs` watch every op from now on (observers combine)."""
    global observer
    _observers.append(obs)
    observer = obs if len(_observers) == 1 else _Several(list(_observers))


def stop_observing(obs: Observer) -> None:
    global observer
    if obs in _observers:
        _observers.remove(obs)
    observer = (None if not _observers else _observers[0] if len(_observers) == 1
                else _Several(list(_observers)))


@contextlib.contextmanager
def observe(obs: Observer) -> Iterator[Observer]:
    """Let `obs` watch every op inside the block (observers nest and combine)."""
    start_observing(obs)
    try:
        yield obs
    finally:
        stop_observing(obs)


def observing(kind: type) -> bool:
    """Whether an observer of this class is active."""
    return any(isinstance(o, kind) for o in _observers)


def is_grad_enabled() -> bool:
    """Whether new results record the graph that made them."""
    return _grad.enabled


def _set_grad(mode: bool) -> bool:
    """Set whether the graph is recorded in this thread; the mode before."""
    previous, _grad.enabled = _grad.enabled, bool(mode)
    return previous


class _GradMode:
    """A grad mode as PyTorch's: a context manager (reusable, nesting), and a decorator of
    functions and generators (each resumption, throw and close runs in the mode) with or
    without ()."""

    mode = True

    def __new__(cls, fn: Any = None):
        self = super().__new__(cls)
        if fn is None:
            return self
        self._saved = []
        return self(fn)  # @no_grad without parentheses

    def __init__(self) -> None:
        self._saved: list = []

    def _clone(self) -> "_GradMode":
        return type(self)()

    def __enter__(self) -> None:
        self._saved.append(_set_grad(self.mode))

    def __exit__(self, *exc: Any) -> None:
        _set_grad(self._saved.pop())

    def __call__(self, fn: Callable) -> Callable:
        clone = self._clone
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def generator(*args: Any, **kwargs: Any) -> Any:
                gen = fn(*args, **kwargs)
                try:  # (PyTorch's recipe: every resumption of gen runs in the mode)
                    with clone():
                        value = next(gen)
                    while True:
                        try:
                            sent = yield value
                        except GeneratorExit:
                            with clone():
                                gen.close()
                            raise
                        except BaseException as e:
                            with clone():
                                value = gen.throw(e)
                        else:
                            with clone():
                                value = gen.send(sent)
                except StopIteration as stop:
                    return stop.value
            return generator

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with clone():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradMode):
    """Record nothing inside the block (or the decorated function): results have
    requires_grad=False."""

    mode = False


class enable_grad(_GradMode):
    """Record the graph inside the block (or the decorated function) even within
    `no_grad()`."""

    mode = True


class set_grad_enabled(_GradMode):
    """set_grad_enabled(mode): record the graph or not from now on; as a context manager
    or a decorator, only inside it (PyTorch's: the mode before is restored after)."""

    def __new__(cls, mode: bool):
        return object.__new__(cls)

    def __init__(self, mode: bool) -> None:
        if not isinstance(mode, (bool, np.bool_)):
            raise TypeError(f"set_grad_enabled: mode must be a bool, got "
                            f"{type(mode).__name__} {mode!r}")
        self.mode = bool(mode)
        self.prev = _set_grad(self.mode)

    def _clone(self) -> "set_grad_enabled":
        return type(self)(self.mode)

    def __enter__(self) -> None:
        _set_grad(self.mode)

    def __exit__(self, *exc: Any) -> None:
        _set_grad(self.prev)

    def __call__(self, fn: Callable) -> Callable:
        _set_grad(self.prev)  # (as a decorator it changes nothing until the call)
        return super().__call__(fn)


class IndexedGrad:
    """A gradient that is zero everywhere except at `x[index]`, where it is `values`.

    The backward of indexing returns one, so that the engine adds it into a single gradient
    buffer in place: backprop through T per-step slices of a (T, ...) tensor then costs
    O(T) in all, not O(T**2) for T dense zero arrays. `dense()` gives the ndarray.
    """

    __slots__ = ("index", "values", "shape", "advanced")

    def __init__(self, index, values: np.ndarray, shape: tuple, advanced: bool):
        self.index, self.values, self.shape, self.advanced = index, values, shape, advanced

    def add_to(self, buffer: np.ndarray) -> None:
        """buffer[index] += values, accumulating repeated indices."""
        if self.advanced:
            np.add.at(buffer, self.index, self.values)
        else:
            buffer[self.index] += self.values  # basic slicing selects each element once

    def write_to(self, buffer: np.ndarray) -> None:
        """add_to for a buffer that is zero at index: a copy where each element is selected
        once (about 3x cheaper than adding to the zeros), the accumulating add otherwise."""
        if self.advanced:
            np.add.at(buffer, self.index, self.values)
        else:
            buffer[self.index] = self.values

    def dense(self, dtype=None) -> np.ndarray:
        out = np.zeros(self.shape, dtype=dtype or self.values.dtype)
        self.write_to(out)
        return out


class Function:
    """Base class of every differentiable op.

    Subclasses define two static methods on plain ndarrays::

        forward(ctx, *arrays, **kwargs) -> ndarray | tuple of ndarrays
        backward(ctx, *grads) -> ndarray | tuple   # one gradient per input, None where none

    and are called as ``MyOp.apply(*tensors, **kwargs)``. Non-Tensor positional arguments
    (ndarrays, Python numbers) are treated as constants; Tensor keyword arguments are inputs
    (their gradients follow the positional ones). backward receives one gradient per output:
    a forward that returns a tuple gets one per element (zeros for an output that got none).
    """

    __slots__ = ("parents", "seq", "__dict__")
    saved_arrays: tuple = ()  # a class default: ops that save nothing never set it
    # how the op runs on inputs with one more leading (time) axis, for the sequence compiler:
    # over_time(kwargs, shapes, stacked) -> kwargs for that call, or None where it cannot;
    # None here: the op is not declared, and a step that uses it runs on the eager loop
    over_time = None
    # optional: prepare(kwargs, fixed) -> extra keyword arrays for forward, given the inputs
    # that stay the same at every step ({index: array}), computed once per sequence (e.g. a
    # contiguous transposed weight for a faster product)
    prepare = None
    outputs: tuple = ()  # (shape, dtype) of each output, for a Function with several outputs
    # True: backward gets None (not zeros) for an output that got no gradient (the sequence
    # compiler's Scan, which then gives nothing to what only reached unused results)
    none_for_missing = False
    # (seq, row): output `row` is output `seq`'s last row, as one tensor in the eager graph
    # (the sequence compiler's Scan: the final state and the last output); hooks, retain_grad
    # and grad() on output `row` then see the gradient of both (autograd._fold_last_row)
    last_row_of = None
    # False for an op whose results never take a gradient, so that no node is ever recorded
    # (comparisons, detach): the op table's gradcheck walk does not look for it in graphs
    differentiable = True
    # per saved array, the inputs whose gradients read it, where each saved array is read by
    # a few only (x * w, x @ w: w serves x's gradient alone); None: all of them. An in-place
    # change of a saved array matters to backward only when one of those takes a gradient
    saved_for = None
    # ((inputs), (outputs)) whose axis 0 is time (the fused sequence layers): an anomaly
    # report names the time step and the index within it for those arrays only
    time_axes = None

    @property
    def released(self) -> bool:
        """True once backward has freed this node (its parents become None)."""
        return self.parents is None

    def __init__(self, parents: tuple = ()):
        self.parents = parents

    @property
    def needs_input_grad(self) -> tuple:
        """For each input, whether it requires a gradient (backward may skip the others)."""
        return tuple([p.requires_grad for p in self.parents])

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep arrays (or anything else) for backward; read them back as `ctx.saved_arrays`."""
        self.saved_arrays = arrays

    @staticmethod
    def forward(ctx: "Function", *arrays: np.ndarray, **kwargs: Any) -> np.ndarray:
        raise NotImplementedError("a Function subclass must define a static forward(ctx, *arrays)")

    @staticmethod
    def backward(ctx: "Function", grad: np.ndarray) -> Any:
        raise NotImplementedError("a Function subclass must define a static backward(ctx, grad)")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run forward on the inputs' arrays; record the node when an input needs a gradient.

        Tensors among the keyword arguments are inputs too: their arrays go to forward under
        the same keywords, and backward returns their gradients after the positional ones, in
        keyword order. A forward that returns a tuple gives a tuple of Tensors.
        """
        Tensor = _tensor.Tensor
        ctx = cls.__new__(cls)
        obs = observer
        if obs is not None:
            obs.before(cls)
        # unrolled for one and two Tensor inputs without options: the engine's per-op overhead
        try:  # free unless forward raises; then the error gets the op's name and shapes
            if len(args) == 2 and not kwargs and isinstance(args[0], Tensor) \
                    and isinstance(args[1], Tensor):
                x, y = args
                out = cls.forward(ctx, x.data, y.data)
                needs = x.requires_grad or y.requires_grad
            elif len(args) == 1 and not kwargs and isinstance(args[0], Tensor):
                out = cls.forward(ctx, args[0].data)
                needs = args[0].requires_grad
            else:
                for a in args:
                    if not isinstance(a, Tensor):  # constants (arrays, numbers) become Tensors
                        args = tuple(a if isinstance(a, Tensor) else as_number(a) if
                                     isinstance(a, (int, float, bool, np.generic)) else Tensor(a)
                                     for a in args)
                        break
                keyed: tuple = ()
                arrays = kwargs
                if kwargs:  # keyword Tensors are inputs too, after the positional ones
                    keyed = tuple(v for v in kwargs.values() if isinstance(v, Tensor))
                    if keyed:
                        arrays = {k: v.data if isinstance(v, Tensor) else v
                                  for k, v in kwargs.items()}
                out = cls.forward(ctx, *[a.data for a in args], **arrays)
                args = args + keyed
                needs = False
                for a in args:
                    if a.requires_grad:
                        needs = True
                        break
        except ValueError as e:
            raise _named_error(cls, args, e) from None
        ctx.parents = args  # kept even when not recording: ctx is dropped with it then
        if out.__class__ is not np.ndarray:
            if out.__class__ is tuple:
                outs = _several_outputs(ctx, out, needs and _grad.enabled)
                if obs is not None:
                    obs.after(cls, ctx, args, kwargs, outs)
                return outs
            out = np.asarray(out)
        result = Tensor.__new__(Tensor)
        result.data = out
        result._grad = None  # (the slot itself: the property's check is for users)
        if needs and _grad.enabled and out.dtype.kind == "f":
            ctx.seq = next(_generation)  # newer than every input: backward's topological key
            result.requires_grad = True
            result._ctx = ctx
        else:
            result.requires_grad = False
            result._ctx = None
        if obs is not None:
            obs.after(cls, ctx, args, kwargs, result)
        return result

    def __repr__(self) -> str:
        if self.parents is None:
            return f"<{type(self).__name__}, released by backward>"
        return f"<{type(self).__name__} with {len(self.parents)} parents>"


def _several_outputs(ctx: Function, arrays: tuple, record: bool) -> tuple:
    """One Tensor per output array, all made by the same node (recorded when `record`)."""
    outs = []
    for a in arrays:
        t = _tensor.OutputTensor.__new__(_tensor.OutputTensor)
        t.data = a if a.__class__ is np.ndarray else np.asarray(a)
        t._grad = None
        t.requires_grad = record and t.data.dtype.kind == "f"
        t._ctx = ctx if t.requires_grad else None
        outs.append(t)
    if any(t.requires_grad for t in outs):
        ctx.seq = next(_generation)
        ctx.outputs = tuple((t.data.shape, t.data.dtype) for t in outs)
        ctx.output_ids = tuple(id(t) for t in outs)  # which output a consumer's input is
    return tuple(outs)


def _named_error(cls: type, args: tuple, e: ValueError) -> ValueError:
    """e, prefixed with the op's name and its input shapes unless its message names the op."""
    msg = str(e)
    if msg.lower().replace("_", "").startswith(cls.__name__.lower()):
        return e  # already names the op, as the built-in ops' own checks do
    shapes = " and ".join(str(np.shape(a.data if isinstance(a, _tensor.Tensor) else a))
                          for a in args)
    return ValueError(f"{cls.__name__}: {msg.strip()} (input shapes {shapes})")




# ----- how ops run over a leading time axis (Function.over_time), for the sequence compiler
def same_over_time(kwargs: dict, shapes: tuple, stacked: tuple) -> dict | None:
    """An op that works element by element on broadcast inputs: the same options, when every
    input with a time axis has the rank of the widest input (so the time axes line up)."""
    r = max(len(s) for s in shapes)
    return kwargs if all(len(s) == r for s, st in zip(shapes, stacked) if st) else None


def _shift(axis: Any) -> Any:
    if isinstance(axis, (tuple, list)):
        return tuple(_shift(a) for a in axis)
    return axis + 1 if axis >= 0 else axis


def axis_over_time(*names: str) -> Any:
    """An op whose options `names` are axes (an int or a tuple; None means every axis): with
    every input stacked, non-negative axes move one place right; None cannot (it would
    reduce over time too)."""
    def rule(kwargs: dict, shapes: tuple, stacked: tuple) -> dict | None:
        if not all(stacked) or any(kwargs.get(n) is None for n in names):
            return None
        return {**kwargs, **{n: _shift(kwargs[n]) for n in names}}
    return staticmethod(rule)


# module reference, resolved at call time (tensor.py imports this module first)
from tinygrad_rnn import tensor as _tensor  # noqa: E402
