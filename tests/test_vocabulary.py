"""The vocabulary of custom models, name by name (SPEC "Additions": "Tensor: the vocabulary of
custom models", "nn.functional and nn additions", "Functions with several outputs").

Each name exists with the SPEC's signature (the Tensor method, the module function of the same
name, `F.*` and the `nn` modules); `dim=`/`keepdim=` are accepted wherever an axis is taken
and passing both spellings is a TypeError; and every differentiable name is reached by a line
of the op table (found by tracing each line's fn), so `tests/test_ops.py` and
`tinygrad-rnn gradcheck` check its values and gradients. Semantics in depth live in the
per-family test files (test_ops_*.py, test_inplace.py, test_several_outputs.py, ...).
"""
from __future__ import annotations

import functools
import inspect
import sys

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Function, Tensor, function, nn, no_grad
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.testing.op_db import OPS
from tinygrad_rnn.testing.opinfo import bind, numpy_case

REQUIRED = inspect.Parameter.empty

# SPEC signatures. A parameter is "name" (required), ("name", default) or "*name"; the first
# parameter of a module function (the tensor) may have any name. Parameters beyond the SPEC's
# are allowed when they have defaults (PyTorch extras such as var's unbiased=).
_REDUCE = [("axis", None), ("keepdims", False)]
METHODS = {
    # shape
    "unsqueeze": ["axis"], "squeeze": [("axis", None)],
    "flatten": [("start_axis", 0), ("end_axis", -1)],
    "permute": ["*axes"], "view": ["*shape"], "expand": ["*shape"], "repeat": ["*reps"],
    "flip": ["axis"],
    # split and join
    "split": ["split_size_or_sections", ("axis", 0)], "chunk": ["chunks", ("axis", 0)],
    # indexing
    "gather": ["axis", "index"], "masked_fill": ["mask", "value"],
    "index_select": ["axis", "index"],
    # reductions
    "var": _REDUCE + [("correction", 1)], "std": _REDUCE + [("correction", 1)],
    "prod": _REDUCE, "norm": [("p", 2)] + _REDUCE, "cumsum": ["axis"], "logcumsumexp": ["axis"],
    "argmax": _REDUCE, "argmin": _REDUCE, "maximum": ["other"], "minimum": ["other"],
    # elementwise
    **{name: [] for name in "log1p expm1 sin cos square rsqrt sign silu log_sigmoid".split()},
    "softplus": [("beta", 1.0), ("threshold", 20.0)], "gelu": [("approximate", "none")],
    "leaky_relu": [("negative_slope", 0.01)], "elu": [("alpha", 1.0)],
    # linear algebra
    "bmm": ["other"],
    # beyond the SPEC: more of PyTorch's names (README, "The vocabulary of custom models")
    "roll": ["shifts", ("axis", None)], "narrow": ["axis", "start", "length"],
    "unbind": [("axis", 0)], "movedim": ["source", "destination"],
    "moveaxis": ["source", "destination"], "repeat_interleave": ["repeats", ("axis", None)],
    "tensor_split": ["indices_or_sections", ("axis", 0)],
    "tril": [("diagonal", 0)], "triu": [("diagonal", 0)],
    "diagonal": [("offset", 0), ("axis1", 0), ("axis2", 1)], "fmod": ["other"],
    "cummax": ["axis"], "cummin": ["axis"], "nansum": _REDUCE, "unflatten": ["axis", "sizes"],
    "argsort": [("axis", -1), ("descending", False), ("stable", False)],
    "scatter_add": ["axis", "index", "src"],
    "index_add": ["axis", "index", "source", ("alpha", 1)],
}
BINARY = ("maximum", "minimum", "bmm", "fmod")  # tinygrad_rnn.maximum(a, b): two operands
# methods of matrices or of another tensor's shape or dtype (x of EXAMPLES does not fit):
# checked only for a line of the op table that calls them
MATRIX_AND_OTHER = ("mm", "dot", "outer", "t", "view_as", "reshape_as")
MODULE_ONLY = {
    "cat": ["tensors", ("axis", 0)], "einsum": ["subscripts", "*tensors"],
    "full": ["shape", "value"], "linspace": ["start", "stop", "num"],
    "randint": ["low", "high", "shape"],
}
# where ours has a default the SPEC does not give (an extension, not a change)
EXTENSIONS = {("randint", "high"): "randint(high) draws from [0, high), as np.random.randint",
              ("randint", "shape"): "() by default: one number, as np.random.randint"}
