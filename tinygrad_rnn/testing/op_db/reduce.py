"""Op table: reductions (axis and keepdims drawn with the shape) and the softmax family."""
from __future__ import annotations

import numpy as np

from tinygrad_rnn.testing.opinfo import OpInfo, axis_keepdims, one_axis, shape, shuffled, unary

R, S = unary(axis_keepdims), unary(one_axis)


def _reduced(s, axis):
    """How many elements a reduction of shape s over axis (None, an int, a tuple) combines."""
    axes = range(len(s)) if axis is None else (axis,) if isinstance(axis, int) else axis
    return int(np.prod([s[a] for a in axes], dtype=np.int64))


def _var_params(pick, s):
    """axis, keepdims and a correction below the number of elements reduced (N > c)."""
    p = axis_keepdims(pick, s)
    p["correction"] = pick((0, 1)) if _reduced(s, p["axis"]) >= 2 else 0
    return p


def _std(pick):
    """Every axis of 2+ elements: with distinct values no reduction has std 0 (where sqrt
    has no derivative)."""
    s = shape(pick, min_dims=1, min_side=2)
    return [s], _var_params(pick, s)


def _with_zeros(pick):
    """(values on a small grid that holds 0 twice, so that groups have one zero or several,
    their shape)."""
    s = shape(pick)
    vals = [pick((-1.5, -0.5, 0.0, 0.0, 0.75, 1.25)) for _ in range(int(np.prod(s)))]
    return np.asarray(vals, dtype=np.float64).reshape(s), s


def _prod_with_zeros(pick):
    x, s = _with_zeros(pick)
    return [x], axis_keepdims(pick, s)


def _norm(pick):
    """p with the shape; finite p on nonzero values (away from the kink at 0); p = +-inf on
    values whose magnitudes are distinct (no ties for max |x|), built here."""
    s = shape(pick)
    params = dict(axis_keepdims(pick, s), p=pick((2, 1, 3, 1.5, 0.5, np.inf, -np.inf)))
    if np.isfinite(params["p"]):
        return [s], params
    vals = [(0.5 + 0.25 * k) * pick((-1.0, 1.0))
            for k in shuffled(pick, range(int(np.prod(s))))]
    return [np.asarray(vals, dtype=np.float64).reshape(s)], params


def _arg_params(pick, s):
    nd = len(s)
    return {"axis": pick((None,) + tuple(range(-nd, nd))), "keepdims": pick((False, True))}


def _at_arg(which):
    """x at its arg-max (arg-min), reached through the int64 indices: the max (min) itself,
    so the table checks argmax's indices by value and gradient."""
    def fn(x, axis, keepdims):
        i = getattr(x, which)(axis, keepdims=True).data
        if axis is None:
            y = x.reshape(-1)[i.reshape(-1)]
            return y.reshape(i.shape if keepdims else ())
        ax = axis % x.ndim
        grid = tuple(i if a == ax else np.arange(n).reshape([-1 if b == a else 1
                                                             for b in range(x.ndim)])
                     for a, n in enumerate(x.shape))
        y = x[grid]
        return y if keepdims else y.reshape(i.shape[:ax] + i.shape[ax + 1:])
    return fn


def _t_at_arg(which):
    def fn(x, axis, keepdims):
        import torch
        if axis is None:
            y = x.reshape(-1)[getattr(x, which)()]
            return y.reshape([1] * x.ndim) if keepdims else y
        y = torch.take_along_dim(x, getattr(x, which)(dim=axis, keepdim=True), dim=axis)
        return y if keepdims else y.squeeze(axis)
    return fn


def _np_cumsum(x, axis):
    return np.cumsum(x, axis=axis) if x.ndim else x.copy()


def _np_cumprod(x, axis):
    return np.cumprod(x, axis=axis) if x.ndim else x.copy()


def _cumprod_with_zeros(pick):
    x, s = _with_zeros(pick)
    return [x], one_axis(pick, s)


