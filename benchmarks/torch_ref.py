"""PyTorch versions of the benchmark training steps (used only when torch is installed).

`make_step(torch, kind, weights, cfg, path)` returns `step(x_idx, y_idx) -> loss` doing the
same work as the other implementations: one-hot input, nn.RNN/LSTM/GRU (path "layer") or a
Python loop over nn.RNNCell/LSTMCell/GRUCell (path "cell"), a linear readout, cross-entropy,
backward, optional gradient clipping and an Adagrad step; the hidden state carries over,
detached. A configuration with `layers` > 1 or `bidirectional` builds
nn.LSTM(V, H, num_layers=..., bidirectional=...) (layer path only), loads the weights with
`load_state_dict` under the layer's own names and reads out through Linear(D * H, V).
`threads=N` sets torch's thread count at the start of every step (so steps at different
counts can be interleaved); None leaves it as it is.
"""
from __future__ import annotations

import numpy as np

_LAYERS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
_CELLS = {"rnn": "RNNCell", "lstm": "LSTMCell", "gru": "GRUCell"}


def _dtype(torch, np_dtype):
    return torch.float64 if np.dtype(np_dtype) == np.float64 else torch.float32


def make_step(torch, kind: str, weights: dict, cfg: dict, path: str = "layer",
              threads: int | None = None):
    nn, F = torch.nn, torch.nn.functional
    dtype = _dtype(torch, cfg["dtype"])
    V, H, B = cfg["vocab"], cfg["hidden"], cfg["batch"]
    L, D = cfg.get("layers", 1), 2 if cfg.get("bidirectional") else 1
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    if path == "layer":
        rec = getattr(nn, _LAYERS[kind])(V, H, num_layers=L, bidirectional=D == 2).to(dtype)
        if (L, D) == (1, 1):
            sd = {n + "_l0": weights[n] for n in names}
        else:
            sd = {n: v for n, v in weights.items() if n not in ("weight_out", "bias_out")}
    else:
        if (L, D) != (1, 1):
            raise ValueError("no cell loop for stacked or bidirectional layers")
        rec = getattr(nn, _CELLS[kind])(V, H).to(dtype)
        sd = {n: weights[n] for n in names}
    rec.load_state_dict({n: torch.from_numpy(np.ascontiguousarray(v)) for n, v in sd.items()})
    head = nn.Linear(D * H, V).to(dtype)
    head.load_state_dict({"weight": torch.from_numpy(weights["weight_out"]),
                          "bias": torch.from_numpy(weights["bias_out"])})
    params = list(rec.parameters()) + list(head.parameters())
    opt = torch.optim.Adagrad(params, lr=cfg["lr"])
    zeros = torch.zeros((L * D, B, H) if path == "layer" else (B, H), dtype=dtype)
    state = {"h": (zeros, zeros.clone()) if kind == "lstm" else zeros}
    reduction, clip = cfg["reduction"], cfg["clip"]

    def step(x_idx: np.ndarray, y_idx: np.ndarray) -> float:
        if threads is not None and torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        x = F.one_hot(torch.from_numpy(x_idx), V).to(dtype)
        y = torch.from_numpy(y_idx).reshape(-1)
        hx = state["h"]
        if path == "layer":
            if kind == "lstm":
                out, (h, c) = rec(x, hx)
                new = (h.detach(), c.detach())
            else:
                out, h = rec(x, hx)
                new = h.detach()
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
