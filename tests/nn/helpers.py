"""Shared helpers for the nn tests: gradchecking modules, PyTorch twins of our layers."""
from __future__ import annotations

import numpy as np

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.testing.modules import flatten_state, gradcheck_module, rebuild_state  # noqa: F401


def randn(*shape, requires_grad=False, dtype=np.float64) -> Tensor:
    return Tensor(tg.get_rng().standard_normal(shape).astype(dtype), requires_grad=requires_grad)


def make_layer(mode: str, *args, **kwargs) -> nn.Module:
    """mode: 'rnn_tanh', 'rnn_relu', 'rnn_sigmoid', 'lstm' or 'gru'."""
    if mode.startswith("rnn_"):
        return nn.RNN(*args, nonlinearity=mode[4:], **kwargs)
    return {"lstm": nn.LSTM, "gru": nn.GRU}[mode](*args, **kwargs)


def make_state(mode: str, n: int, batch: int | None, hidden: int, requires_grad=False):
    shape = (n, hidden) if batch is None else (n, batch, hidden)
    if mode == "lstm":
        return (randn(*shape, requires_grad=requires_grad),
                randn(*shape, requires_grad=requires_grad))
    return randn(*shape, requires_grad=requires_grad)


def torch_layer(torch, ours: nn.Module):
    """A torch.nn twin of our RNN/LSTM/GRU (or cell) holding the same weights, in float64."""
    kind = type(ours).__name__
    if kind.endswith("Cell"):
        kwargs = dict(bias=ours.bias)
        if kind == "RNNCell":
            kwargs["nonlinearity"] = ours.nonlinearity
        twin = getattr(torch.nn, kind)(ours.input_size, ours.hidden_size, **kwargs)
    else:
        kwargs = dict(num_layers=ours.num_layers, bias=ours.bias, batch_first=ours.batch_first,
                      dropout=ours.dropout, bidirectional=ours.bidirectional)
        if kind == "RNN":
            kwargs["nonlinearity"] = ours.nonlinearity
        twin = getattr(torch.nn, kind)(ours.input_size, ours.hidden_size, **kwargs)
    twin = twin.double()
    twin.load_state_dict({k: torch.from_numpy(np.asarray(v, dtype=np.float64))
                          for k, v in ours.state_dict().items()})
    return twin
