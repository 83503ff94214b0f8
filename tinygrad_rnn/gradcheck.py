"""Numerical gradient checking: float64 central differences against the analytic backward."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from tinygrad_rnn import autograd
from tinygrad_rnn.tensor import Tensor

# full Jacobian when (output size x input size) is at most this; random projections above
_FULL_JACOBIAN_LIMIT = 4096
_PROJECTIONS = 3


class GradcheckError(AssertionError):
    """Raised by gradcheck when an analytic gradient disagrees with finite differences."""


def _as_float64_inputs(inputs: Sequence[Any]) -> list:
    """The inputs gradcheck differentiates: every floating tensor as a float64 copy in C
    order (the finite differences perturb a flat view of it), so the function sees them
    only through its arguments; integer inputs (indices, targets) pass through."""
    return [Tensor(x.data.astype(np.float64, order="C"), requires_grad=x.requires_grad)
            if isinstance(x, Tensor) and x.dtype.kind == "f" else x for x in inputs]


class _Restored:
    """Puts an input's values back as they were when the block ends, even on an error."""

    def __init__(self, x: Tensor):
        self.flat = x.data.reshape(-1)  # a view: the input is C-contiguous

    def __enter__(self) -> np.ndarray:
        self.saved = self.flat.copy()
        return self.flat

    def __exit__(self, *exc: Any) -> None:
        self.flat[:] = self.saved


def _check_reached(out: Tensor, given: Sequence[Any], xs: list, wrt_idx: list) -> None:
    """Refuse a copy that the output does not depend on while it does depend on the tensor
    given (fn closes over it, e.g. a module's own parameter): both Jacobians of the copy
    would be zeros and pass unchecked. (An input that fn does not use at all is fine, as in
    PyTorch: its Jacobians are zeros on both sides.)"""
    copied = [i for i in wrt_idx if xs[i] is not given[i] and given[i].requires_grad]
    if not copied:
        return
    pairs = [xs[i] for i in copied] + [given[i] for i in copied]
    grads = autograd.grad(out, pairs, np.ones(out.shape, out.dtype), retain_graph=True,
                          allow_unused=True)
    n = len(copied)
    for i, g_copy, g_given in zip(copied, grads[:n], grads[n:]):
        if g_copy is None and g_given is not None:
            raise ValueError(
                f"gradcheck: fn uses input {i} (shape {given[i].shape}, {given[i].dtype}) "
                f"itself rather than the argument it is passed, so its gradient would not be "
                f"checked: gradcheck passes fn a float64 copy of every floating input. "
                f"Compute from the arguments; for a module's parameters call it as "
                f"nn.utils.functional_call(module, {{'weight': w, ...}}, x), or check a "
                f"recurrent cell or layer with tinygrad_rnn.testing.modules.gradcheck_module("
                f"module, x, state).")


def _output(fn: Callable, inputs: list) -> Tensor:
    out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    if not np.issubdtype(out.dtype, np.floating):
        raise TypeError(f"gradcheck: fn must return a floating tensor, got dtype {out.dtype}")
    return out


def _numeric_jacobian(fn: Callable, inputs: list, x: Tensor, eps: float, n_out: int) -> np.ndarray:
    """J[k, j] = d out_k / d x_j by central differences."""
    jac = np.zeros((n_out, x.size))
    with _Restored(x) as flat:
        for j in range(flat.size):
            orig = flat[j]
            flat[j] = orig + eps
            plus = _output(fn, inputs).data.astype(np.float64).reshape(-1)
            flat[j] = orig - eps
            minus = _output(fn, inputs).data.astype(np.float64).reshape(-1)
            flat[j] = orig
            with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: reported
                jac[:, j] = (plus - minus) / (2 * eps)
    return jac


def _analytic_jacobian(fn: Callable, inputs: list, wrt: list, n_out: int, shape: tuple) -> list:
    """One backward per output element, rows of the Jacobian for every input in `wrt`."""
    jacs = [np.zeros((n_out, x.size)) for x in wrt]
    for k in range(n_out):
        out = _output(fn, inputs)
        seed = np.zeros(n_out)
        seed[k] = 1
        grads = autograd.grad(out, wrt, seed.reshape(shape).astype(out.dtype),
                              materialize_grads=True)
        for jac, g in zip(jacs, grads):
            jac[k] = g.data.reshape(-1)
    return jacs