def _with_nans(pick):
    """Values on a small grid, NaN among them (nansum counts those as 0, with gradient 0)."""
    s = shape(pick)
    vals = [pick((-1.5, np.nan, 0.25, 1.0, np.nan, 1.75)) for _ in range(int(np.prod(s)))]
    return [np.asarray(vals, dtype=np.float64).reshape(s)], axis_keepdims(pick, s)


def _np_running(ufunc):
    def ref(x, axis):
        return ufunc.accumulate(x, axis=axis) if x.ndim else x.copy()
    return ref


def _np_logcumsumexp(x, axis):
    return np.log(np.cumsum(np.exp(x), axis=axis)) if x.ndim else x.copy()


def _np_norm(x, p, axis=None, keepdims=False):
    a = np.abs(x)
    if p == np.inf:
        return np.max(a, axis=axis, keepdims=keepdims)
    if p == -np.inf:
        return np.min(a, axis=axis, keepdims=keepdims)
    return np.sum(a ** p, axis=axis, keepdims=keepdims) ** x.dtype.type(1 / p)


def _np_logsumexp(x, axis=None, keepdims=False):
    return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))


def _np_log_softmax(x, axis=-1):
    return x - np.log(np.sum(np.exp(x), axis=axis, keepdims=True))


def _np_softmax(x, axis=-1):
    e = np.exp(x)
    return e / np.sum(e, axis=axis, keepdims=True)


# torch spellings (axis -> dim; None means every axis)
def dims(x, axis):
    return tuple(range(x.ndim)) if axis is None else axis


def _t_logsumexp(x, axis=None, keepdims=False):
    import torch
    return torch.logsumexp(x, dim=dims(x, axis), keepdim=keepdims)


def _t_var(x, axis, keepdims, correction):
    return x.var(dim=dims(x, axis), keepdim=keepdims, correction=correction)


def _t_std(x, axis, keepdims, correction):
    return x.std(dim=dims(x, axis), keepdim=keepdims, correction=correction)


def _t_norm(x, p, axis, keepdims):
    import torch
    return torch.linalg.vector_norm(x, ord=p, dim=dims(x, axis), keepdim=keepdims)


def _t_prod(x, axis, keepdims):
    axes = range(x.ndim) if axis is None else (axis,) if isinstance(axis, int) else axis
    for a in sorted((a % x.ndim for a in axes), reverse=True):  # torch.prod takes one dim
        x = x.prod(dim=a, keepdim=keepdims)
    return x


