"""tinygrad_rnn: a small reverse-mode autodiff engine on NumPy, for recurrent networks."""
from tinygrad_rnn._memory import keep_freed_memory
from tinygrad_rnn.function import Function, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from tinygrad_rnn.tensor import (
    Tensor, arange, empty, empty_like, eye, full, full_like, get_rng, linspace, manual_seed, ones,
    ones_like, rand, randint, randn, tensor, zeros, zeros_like,
)
from tinygrad_rnn.methods.elementwise import (
    abs, clip, cos, elu, exp, expm1, fmod, gelu, isfinite, isinf, isnan, leaky_relu, log, log1p,
    log_sigmoid, logical_and, logical_not, logical_or, logical_xor, maximum, minimum, relu, rsqrt,
    sigmoid, sign, silu, sin, softplus, sqrt, square, tanh, where,
)
from tinygrad_rnn.methods.linalg import bmm, diagonal, dot, einsum, matmul, mm, outer, tril, triu
from tinygrad_rnn.methods.torch_spellings import (
    amax, amin, div, eq, ge, greater, greater_equal, gt, le, less, less_equal, lt, moveaxis, ne,
    not_equal, t,
)
from tinygrad_rnn.methods.indexing import gather, index_add, index_select, masked_fill, scatter_add
from tinygrad_rnn.methods.movement import (
    broadcast_to, cat, chunk, concatenate, expand, flatten, flip, movedim, narrow, permute, repeat,
    repeat_interleave, reshape, roll, split, squeeze, stack, tensor_split, transpose, unbind,
    unflatten, unsqueeze, view,
)
from tinygrad_rnn.methods.reduce import (
    argmax, argmin, argsort, count_nonzero, cummax, cummin, cumprod, cumsum, log_softmax,
    logcumsumexp, logsumexp, max, mean, min, nansum, norm, prod, softmax, sort, std, sum, topk,
    var,
)
from tinygrad_rnn.methods.recurrence import linear_recurrence
from tinygrad_rnn.anomaly import AnomalyError, detect_anomaly, set_detect_anomaly
from tinygrad_rnn.autograd import grad
from tinygrad_rnn.profiler import profile
from tinygrad_rnn.compiled import scan
from tinygrad_rnn.parallel import get_num_threads, set_num_threads
from tinygrad_rnn.gradcheck import GradcheckError, gradcheck

__version__ = "0.1.0"

keep_freed_memory()  # every step allocates the same arrays: keep their pages (see _memory)

_SUBPACKAGES = ("nn", "optim", "data", "testing", "debug")
_FROM_DEBUG = ("to_dot", "render")  # tinygrad_rnn.to_dot is tinygrad_rnn.debug.to_dot


def __getattr__(name: str):
    """`tinygrad_rnn.nn` and friends load on first use, so importing the engine stays light."""
    if name in _SUBPACKAGES:
        import importlib

        return importlib.import_module(f"tinygrad_rnn.{name}")
    if name in _FROM_DEBUG:
        from tinygrad_rnn import debug

        return getattr(debug, name)
    raise AttributeError(f"module 'tinygrad_rnn' has no attribute {name!r}")