INPLACE = {
    "add_": ["other"], "sub_": ["other"], "mul_": ["other"], "div_": ["other"], "zero_": [],
    "fill_": ["value"], "copy_": ["src"], "clamp_": [("min", None), ("max", None)],
}
AUGMENTED = ("__iadd__", "__isub__", "__imul__", "__itruediv__")
_LOSS = ["input", "target", ("reduction", "mean")]
FUNCTIONAL = {  # None: a first parameter of any name (the SPEC names only the options)
    "layer_norm": ["x", "normalized_shape", ("weight", None), ("bias", None), ("eps", 1e-5)],
    "one_hot": ["indices", ("num_classes", -1)],
    "pad": ["x", "pad", ("value", 0.0)],
    "normalize": ["x", ("p", 2.0), ("axis", 1), ("eps", 1e-12)],
    "softplus": [None, ("beta", 1.0), ("threshold", 20.0)],
    "gelu": [None, ("approximate", "none")], "leaky_relu": [None, ("negative_slope", 0.01)],
    "elu": [None, ("alpha", 1.0)], "silu": [None], "log_sigmoid": [None],
    "glu": ["x", ("axis", -1)],
    "l1_loss": _LOSS, "smooth_l1_loss": _LOSS + [("beta", 1.0)],
    "huber_loss": _LOSS + [("delta", 1.0)], "binary_cross_entropy": ["input", "target"],
    "kl_div": ["input", "target", ("reduction", "mean"), ("log_target", False)],
}
# the modules, with PyTorch's keyword options, and the functional form each one runs
MODULES = {
    "LayerNorm": (["normalized_shape", ("eps", 1e-5), ("elementwise_affine", True)],
                  "layer_norm"),
    "Softmax": ([("axis", -1)], "softmax"), "LogSoftmax": ([("axis", -1)], "log_softmax"),
    "Flatten": ([("start_axis", 1), ("end_axis", -1)], "flatten"),
    "GELU": ([("approximate", "none")], "gelu"),
    "LeakyReLU": ([("negative_slope", 0.01)], "leaky_relu"),
    "Softplus": ([("beta", 1.0), ("threshold", 20.0)], "softplus"),
    "ELU": ([("alpha", 1.0)], "elu"), "SiLU": ([], "silu"),
    "L1Loss": ([("reduction", "mean")], "l1_loss"),
    "BCELoss": ([("weight", None), ("reduction", "mean")], "binary_cross_entropy"),
}


def _params(fn) -> list:
    return list(inspect.signature(fn).parameters.values())  # follows functools.wraps


def assert_signature(fn, spec: list, owner: str, skip: int = 0) -> None:
    """fn's parameters (after `skip` leading ones) begin with `spec`; any further ones have
    defaults, so every call written to the SPEC works."""
    params = _params(fn)[skip:]
    assert len(params) >= len(spec), f"{owner}: {params} lacks SPEC parameters {spec}"
    for p, want in zip(params, spec):
        if want is None:  # any name, positional
            assert p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD), f"{owner}: {p}"
            continue
        if isinstance(want, str) and want.startswith("*"):
            assert (p.name, p.kind) == (want[1:], p.VAR_POSITIONAL), f"{owner}: {p} != {want}"
            continue
        name, default = (want, REQUIRED) if isinstance(want, str) else want
        assert p.name == name, f"{owner}: parameter {p.name!r} where the SPEC has {name!r}"
        assert p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD), f"{owner}: {p}"
        if default is REQUIRED and (owner.split(".")[-1], name) in EXTENSIONS:
            continue
        assert p.default == default and type(p.default) is type(default), \
            f"{owner}: {name}={p.default!r} where the SPEC has {default!r}"
    for p in params[len(spec):]:  # (*axes after flip's axis: more of them, as torch's)
        assert p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) or p.default is not REQUIRED, \
            f"{owner}: extra parameter {p} beyond the SPEC needs a default"


