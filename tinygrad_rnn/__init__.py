"""tinygrad_rnn: a small reverse-mode autodiff engine on NumPy, for recurrent networks."""
from tinygrad_rnn.function import Function, enable_grad, is_grad_enabled, no_grad
from tinygrad_rnn.tensor import (
    Tensor, arange, eye, get_rng, manual_seed, ones, ones_like, rand, randn, tensor, zeros,
    zeros_like,
)
from tinygrad_rnn.methods.elementwise import abs, clip, exp, log, relu, sigmoid, sqrt, tanh, where
from tinygrad_rnn.methods.linalg import matmul
from tinygrad_rnn.methods.movement import broadcast_to, concatenate, reshape, stack, transpose
from tinygrad_rnn.methods.reduce import log_softmax, logsumexp, max, mean, min, softmax, sum
from tinygrad_rnn.autograd import grad
from tinygrad_rnn.gradcheck import GradcheckError, gradcheck

__version__ = "0.1.0"

_SUBPACKAGES = ("nn", "optim", "data", "testing")


def __getattr__(name: str):
    """`tinygrad_rnn.nn` and friends load on first use, so importing the engine stays light."""
    if name in _SUBPACKAGES:
        import importlib

        return importlib.import_module(f"tinygrad_rnn.{name}")
    raise AttributeError(f"module 'tinygrad_rnn' has no attribute {name!r}")
