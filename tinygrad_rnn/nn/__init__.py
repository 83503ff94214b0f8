"""Neural-network modules: layers, recurrent cells and networks, losses, initialisation.

    from tinygrad_rnn import nn
    from tinygrad_rnn.nn import functional as F
"""
from tinygrad_rnn.nn import functional, init, utils
from tinygrad_rnn.nn.cells import GRUCell, LSTMCell, RNNCell
from tinygrad_rnn.nn.layers import (
    BCEWithLogitsLoss, CrossEntropyLoss, Dropout, Embedding, Flatten, Identity, Linear, MSELoss,
    NLLLoss, ReLU, Sigmoid, Tanh,
)
from tinygrad_rnn.nn.layers import (  # normalization and the regression / divergence losses
    BCELoss, HuberLoss, KLDivLoss, L1Loss, LayerNorm, SmoothL1Loss,
)
from tinygrad_rnn.nn.layers import (  # activations with options, and the softmax family
    ELU, GELU, LeakyReLU, LogSoftmax, SiLU, Softmax, Softplus,
)
from tinygrad_rnn.nn.grad_flow import record_grad_flow
from tinygrad_rnn.nn.minimal import (
    IndRNN, IndRNNCell, MinGRU, MinGRUCell, MinLSTM, MinLSTMCell,
)
from tinygrad_rnn.nn.module import Module, ModuleDict, ModuleList, Parameter, Sequential
from tinygrad_rnn.nn.recurrent import GRU, LSTM, RNN, Recurrent, RNNBase

__all__ = [
    "BCEWithLogitsLoss", "CrossEntropyLoss", "Dropout", "Embedding", "Flatten", "GRU",
    "GRUCell",
    "Identity", "LSTM", "LSTMCell", "Linear", "MSELoss", "Module", "ModuleDict", "ModuleList",
    "NLLLoss",
    "Parameter", "RNN", "RNNBase", "RNNCell", "ReLU", "Recurrent", "Sequential", "Sigmoid",
    "Tanh", "functional", "init", "utils",
    "BCELoss", "HuberLoss", "KLDivLoss", "L1Loss", "LayerNorm", "SmoothL1Loss",
    "ELU", "GELU", "LeakyReLU", "LogSoftmax", "SiLU", "Softmax", "Softplus",
    "record_grad_flow",
    "IndRNN", "IndRNNCell", "MinGRU", "MinGRUCell", "MinLSTM", "MinLSTMCell",
]