# ----- every name, with its signature -------------------------------------------------------
@pytest.mark.parametrize("name", sorted(METHODS))
def test_tensor_method_and_module_function_have_the_spec_signature(name):
    assert_signature(getattr(Tensor, name), METHODS[name], f"Tensor.{name}", skip=1)
    fn = getattr(tg, name)
    if name in BINARY:
        assert [p.default for p in _params(fn)] == [REQUIRED, REQUIRED], f"tinygrad_rnn.{name}"
    else:
        assert_signature(fn, METHODS[name], f"tinygrad_rnn.{name}", skip=1)


@pytest.mark.parametrize("name", sorted(MODULE_ONLY))
def test_module_only_functions_have_the_spec_signature(name):
    assert_signature(getattr(tg, name), MODULE_ONLY[name], f"tinygrad_rnn.{name}")


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_methods_have_the_spec_signature(name):
    assert_signature(getattr(Tensor, name), INPLACE[name], f"Tensor.{name}", skip=1)


def test_augmented_operators_and_from_numpy_are_defined_on_tensor():
    for op in AUGMENTED:  # not inherited from object: `t += 1` would rebind t otherwise
        assert op in {k for c in Tensor.__mro__[:-1] for k in vars(c)}, op
    assert isinstance(inspect.getattr_static(Tensor, "from_numpy"), staticmethod)
    a = np.zeros(3)
    assert Tensor.from_numpy(a).data is a and tg.tensor(a).data is not a


@pytest.mark.parametrize("name", sorted(FUNCTIONAL))
def test_functional_has_the_spec_signature(name):
    assert_signature(getattr(F, name), FUNCTIONAL[name], f"F.{name}")


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_exist_with_pytorch_options(name):
    cls = getattr(nn, name)
    assert issubclass(cls, nn.Module) and name in nn.__all__
    assert_signature(cls.__init__, MODULES[name][0], f"nn.{name}", skip=1)


# ----- module functions are the methods --------------------------------------------------
def _x():
    rng = np.random.default_rng(3)
    return Tensor(0.5 + rng.random((2, 3, 4)), requires_grad=True)  # positive: log1p, rsqrt


