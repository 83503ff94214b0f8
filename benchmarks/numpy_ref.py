"""Hand-written NumPy training steps: the baselines the framework is measured against.

Each class holds the weights of one benchmark configuration (PyTorch layout, taken from a
shared dict of arrays so every implementation starts from the same numbers) and has
`step(x_idx, y_idx) -> loss`: forward, backpropagation through time and an Adagrad update,
written the way a tutorial would write them. The hidden state carries over between steps.

* `MinCharRNN`: the classic character-level RNN loop, one column vector per character,
  one-hot inputs multiplied in, per-step softmax and per-step gradient accumulation.
* `RNNRef`, `LSTMRef`, `GRURef`: batched, time-major; the input projection of all steps is
  one matmul before the time loop, the readout and softmax run over all steps at once, and
  the recurrent weight gradients accumulate step by step inside the BPTT loop.
"""
from __future__ import annotations

import numpy as np


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-a))


class _Adagrad:
    """PyTorch's Adagrad rule: s += g^2;  p -= lr * g / (sqrt(s) + eps)."""

    def __init__(self, params: dict, lr: float, eps: float = 1e-10):
        self.params, self.lr, self.eps = params, lr, eps
        self.sums = {k: np.zeros_like(v) for k, v in params.items()}

    def update(self, grads: dict) -> None:
        for k, g in grads.items():
            s = self.sums[k]
            s += g * g
            self.params[k] -= self.lr * g / (np.sqrt(s) + self.eps)


class MinCharRNN:
    """The classic min-char-rnn: vanilla RNN, batch 1, sum of per-character losses.

    h_t = tanh(Wxh x_t + Whh h_{t-1} + bh);  y_t = Why h_t + by;  p_t = softmax(y_t)
    """

    def __init__(self, w: dict, lr: float, clip: float | None = 5.0):
        self.Wxh, self.Whh = w["weight_ih"].copy(), w["weight_hh"].copy()
        self.bh = (w["bias_ih"] + w["bias_hh"]).reshape(-1, 1)
        self.Why, self.by = w["weight_out"].copy(), w["bias_out"].reshape(-1, 1).copy()
        self.vocab, self.hidden = self.Wxh.shape[1], self.Whh.shape[0]
        self.h = np.zeros((self.hidden, 1), dtype=self.Whh.dtype)
        self.clip = clip
        self.params = {"Wxh": self.Wxh, "Whh": self.Whh, "Why": self.Why, "bh": self.bh,
                       "by": self.by}
        self.opt = _Adagrad(self.params, lr)

    def step(self, x_idx: np.ndarray, y_idx: np.ndarray) -> float:
        inputs, targets = x_idx.reshape(-1), y_idx.reshape(-1)
        xs, hs, ps = {}, {-1: self.h}, {}
        loss = 0.0
        for t in range(len(inputs)):
            xs[t] = np.zeros((self.vocab, 1), dtype=self.Wxh.dtype)
            xs[t][inputs[t]] = 1
            hs[t] = np.tanh(self.Wxh @ xs[t] + self.Whh @ hs[t - 1] + self.bh)
            y = self.Why @ hs[t] + self.by
            e = np.exp(y - y.max())
            ps[t] = e / e.sum()
            loss -= np.log(ps[t][targets[t], 0])
        dWxh, dWhh, dWhy = (np.zeros_like(a) for a in (self.Wxh, self.Whh, self.Why))
        dbh, dby = np.zeros_like(self.bh), np.zeros_like(self.by)
        dhnext = np.zeros_like(self.h)
        for t in reversed(range(len(inputs))):
            dy = ps[t].copy()
            dy[targets[t]] -= 1
            dWhy += dy @ hs[t].T
            dby += dy
            dh = self.Why.T @ dy + dhnext
            dhraw = (1 - hs[t] * hs[t]) * dh
            dbh += dhraw
            dWxh += dhraw @ xs[t].T
            dWhh += dhraw @ hs[t - 1].T
            dhnext = self.Whh.T @ dhraw
        grads = {"Wxh": dWxh, "Whh": dWhh, "Why": dWhy, "bh": dbh, "by": dby}
        if self.clip is not None:
            for g in grads.values():
                np.clip(g, -self.clip, self.clip, out=g)
        self.opt.update(grads)
        self.h = hs[len(inputs) - 1]
        return float(loss)


