"""The built-in ops, one Function subclass each."""
from tinygrad_rnn.ops.activation import ELU, GELU, GELUTanh, LeakyReLU, LogSigmoid, SiLU, Softplus
from tinygrad_rnn.ops.arithmetic import (
    Add, Div, FloorDiv, Fmod, Maximum, Minimum, Mul, Neg, Pow, Remainder, Sub, TruncDiv,
)
from tinygrad_rnn.ops.elementwise import (
    Abs, AsType, Clip, Cos, Detach, Exp, Expm1, Log, Log1p, Logical, ReLU, Rsqrt, Sigmoid, Sign,
    Sin, Sqrt, Square, Tanh, Where,
)
from tinygrad_rnn.ops.linalg import Einsum, MatMul
from tinygrad_rnn.ops.indexing import Gather, IndexSelect, ScatterAdd
from tinygrad_rnn.ops.movement import (
    BroadcastTo, Concatenate, Flip, GetItem, Pad, Repeat, Reshape, Roll, Split, Stack,
    Transpose,
)
from tinygrad_rnn.ops.matrix import Diagonal, Tril, Triu
from tinygrad_rnn.ops.losses import BinaryCrossEntropy, Huber, KLDiv, SmoothL1
from tinygrad_rnn.ops.nn_ops import CrossEntropy, Dropout, Embedding, Linear, LogSoftmax
from tinygrad_rnn.ops.normalization import LayerNorm
from tinygrad_rnn.ops.recurrence import IndRecurrence, LinearRecurrence
from tinygrad_rnn.ops.reduce import LogSumExp, Max, Min, Norm, Prod, Std, Sum, Var
from tinygrad_rnn.ops.scan import CumProd, CumSum, LogCumSumExp

__all__ = [
    "Abs", "Add", "AsType", "BroadcastTo", "Clip", "Concatenate", "CrossEntropy", "Div",
    "Dropout", "Embedding", "Exp", "GetItem", "Linear", "Log", "LogSoftmax", "LogSumExp", "MatMul", "Max",
    "Min", "Mul", "Neg", "Pow", "ReLU", "Reshape", "Sigmoid", "Sqrt", "Stack", "Sub", "Sum",
    "Tanh", "Transpose", "Where",
    "BinaryCrossEntropy", "Huber", "KLDiv", "LayerNorm", "SmoothL1",
    "Flip", "Gather", "IndexSelect", "Pad", "Repeat", "Roll", "Split",
    "Cos", "ELU", "Expm1", "GELU", "GELUTanh", "LeakyReLU", "Log1p", "LogSigmoid", "Maximum",
    "Minimum", "Rsqrt", "SiLU", "Sign", "Sin", "Softplus", "Square", "FloorDiv", "Remainder",
    "CumProd", "CumSum", "Einsum", "LogCumSumExp", "Norm", "Prod", "Std", "Var",
    "IndRecurrence", "LinearRecurrence",
    "Diagonal", "Fmod", "ScatterAdd", "Tril", "Triu", "TruncDiv",
]