_IDX = np.array([[[0, 2, 1, 0], [1, 1, 0, 2]]] * 2)  # (2, 2, 4) in [0, 3): gather on axis 1
EXAMPLES = {  # name -> (args, kwargs) after the tensor, for x of shape (2, 3, 4)
    "unsqueeze": ((0,), {}), "squeeze": ((), {}), "flatten": ((1,), {}), "permute": ((2, 0, 1), {}),
    "view": ((6, 4), {}), "expand": ((5, 2, 3, 4), {}), "repeat": ((1, 2, 1), {}),
    "flip": (((0, 2),), {}), "split": (([1, 3],), {"axis": 2}), "chunk": ((2,), {"axis": 2}),
    "gather": ((1, _IDX), {}), "masked_fill": ((np.eye(3, 4, dtype=bool), -1.0), {}),
    "index_select": ((1, [2, 0, 2]), {}), "var": ((1,), {"correction": 0}), "std": ((1,), {}),
    "prod": ((2,), {"keepdims": True}), "norm": ((1,), {"axis": (0, 2)}), "cumsum": ((1,), {}),
    "logcumsumexp": ((2,), {}), "argmax": ((1,), {}), "argmin": ((), {}),
    "maximum": ((np.full((3, 4), 0.9),), {}), "minimum": ((np.full(4, 1.0),), {}),
    "bmm": ((np.ones((2, 4, 5)),), {}),
    **{n: ((), {}) for n in "log1p expm1 sin cos square rsqrt sign silu log_sigmoid".split()},
    "softplus": ((2.0,), {}), "gelu": (("tanh",), {}), "leaky_relu": ((0.2,), {}),
    "elu": ((0.5,), {}),
    "roll": (((1, -2), (0, 2)), {}), "narrow": ((1, -2, 2), {}), "unbind": ((), {"axis": 2}),
    "movedim": (((0, 2), (2, 1)), {}), "moveaxis": ((-1, 0), {}),
    "repeat_interleave": ((np.array([2, 0, 1]),), {"axis": 1}),
    "tensor_split": (([1, 3],), {"axis": 2}),
    "tril": ((1,), {}), "triu": ((-1,), {}), "diagonal": ((1, 2, 0), {}),
    "fmod": ((np.full(4, 0.3),), {}), "cummax": ((1,), {}), "cummin": ((2,), {}),
    "nansum": ((1,), {"keepdims": True}), "unflatten": ((2, (2, 2)), {}),
    "argsort": ((1,), {"descending": True}),
    "scatter_add": ((1, _IDX, np.ones((2, 2, 4))), {}),
    "index_add": ((1, [2, 0, 2], np.ones((2, 3, 4))), {"alpha": 2}),
}


def _values(out) -> list:
    return [np.asarray(t.data) for t in (out if isinstance(out, tuple) else (out,))]


def test_every_method_has_an_example():
    assert set(EXAMPLES) == set(METHODS)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_module_function_gives_the_method_result(name):
    args, kwargs = EXAMPLES[name]
    x = _x()
    ours, method = getattr(tg, name)(x, *args, **kwargs), getattr(x, name)(*args, **kwargs)
    for a, b in zip(_values(ours), _values(method), strict=True):
        np.testing.assert_array_equal(a, b)


def test_module_only_functions():
    a, b = tg.ones(2, 3), tg.zeros(1, 3)
    np.testing.assert_array_equal(tg.cat([a, b]).data, np.concatenate([a.data, b.data]))
    parts = tg.split(tg.arange(5), 2)
    assert [p.shape for p in parts] == [(2,), (2,), (1,)]
    assert [p.shape for p in tg.chunk(tg.ones(2, 6), 3, axis=1)] == [(2, 2)] * 3
    np.testing.assert_allclose(tg.einsum("ij,jk->ik", a, tg.ones(3, 2)).data, np.full((2, 2), 3))
    np.testing.assert_array_equal(tg.full((2,), 7.0).data, [7.0, 7.0])
    np.testing.assert_allclose(tg.linspace(0, 1, 5).data, np.linspace(0, 1, 5))
    r = tg.randint(2, 5, (100,))
    assert r.dtype == np.int64 and r.shape == (100,) and 2 <= r.data.min() <= r.data.max() < 5


# ----- dim= / keepdim= wherever an axis is taken -------------------------------------------
def _takes_an_axis(fn) -> bool:
    return any(p.name in ("axis", "keepdims") for p in _params(fn))


def _public(namespace, names) -> dict:
    return {n: getattr(namespace, n) for n in names
            if not n.startswith("_") and callable(getattr(namespace, n, None))}