class _BatchedRef:
    """Shared parts of the batched references: weights, one-hot input, readout, loss."""

    def __init__(self, w: dict, lr: float, batch: int, reduction: str = "mean",
                 clip: float | None = None):
        self.p = {k: v.copy() for k, v in w.items()}
        self.vocab = self.p["weight_ih"].shape[1]
        self.hidden = self.p["weight_hh"].shape[1]
        self.dtype = self.p["weight_hh"].dtype
        self.batch, self.reduction, self.clip = batch, reduction, clip
        self.opt = _Adagrad(self.p, lr)
        self.h = np.zeros((batch, self.hidden), dtype=self.dtype)

    def one_hot(self, idx: np.ndarray) -> np.ndarray:
        x = np.zeros(idx.shape + (self.vocab,), dtype=self.dtype)
        np.put_along_axis(x, idx[..., None], 1, axis=-1)
        return x

    def readout(self, hs: np.ndarray, y_idx: np.ndarray) -> tuple:
        """Loss and d loss / d hs for a linear readout + softmax cross-entropy."""
        T, B, H = hs.shape
        h2 = hs.reshape(T * B, H)
        logits = h2 @ self.p["weight_out"].T + self.p["bias_out"]
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        probs = e / e.sum(axis=1, keepdims=True)
        rows, cols = np.arange(T * B), y_idx.reshape(-1)
        loss = -np.log(probs[rows, cols]).sum()
        dlogits = probs
        dlogits[rows, cols] -= 1
        if self.reduction == "mean":
            loss /= T * B
            dlogits /= T * B
        grads = {"weight_out": dlogits.T @ h2, "bias_out": dlogits.sum(axis=0)}
        dhs = (dlogits @ self.p["weight_out"]).reshape(T, B, H)
        return float(loss), grads, dhs

    def finish(self, grads: dict) -> None:
        if self.clip is not None:
            for g in grads.values():
                np.clip(g, -self.clip, self.clip, out=g)
        self.opt.update(grads)


class RNNRef(_BatchedRef):
    """Batched tanh RNN: P = X W_ih^T + b for all steps, then h_t = tanh(P_t + h W_hh^T)."""

    def step(self, x_idx: np.ndarray, y_idx: np.ndarray) -> float:
        p = self.p
        x = self.one_hot(x_idx)
        T, B, V = x.shape
        proj = (x.reshape(T * B, V) @ p["weight_ih"].T + p["bias_ih"] + p["bias_hh"])
        proj = proj.reshape(T, B, -1)
        hs = np.empty((T, B, self.hidden), dtype=self.dtype)
        h = self.h
        for t in range(T):
            h = np.tanh(proj[t] + h @ p["weight_hh"].T)
            hs[t] = h
        loss, grads, dhs = self.readout(hs, y_idx)
        dW_hh = np.zeros_like(p["weight_hh"])
        dz_all = np.empty_like(hs)
        dhnext = np.zeros_like(self.h)
        for t in reversed(range(T)):
            dh = dhs[t] + dhnext
            dz = dh * (1 - hs[t] ** 2)
            h_prev = hs[t - 1] if t > 0 else self.h
            dW_hh += dz.T @ h_prev
            dhnext = dz @ p["weight_hh"]
            dz_all[t] = dz
        dz2 = dz_all.reshape(T * B, -1)
        db = dz2.sum(axis=0)
        grads.update(weight_ih=dz2.T @ x.reshape(T * B, V), weight_hh=dW_hh, bias_ih=db,
                     bias_hh=db.copy())
        self.finish(grads)
        self.h = hs[-1].copy()
        return loss


