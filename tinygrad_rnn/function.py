"""Function: the unit of the graph. Every op, built-in or user-written, subclasses it.

A Function instance is also the context (`ctx`) its static `forward` / `backward` receive:
it keeps the parents (an ordered tuple of Tensors), which of them need a gradient, and the
arrays that backward needs. Grad mode is a single flag flipped by `no_grad()`.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np


_grad_enabled = True


def is_grad_enabled() -> bool:
    """Whether new results record the graph that made them."""
    return _grad_enabled


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Record nothing inside the block: results have requires_grad=False."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous


@contextlib.contextmanager
def enable_grad() -> Iterator[None]:
    """Record the graph inside the block even within `no_grad()`."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, True
    try:
        yield
    finally:
        _grad_enabled = previous


class Function:
    """Base class of every differentiable op.

    Subclasses define two static methods on plain ndarrays::

        forward(ctx, *arrays, **kwargs) -> ndarray
        backward(ctx, grad) -> ndarray | tuple   # one gradient per array input, None where none

    and are called as ``MyOp.apply(*tensors, **kwargs)``. Non-Tensor positional arguments
    (ndarrays, Python numbers) are treated as constants.
    """

    __slots__ = ("parents", "needs_input_grad", "saved_arrays", "released", "__dict__")

    def __init__(self, parents: tuple, needs_input_grad: tuple):
        self.parents = parents
        self.needs_input_grad = needs_input_grad
        self.saved_arrays: tuple = ()
        self.released = False

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
    def apply(cls, *args: Any, **kwargs: Any) -> "_tensor.Tensor":
        """Run forward on the inputs' arrays; record the node when an input needs a gradient."""
        Tensor = _tensor.Tensor
        parents = tuple(a if isinstance(a, Tensor) else Tensor(a) for a in args)
        needs = tuple(p.requires_grad for p in parents)
        record = _grad_enabled and any(needs)
        ctx = cls(parents if record else (), needs)
        out = cls.forward(ctx, *[p.data for p in parents], **kwargs)
        if not isinstance(out, np.ndarray):
            out = np.asarray(out)
        if record and out.dtype.kind != "f":
            record = False  # integer and boolean results never carry a gradient
        result = Tensor.__new__(Tensor)
        result.data = out
        result.grad = None
        if record:
            result.requires_grad = True
            result._ctx = ctx
        else:
            result.requires_grad = False
            result._ctx = None
        return result

    def __repr__(self) -> str:
        return f"<{type(self).__name__} with {len(self.parents)} parents>"


# module reference, resolved at call time (tensor.py imports this module first)
from tinygrad_rnn import tensor as _tensor  # noqa: E402