# method / function -> (args before the axis, other keywords, an axis for x of shape (2, 3, 4))
AXIS_CALLS = {
    "sum": ((), {}, 1), "mean": ((), {}, 1), "max": ((), {}, 1), "min": ((), {}, 1),
    "logsumexp": ((), {}, 1), "softmax": ((), {}, 1), "log_softmax": ((), {}, 1),
    "unsqueeze": ((), {}, 1), "squeeze": ((), {}, 1), "flip": ((), {}, 1),
    "split": ((1,), {}, 1), "chunk": ((2,), {}, 2), "gather": ((), {"index": _IDX}, 1),
    "index_select": ((), {"index": [1]}, 1), "var": ((), {}, 1), "std": ((), {}, 1),
    "prod": ((), {}, 1), "norm": ((), {}, 1), "cumsum": ((), {}, 1),
    "logcumsumexp": ((), {}, 1), "argmax": ((), {}, 1), "argmin": ((), {}, 1),
    "glu": ((), {}, 2), "normalize": ((), {}, 1), "all": ((), {}, 1), "any": ((), {}, 1),
    "amax": ((), {}, 1), "amin": ((), {}, 1), "cumprod": ((), {}, 1), "sort": ((), {}, 1),
    "topk": ((2,), {}, 1), "roll": ((1,), {}, 1), "narrow": ((), {"start": 0, "length": 2}, 1),
    "unbind": ((), {}, 1), "repeat_interleave": ((2,), {}, 1), "tensor_split": ((2,), {}, 1),
    "argsort": ((), {}, 1), "count_nonzero": ((), {}, 1), "cummax": ((), {}, 1),
    "cummin": ((), {}, 1), "nansum": ((), {}, 1), "unflatten": ((), {"sizes": (2, 2)}, 2),
    "scatter_add": ((), {"index": _IDX, "src": np.ones((2, 2, 4))}, 1),
    "index_add": ((), {"index": [2, 0], "source": np.ones((2, 2, 4))}, 1),
}
JOINS = ("cat", "concatenate", "stack")  # a list of tensors first


def _axis_callables() -> list:
    """(label, name, the callable, call(x, *args, **kw)) for every Tensor method, module
    function and F function that takes an axis: found by signature, so a new one without an
    entry in AXIS_CALLS fails."""
    out = []
    for n, m in _public(Tensor, dir(Tensor)).items():
        if _takes_an_axis(m):
            out.append((f"Tensor.{n}", n, m, lambda x, *a, n=n, **kw: getattr(x, n)(*a, **kw)))
    for label, ns in (("tinygrad_rnn", tg), ("F", F)):
        for n, f in _public(ns, vars(ns)).items():
            if inspect.isfunction(f) and _takes_an_axis(f):
                call = (lambda x, *a, f=f, **kw: f([x, x], *a, **kw)) if n in JOINS else \
                    (lambda x, *a, f=f, **kw: f(x, *a, **kw))
                out.append((f"{label}.{n}", n, f, call))
    return out


AXIS_CALLABLES = _axis_callables()


def test_the_axis_search_finds_the_vocabulary():
    labels = {c[0] for c in AXIS_CALLABLES}
    assert {"Tensor.split", "tinygrad_rnn.gather", "F.normalize", "tinygrad_rnn.cat"} <= labels


@pytest.mark.parametrize("label, name, fn, call", AXIS_CALLABLES,
                         ids=[c[0] for c in AXIS_CALLABLES])
def test_dim_and_keepdim_are_aliases_and_both_spellings_are_a_type_error(label, name, fn, call):
    if name in JOINS:
        args, kwargs, axis = (), {}, 1
    else:
        assert name in AXIS_CALLS, f"{label} takes an axis: give it an entry in AXIS_CALLS"
        args, kwargs, axis = AXIS_CALLS[name]

    def run(**kw):
        return _values(call(_x(), *args, **kw, **kwargs))

    for a, b in zip(run(axis=axis), run(dim=axis), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="both axis= and dim="):
        run(axis=axis, dim=axis)
    if "keepdims" in [p.name for p in _params(fn)]:
        kept = run(axis=axis, keepdim=True)[0]
        assert kept.ndim == 3
        np.testing.assert_array_equal(kept, run(axis=axis, keepdims=True)[0])
        with pytest.raises(TypeError, match="both keepdims= and keepdim="):
            run(axis=axis, keepdims=True, keepdim=True)