class LSTMRef(_BatchedRef):
    """Batched LSTM (gates i, f, g, o) with the one-hot input projected by one matmul."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.c = np.zeros_like(self.h)

    def step(self, x_idx: np.ndarray, y_idx: np.ndarray) -> float:
        p, H = self.p, self.hidden
        x = self.one_hot(x_idx)
        T, B, V = x.shape
        proj = (x.reshape(T * B, V) @ p["weight_ih"].T + p["bias_ih"] + p["bias_hh"])
        proj = proj.reshape(T, B, 4 * H)
        cache = []
        hs = np.empty((T, B, H), dtype=self.dtype)
        h, c = self.h, self.c
        for t in range(T):
            a = proj[t] + h @ p["weight_hh"].T
            i = _sigmoid(a[:, :H])
            f = _sigmoid(a[:, H:2 * H])
            g = np.tanh(a[:, 2 * H:3 * H])
            o = _sigmoid(a[:, 3 * H:])
            c_prev = c
            c = f * c_prev + i * g
            tc = np.tanh(c)
            h = o * tc
            hs[t] = h
            cache.append((i, f, g, o, c_prev, tc))
        loss, grads, dhs = self.readout(hs, y_idx)
        dW_hh = np.zeros_like(p["weight_hh"])
        da_all = np.empty((T, B, 4 * H), dtype=self.dtype)
        dhnext = np.zeros_like(self.h)
        dcnext = np.zeros_like(self.c)
        for t in reversed(range(T)):
            i, f, g, o, c_prev, tc = cache[t]
            dh = dhs[t] + dhnext
            do = dh * tc
            dc = dh * o * (1 - tc ** 2) + dcnext
            di, df, dg = dc * g, dc * c_prev, dc * i
            da = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g ** 2),
                                 do * o * (1 - o)], axis=1)
            h_prev = hs[t - 1] if t > 0 else self.h
            dW_hh += da.T @ h_prev
            dhnext = da @ p["weight_hh"]
            dcnext = dc * f
            da_all[t] = da
        da2 = da_all.reshape(T * B, -1)
        db = da2.sum(axis=0)
        grads.update(weight_ih=da2.T @ x.reshape(T * B, V), weight_hh=dW_hh, bias_ih=db,
                     bias_hh=db.copy())
        self.finish(grads)
        self.h, self.c = hs[-1].copy(), c
        return loss


class GRURef(_BatchedRef):
    """Batched GRU (gates r, z, n; n = tanh(W_in x + b_in + r * (W_hn h + b_hn)))."""

    def step(self, x_idx: np.ndarray, y_idx: np.ndarray) -> float:
        p, H = self.p, self.hidden
        x = self.one_hot(x_idx)
        T, B, V = x.shape
        proj = (x.reshape(T * B, V) @ p["weight_ih"].T + p["bias_ih"]).reshape(T, B, 3 * H)
        cache = []
        hs = np.empty((T, B, H), dtype=self.dtype)
        h = self.h
        for t in range(T):
            gh = h @ p["weight_hh"].T + p["bias_hh"]
            r = _sigmoid(proj[t][:, :H] + gh[:, :H])
            z = _sigmoid(proj[t][:, H:2 * H] + gh[:, H:2 * H])
            n = np.tanh(proj[t][:, 2 * H:] + r * gh[:, 2 * H:])
            h_prev = h
            h = (1 - z) * n + z * h_prev
            hs[t] = h
            cache.append((r, z, n, gh[:, 2 * H:], h_prev))
        loss, grads, dhs = self.readout(hs, y_idx)
        dW_hh = np.zeros_like(p["weight_hh"])
        db_hh = np.zeros_like(p["bias_hh"])
        dx_all = np.empty((T, B, 3 * H), dtype=self.dtype)
        dhnext = np.zeros_like(self.h)
        for t in reversed(range(T)):
            r, z, n, hn, h_prev = cache[t]
            dh = dhs[t] + dhnext
            dn = dh * (1 - z) * (1 - n ** 2)
            dz = dh * (h_prev - n) * z * (1 - z)
            dr = dn * hn * r * (1 - r)
            dgh = np.concatenate([dr, dz, dn * r], axis=1)
            dW_hh += dgh.T @ h_prev
            db_hh += dgh.sum(axis=0)
            dhnext = dgh @ p["weight_hh"] + dh * z
            dx_all[t] = np.concatenate([dr, dz, dn], axis=1)
        dx2 = dx_all.reshape(T * B, -1)
        grads.update(weight_ih=dx2.T @ x.reshape(T * B, V), weight_hh=dW_hh,
                     bias_ih=dx2.sum(axis=0), bias_hh=db_hh)
        self.finish(grads)
        self.h = hs[-1].copy()
        return loss


REFERENCES = {"rnn": RNNRef, "lstm": LSTMRef, "gru": GRURef}
