"""The built-in ops, one Function subclass each."""
from tinygrad_rnn.ops.elementwise import (
    Abs, Add, AsType, Clip, Div, Exp, Log, Mul, Neg, Pow, ReLU, Sigmoid, Sqrt, Sub, Tanh, Where,
)
from tinygrad_rnn.ops.linalg import MatMul
from tinygrad_rnn.ops.indexing import Gather, IndexSelect
from tinygrad_rnn.ops.movement import (
    BroadcastTo, Concatenate, Flip, GetItem, Pad, Repeat, Reshape, Split, Stack, Transpose,
)
from tinygrad_rnn.ops.nn_ops import CrossEntropy, Dropout, Embedding, Linear, LogSoftmax
from tinygrad_rnn.ops.reduce import LogSumExp, Max, Min, Sum

__all__ = [
    "Abs", "Add", "AsType", "BroadcastTo", "Clip", "Concatenate", "CrossEntropy", "Div",
    "Dropout", "Embedding", "Exp", "GetItem", "Linear", "Log", "LogSoftmax", "LogSumExp", "MatMul", "Max",
    "Min", "Mul", "Neg", "Pow", "ReLU", "Reshape", "Sigmoid", "Sqrt", "Stack", "Sub", "Sum",
    "Tanh", "Transpose", "Where",
    "Flip", "Gather", "IndexSelect", "Pad", "Repeat", "Split",
]
