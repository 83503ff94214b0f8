"""PyTorch versions of the benchmark training steps (used only when torch is installed).

`make_step(torch, kind, weights, cfg, path)` returns `step(x_idx, y_idx) -> loss` doing the
same work as the other implementations: one-hot input, nn.RNN/LSTM/GRU (path "layer") or a
Python loop over nn.RNNCell/LSTMCell/GRUCell (path "cell"), a linear readout, cross-entropy,
backward, optional gradient clipping and an Adagrad step; the hidden state carries over,
detached. torch's thread count is left at its default.
"""
from __future__ import annotations

import numpy as np

_LAYERS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
_CELLS = {"rnn": "RNNCell", "lstm": "LSTMCell", "gru": "GRUCell"}


def _dtype(torch, np_dtype):
    return torch.float64 if np.dtype(np_dtype) == np.float64 else torch.float32


def make_step(torch, kind: str, weights: dict, cfg: dict, path: str = "layer"):
    nn, F = torch.nn, torch.nn.functional
    dtype = _dtype(torch, cfg["dtype"])
    V, H, B = cfg["vocab"], cfg["hidden"], cfg["batch"]
    if path == "layer":
        rec = getattr(nn, _LAYERS[kind])(V, H).to(dtype)
        suffix = "_l0"
    else:
        rec = getattr(nn, _CELLS[kind])(V, H).to(dtype)
        suffix = ""
    head = nn.Linear(H, V).to(dtype)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(rec, name + suffix).copy_(torch.from_numpy(weights[name]))
        head.weight.copy_(torch.from_numpy(weights["weight_out"]))
        head.bias.copy_(torch.from_numpy(weights["bias_out"]))
    params = list(rec.parameters()) + list(head.parameters())
    opt = torch.optim.Adagrad(params, lr=cfg["lr"])
    zeros = torch.zeros(B, H, dtype=dtype)
    state = {"h": (zeros, zeros.clone()) if kind == "lstm" else zeros}
    reduction, clip = cfg["reduction"], cfg["clip"]

    def step(x_idx: np.ndarray, y_idx: np.ndarray) -> float:
        x = F.one_hot(torch.from_numpy(x_idx), V).to(dtype)
        y = torch.from_numpy(y_idx).reshape(-1)
        hx = state["h"]
        if path == "layer":
            if kind == "lstm":
                out, (h, c) = rec(x, (hx[0][None], hx[1][None]))
                new = (h[0].detach(), c[0].detach())
            else:
                out, h = rec(x, hx[None])
                new = h[0].detach()
        else:
            outs = []
            for t in range(x.shape[0]):
                hx = rec(x[t], hx)
                outs.append(hx[0] if kind == "lstm" else hx)
            out = torch.stack(outs)
            new = tuple(s.detach() for s in hx) if kind == "lstm" else hx.detach()
        logits = head(out)
        loss = F.cross_entropy(logits.reshape(-1, V), y, reduction=reduction)
        opt.zero_grad()
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_value_(params, clip)
        opt.step()
        state["h"] = new
        return loss.item()

    return step


def add_chain(torch, n_ops: int):
    """A function running forward + backward through a chain of n_ops (4, 4) additions."""
    x = torch.randn(4, 4, requires_grad=True)
    c = torch.randn(4, 4)
    seed = torch.ones(4, 4)

    def run():
        y = x
        for _ in range(n_ops):
            y = y + c
        y.backward(seed)
        x.grad = None
    return run