def _one_sided_disagree(fn: Callable, inputs: list, x: Tensor, j: int, k: int, eps: float,
                        atol: float, rtol: float) -> bool:
    """True when left and right differences at element j differ: a kink, not a wrong backward."""
    with _Restored(x) as flat:
        orig = flat[j]
        f0 = _output(fn, inputs).data.astype(np.float64).reshape(-1)[k]
        flat[j] = orig + eps
        right = (_output(fn, inputs).data.astype(np.float64).reshape(-1)[k] - f0) / eps
        flat[j] = orig - eps
        left = (f0 - _output(fn, inputs).data.astype(np.float64).reshape(-1)[k]) / eps
    return abs(right - left) > atol + rtol * max(abs(right), abs(left)) + 10 * eps


def gradcheck(fn: Callable[..., Tensor], inputs: Sequence[Any], eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """Compare the analytic gradient of `fn` for every input that requires grad with central
    finite differences, on float64 copies of the inputs (fn using a given tensor itself
    instead of its copy, e.g. a module's own parameter, is refused: it would check nothing).

    Small problems compare the full Jacobian; large ones compare random projections
    v^T J u and fall back to the full Jacobian to explain a mismatch. Returns True, or raises
    GradcheckError (returns False when raise_exception=False) naming the input, the worst
    index, the analytic and numeric values and their error.
    """
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    xs = _as_float64_inputs(inputs)
    wrt_idx = [i for i, x in enumerate(xs) if isinstance(x, Tensor) and x.requires_grad]
    if not wrt_idx:
        raise ValueError("gradcheck: no input requires grad; nothing to check")
    before = [xs[i].data.copy() for i in wrt_idx]
    out = _output(fn, xs)
    for i, b in zip(wrt_idx, before):
        if not np.array_equal(xs[i].data, b, equal_nan=True):
            raise ValueError(f"gradcheck: fn changed input {i} (shape {xs[i].shape}) in place; "
                             f"finite differences need fn to leave its inputs as they are. "
                             f"Compute on a copy (e.g. y = x * 1, or np.tanh(x) rather than "
                             f"np.tanh(x, out=x) in a Function's forward)")
    if out.dtype != np.float64:
        raise TypeError(f"gradcheck: fn returned dtype {out.dtype} for float64 inputs; "
                        "compute in the inputs' dtype so differences are not lost to rounding")
    n_out, shape = out.size, out.shape
    wrt = [xs[i] for i in wrt_idx]
    if n_out:
        _check_reached(out, inputs, xs, wrt_idx)
    rng = np.random.default_rng(0)

    failure = None
    for i, x in zip(wrt_idx, wrt):
        if x.size == 0 or n_out == 0:
            continue
        if n_out * x.size <= _FULL_JACOBIAN_LIMIT:
            failure = _compare_full(fn, xs, x, i, n_out, shape, eps, atol, rtol)
        else:
            for _ in range(_PROJECTIONS):
                v = rng.standard_normal(n_out)
                u = rng.standard_normal(x.size)
                (g,) = autograd.grad(_output(fn, xs), [x], v.reshape(shape),
                                     materialize_grads=True)
                analytic = float(g.data.reshape(-1) @ u)
                with _Restored(x) as flat:
                    orig = flat.copy()
                    flat += eps * u
                    plus = float(_output(fn, xs).data.reshape(-1) @ v)
                    flat[:] = orig - eps * u
                    minus = float(_output(fn, xs).data.reshape(-1) @ v)
                numeric = (plus - minus) / (2 * eps)
                # spelled so that NaN or inf on either side is a mismatch (NaN fails `>` too)
                if not (np.isfinite(analytic) and np.isfinite(numeric)
                        and abs(analytic - numeric) <= atol + rtol * abs(numeric)):
                    failure = _compare_full(fn, xs, x, i, n_out, shape, eps, atol, rtol)
                    if failure is None:  # the projection alone disagreed
                        failure = (f"gradcheck failed for input {i} (shape {x.shape}): a random "
                                   f"projection v^T J u gave analytic {analytic:.6g}, numeric "
                                   f"{numeric:.6g}, abs error {abs(analytic - numeric):.3g}")
                    break
        if failure:
            break
    if failure is None:
        return True
    if raise_exception:
        raise GradcheckError(failure)
    return False


def _compare_full(fn, xs, x, i, n_out, shape, eps, atol, rtol) -> str | None:
    numeric = _numeric_jacobian(fn, xs, x, eps, n_out)
    (analytic,) = _analytic_jacobian(fn, xs, [x], n_out, shape)
    with np.errstate(invalid="ignore"):  # inf - inf: a NaN error, caught below
        err = np.abs(analytic - numeric)
    # NaN fails every comparison, and inf <= inf holds: non-finite entries are bad by name,
    # and argmax below picks them first (NaN and inf errors are the largest)
    bad = ~(err <= atol + rtol * np.abs(numeric)) | ~np.isfinite(err)
    if not bad.any():
        return None
    k, j = np.unravel_index(np.argmax(np.where(bad, err, -1)), err.shape)
    index = np.unravel_index(j, x.shape) if x.ndim else ()
    out_index = np.unravel_index(k, shape) if len(shape) else ()
    a, n = analytic[k, j], numeric[k, j]
    where = (f"input {i} (shape {x.shape}) at index {tuple(int(t) for t in index)}, "
             f"output index {tuple(int(t) for t in out_index)}")
    if not np.isfinite(n):
        y = _output(fn, xs).data.reshape(-1)[k]
        if not np.isfinite(y):  # then the whole Jacobian row is NaN: name the output only
            where = f"output index {tuple(int(t) for t in out_index)} (input {i})"
            cause = f"the output there is {y:.6g}"
        else:
            cause = f"the output becomes NaN or infinite within eps={eps} of the input"
        return (f"gradcheck: the function is not finite at {where}: {cause}; numeric "
                f"{n:.6g}, analytic {a:.6g}. Check the gradient at inputs where fn is finite.")
    if not np.isfinite(a):
        return (f"gradcheck failed for {where}: the analytic gradient is not finite: "
                f"analytic {a:.6g}, numeric {n:.6g} ({int(bad.sum())} of {bad.size} Jacobian "
                f"entries beyond atol={atol}, rtol={rtol} or not finite)")
    if _one_sided_disagree(fn, xs, x, j, k, eps, atol, rtol):
        return (f"gradcheck: the function is not differentiable at {where}: left and right "
                f"finite differences disagree (a kink such as relu at 0 or a tie in max); "
                f"analytic {a:.6g}, numeric {n:.6g}. Move the input away from the kink.")
    rel = err[k, j] / max(abs(n), 1e-300)
    return (f"gradcheck failed for {where}: analytic {a:.6g}, numeric {n:.6g}, "
            f"abs error {err[k, j]:.3g}, rel error {rel:.3g} "
            f"({int(bad.sum())} of {bad.size} Jacobian entries beyond atol={atol}, rtol={rtol})")


def max_gradient_error(fn: Callable[..., Tensor], inputs: Sequence[Any],
                       eps: float = 1e-6) -> tuple:
    """(largest |analytic - numeric| Jacobian entry, largest |numeric| entry) over every input
    that requires grad, in float64 as gradcheck takes them: its own Jacobians, for reporting."""
    xs = _as_float64_inputs(inputs if not isinstance(inputs, Tensor) else (inputs,))
    out = _output(fn, xs)
    worst, scale = 0.0, 0.0
    for x in xs:
        if not (isinstance(x, Tensor) and x.requires_grad) or x.size == 0 or out.size == 0:
            continue
        numeric = _numeric_jacobian(fn, xs, x, eps, out.size)
        (analytic,) = _analytic_jacobian(fn, xs, [x], out.size, out.shape)
        worst = max(worst, float(np.max(np.abs(analytic - numeric))))
        scale = max(scale, float(np.max(np.abs(numeric))))
    return worst, scale