@pytest.mark.parametrize("cls", [nn.Softmax, nn.LogSoftmax])
def test_softmax_modules_take_dim(cls):
    x = _x()
    np.testing.assert_array_equal(cls(dim=1)(x).data, cls(axis=1)(x).data)
    assert cls(dim=0).axis == 0
    with pytest.raises(TypeError, match="both axis= and dim="):
        cls(axis=1, dim=1)


def test_flatten_takes_start_dim_and_end_dim():
    x = _x()
    for flat in (lambda **k: x.flatten(**k), lambda **k: tg.flatten(x, **k),
                 lambda **k: nn.Flatten(**k)(x)):
        assert flat(start_dim=0, end_dim=1).shape == flat(start_axis=0, end_axis=1).shape \
            == (6, 4)
        with pytest.raises(TypeError, match="both start_axis= and start_dim="):
            flat(start_axis=0, start_dim=0)
        with pytest.raises(TypeError, match="both end_axis= and end_dim="):
            flat(end_axis=1, end_dim=1)


# ----- several outputs ------------------------------------------------------------------------
class _SplitScaled(Function):
    """(a, b) = (x * s, x ** 2);  dx = ga * s + gb * 2 x,  ds = sum(ga * x)"""

    @staticmethod
    def forward(ctx, x, s):
        ctx.save_for_backward(x, s)
        return x * s, x * x

    @staticmethod
    def backward(ctx, ga, gb):
        x, s = ctx.saved_arrays
        return ga * s + gb * 2 * x, np.sum(ga * x)


def test_a_function_with_two_outputs_and_a_keyword_tensor_input():
    x = Tensor(np.array([1.0, -2.0]), requires_grad=True)
    s = Tensor(np.array(3.0), requires_grad=True)
    a, b = _SplitScaled.apply(x, s=s)  # s as a keyword: an input like a positional one
    assert isinstance(a, Tensor) and a._ctx is b._ctx
    b.sum().backward()  # a got no gradient: its backward sees zeros
    np.testing.assert_allclose(x.grad.data, [2.0, -4.0])
    np.testing.assert_allclose(s.grad.data, 0.0)
    x.grad = s.grad = None
    a, b = _SplitScaled.apply(x, s=s)
    (a + b).sum().backward()
    np.testing.assert_allclose(x.grad.data, [5.0, -1.0])
    np.testing.assert_allclose(s.grad.data, -1.0)


# ----- each differentiable name is reached by a line of the op table --------------------------
_APPLY = Function.apply.__func__.__code__
EXAMPLES_PER_LINE = 6  # enough to take every branch whose Function a line's covers names


def _reached_by(fn, *args, **kwargs) -> set:
    """Code objects of the Python functions that fn(*args, **kwargs) calls, and the names of
    the Function classes it applies."""
    seen = set()

    def profile(frame, event, arg):
        if event == "call":
            seen.add(frame.f_code)
            if frame.f_code is _APPLY:
                seen.add(frame.f_locals["cls"].__name__)

    old = sys.getprofile()
    sys.setprofile(profile)
    try:  # (under an observer: comparisons and detach are their ops only while one records)
        with function.observe(function.Observer()):
            fn(*args, **kwargs)
    finally:
        sys.setprofile(old)
    return seen


@functools.lru_cache(maxsize=None)
def _table_reach() -> dict:
    """line name -> what its fn reaches (see _reached_by) on a few NumPy-drawn examples."""
    rng = np.random.default_rng(0)
    reach = {}
    for spec in OPS:
        reach[spec.name] = set()
        for _ in range(EXAMPLES_PER_LINE):
            inputs, params = numpy_case(spec, rng)
            fn, _, free = bind(spec, inputs, params)
            ts = [Tensor(a, requires_grad=True) for a in free]
            reach[spec.name] |= _reached_by(fn, *ts)
    return reach