OPS: list = [
    OpInfo("sum", lambda x, axis, keepdims: x.sum(axis, keepdims),
           lambda x, axis, keepdims: np.sum(x, axis=axis, keepdims=keepdims), R, ("Sum",),
           torch=lambda x, axis, keepdims: x.sum(dim=dims(x, axis), keepdim=keepdims)),
    OpInfo("sum (dim=, keepdim=)", lambda x, axis, keepdims: x.sum(dim=axis, keepdim=keepdims),
           lambda x, axis, keepdims: np.sum(x, axis=axis, keepdims=keepdims), R, ("Sum",)),
    OpInfo("mean", lambda x, axis, keepdims: x.mean(axis, keepdims),
           lambda x, axis, keepdims: np.mean(x, axis=axis, keepdims=keepdims), R,
           ("Sum", "Div"), composed=True,
           torch=lambda x, axis, keepdims: x.mean(dim=dims(x, axis), keepdim=keepdims)),
    OpInfo("max", lambda x, axis, keepdims: x.max(axis, keepdims),
           lambda x, axis, keepdims: np.max(x, axis=axis, keepdims=keepdims), R, ("Max",),
           "distinct", torch=lambda x, axis, keepdims: x.amax(dim=dims(x, axis), keepdim=keepdims)),
    OpInfo("min", lambda x, axis, keepdims: x.min(axis, keepdims),
           lambda x, axis, keepdims: np.min(x, axis=axis, keepdims=keepdims), R, ("Min",),
           "distinct", torch=lambda x, axis, keepdims: x.amin(dim=dims(x, axis), keepdim=keepdims)),
    OpInfo("logsumexp", lambda x, axis, keepdims: x.logsumexp(axis, keepdims), _np_logsumexp, R,
           ("LogSumExp",), torch=_t_logsumexp),
    OpInfo("softmax", lambda x, axis: x.softmax(axis), _np_softmax, S, ("LogSoftmax", "Exp"),
           composed=True, torch=lambda x, axis: x.softmax(axis)),
    OpInfo("log_softmax", lambda x, axis: x.log_softmax(axis), _np_log_softmax, S,
           ("LogSoftmax",), torch=lambda x, axis: x.log_softmax(axis)),
    OpInfo("var", lambda x, **k: x.var(**k),
           lambda x, axis, keepdims, correction: np.var(x, axis=axis, keepdims=keepdims,
                                                        ddof=correction),
           unary(_var_params), ("Var",), torch=_t_var),
    OpInfo("std", lambda x, **k: x.std(**k),
           lambda x, axis, keepdims, correction: np.std(x, axis=axis, keepdims=keepdims,
                                                        ddof=correction),
           _std, ("Std",), "distinct", torch=_t_std),
    OpInfo("prod", lambda x, axis, keepdims: x.prod(axis, keepdims),
           lambda x, axis, keepdims: np.prod(x, axis=axis, keepdims=keepdims), R, ("Prod",),
           torch=_t_prod),
    OpInfo("prod with zeros", lambda x, axis, keepdims: x.prod(axis, keepdims),
           lambda x, axis, keepdims: np.prod(x, axis=axis, keepdims=keepdims),
           _prod_with_zeros, ("Prod",), torch=_t_prod),
    OpInfo("norm", lambda x, **k: x.norm(**k), _np_norm, _norm, ("Norm",), "nonzero",
           torch=_t_norm),
    OpInfo("cumsum", lambda x, axis: x.cumsum(axis), _np_cumsum, S, ("CumSum",),
           torch=lambda x, axis: x.cumsum(axis)),
    OpInfo("cumprod", lambda x, axis: x.cumprod(axis), _np_cumprod, S, ("CumProd",),
           torch=lambda x, axis: x.cumprod(axis)),
    OpInfo("cumprod with zeros", lambda x, axis: x.cumprod(axis), _np_cumprod,
           _cumprod_with_zeros, ("CumProd",), torch=lambda x, axis: x.cumprod(axis)),
    OpInfo("nansum", lambda x, axis, keepdims: x.nansum(axis, keepdims),
           lambda x, axis, keepdims: np.nansum(x, axis=axis, keepdims=keepdims), _with_nans,
           ("Logical", "Where", "Sum"), composed=True,
           torch=lambda x, axis, keepdims: x.nansum(dim=dims(x, axis), keepdim=keepdims)),
    OpInfo("cummax (values)", lambda x, axis: x.cummax(axis)[0], _np_running(np.maximum), S,
           ("Gather",), "distinct", composed=True, torch=lambda x, axis: x.cummax(axis).values),
    OpInfo("cummin (values)", lambda x, axis: x.cummin(dim=axis).values,
           _np_running(np.minimum), S, ("Gather",), "distinct", composed=True,
           torch=lambda x, axis: x.cummin(axis).values),
    OpInfo("logcumsumexp", lambda x, axis: x.logcumsumexp(axis), _np_logcumsumexp, S,
           ("LogCumSumExp",), torch=lambda x, axis: x.logcumsumexp(axis)),
    OpInfo("argmax (x at the arg-max)", _at_arg("argmax"),
           lambda x, axis, keepdims: np.max(x, axis=axis, keepdims=keepdims),
           unary(_arg_params), ("GetItem", "Reshape"), "distinct", torch=_t_at_arg("argmax"),
           composed=True),
    OpInfo("argmin (x at the arg-min)", _at_arg("argmin"),
           lambda x, axis, keepdims: np.min(x, axis=axis, keepdims=keepdims),
           unary(_arg_params), ("GetItem", "Reshape"), "distinct", torch=_t_at_arg("argmin"),
           composed=True),
]