def _code(obj):
    return inspect.unwrap(obj).__code__


def _lines_reaching(obj) -> list:
    code = _code(obj)
    return [name for name, codes in _table_reach().items() if code in codes]


NOT_DIFFERENTIABLE = {"argmax", "argmin", "one_hot"}  # int64 results; argmax has lines anyway
TABLE_METHODS = sorted(METHODS) + sorted(MATRIX_AND_OTHER)
TABLE_FUNCTIONAL = sorted(n for n in FUNCTIONAL if n not in NOT_DIFFERENTIABLE)


@pytest.mark.parametrize("name", TABLE_METHODS)
def test_each_method_is_reached_by_an_op_table_line(name):
    assert _lines_reaching(getattr(Tensor, name)), \
        f"Tensor.{name}: no line of the op table calls it; add one to testing/op_db/"


@pytest.mark.parametrize("name", ["cat", "einsum", "div", "dot", "fmod", "scatter_add", "triu"])
def test_each_module_function_of_the_table_is_reached(name):
    assert _lines_reaching(getattr(tg, name)), f"tinygrad_rnn.{name}: no op-table line"


def _example_input(name: str) -> tuple:
    x = _x()
    if name == "layer_norm":
        return (x, 4), {}
    if name == "pad":
        return (x, (1, 1)), {}
    if name in FUNCTIONAL and FUNCTIONAL[name][:2] in (_LOSS[:2], ["input", "target"]):
        t = 0.25 + 0.5 * np.random.default_rng(1).random(x.shape)
        return (x * 0.5, t), {}
    return (x,), {}


@pytest.mark.parametrize("name", TABLE_FUNCTIONAL)
def test_each_functional_name_is_reached_by_a_line_or_runs_a_method_that_is(name):
    f = getattr(F, name)
    if _lines_reaching(f):
        return
    # a thin wrapper of the method of the same name (F.gelu -> Tensor.gelu): it must call it
    assert hasattr(Tensor, name), f"F.{name}: no op-table line reaches it; add one"
    args, kwargs = _example_input(name)
    assert _code(getattr(Tensor, name)) in _reached_by(f, *args, **kwargs), \
        f"F.{name} is reached by no op-table line and does not run Tensor.{name}"
    assert _lines_reaching(getattr(Tensor, name)), f"Tensor.{name}: no op-table line"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_each_module_runs_a_functional_form_that_the_table_reaches(name):
    kwargs = {"normalized_shape": 4} if name == "LayerNorm" else {}
    module = getattr(nn, name)(**kwargs).double()
    fname = MODULES[name][1]
    f = getattr(F, fname, None) or getattr(Tensor, fname)
    args, _ = _example_input(fname)
    codes = _reached_by(module, *(args if fname != "layer_norm" else args[:1]))
    assert _code(f) in codes, f"nn.{name} does not run {fname}"
    assert _lines_reaching(f) or _lines_reaching(getattr(Tensor, fname)), fname


def test_each_line_applies_the_functions_it_says_it_covers():
    wrong = {spec.name: sorted(set(spec.covers) - _table_reach()[spec.name]) for spec in OPS}
    wrong = {name: missing for name, missing in wrong.items() if missing}
    assert not wrong, f"op-table lines naming Functions their fn never applies: {wrong}"


def test_inplace_methods_change_the_tensor_and_keep_its_identity():
    t = Tensor(np.array([1.0, 2.0]))
    data = t.data
    for call in (lambda: t.add_(1), lambda: t.sub_(1), lambda: t.mul_(2), lambda: t.div_(2),
                 lambda: t.clamp_(0.0, 1.5), lambda: t.fill_(3), lambda: t.copy_([4.0]),
                 lambda: t.zero_()):
        assert call() is t and t.data is data
    p = nn.Parameter(np.array([1.0]))
    with no_grad():
        p -= 0.5
    assert isinstance(p, nn.Parameter) and p.data[0] == 0.5
