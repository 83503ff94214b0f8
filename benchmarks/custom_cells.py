"""Custom-cell benchmarks: users' own cells in nn.Recurrent against the same cells in PyTorch.

    python benchmarks/custom_cells.py [--quick] [--repeats N] [--json PATH]
                                      [--only peephole,lngru,indrnn,mingru,lstm]
                                      [--compiled auto|off|both] [--torch-threads 1,2]
                                      [--tg-threads 1,2] [--no-overhead]

Four cells written with public ops only (Module, Parameter, Tensor methods, F), each with
`hidden_size`, `input_size` and `forward(x, state) -> state`:

  peephole  peephole LSTM, examples/custom_cell.py's PeepholeLSTMCell
  lngru     layer-norm GRU: layer norm on both gate pre-activations, each with its own weights
  indrnn    IndRNN: h' = relu(x @ W^T + u * h + b), u a (H,) vector
  mingru    minGRU, sequential: z = sigmoid(x W_z^T + b_z), h' = (1 - z) * h + z * (x W_h^T + b_h)

and, for scale, the built-in nn.LSTM (`lstm`). Each runs a full training step (batch 32,
hidden 256, 64 steps, float32, one-hot input over 65 symbols, state from zeros): nn.Recurrent
over the sequence, a Linear readout and cross-entropy on every step, backward, SGD. The same
cells as torch.nn.Modules run in a plain PyTorch eager loop over time with the same weights
and data (nn.LSTM against torch.nn.LSTM); the first step's losses must agree.

Timing as benchmarks/run.py (its helpers): every implementation interleaved in one process,
blocks of ~0.25 s rotated each round, medians. Ours runs at 1 and at 2 threads
(tinygrad_rnn.set_num_threads, BLAS included; "tg Recurrent" is one thread, "... 2t" two;
--tg-threads), PyTorch likewise (--torch-threads), in the same rounds; the ratios are given
against torch at 1 thread and at its faster count ("best"), and the goals compare one thread
with one and each side's faster count with the other's. The path column says which sequence path the module took, from
tinygrad_rnn.compiled.scan_info() when it exists ("no scan": it ran no scan at all, as a
fused built-in kernel or an nn.Recurrent without the compiled path). --compiled off passes
compiled=False where nn.Recurrent (and nn.LSTM) accept it, --compiled both times both paths.
After the goals, a second table puts each goal in terms of time: the training step the goal
allows (torch's time over the goal, at one thread and against torch's faster count) and the
share of it that the step's matrix products alone take when timed as plain np.matmul calls
on the same shapes (`gemm_shapes`), at one thread and at our faster count. A third
(--no-overhead skips it) times the same training steps at batch 1, hidden 4, one thread
each, interleaved: what is left at that size is per-op cost, and the products plus our
per-op cost make a bound under which no step of the full size can go however little
arithmetic its other ops do.
Output: the tables on stdout and JSON (default benchmarks/results_custom_cells.json, ignored
by git).
"""
from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import math
import os
import platform
import sys
import time
from typing import Any, Callable

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

import run  # noqa: E402  (benchmarks/run.py: interleaved timing, data, one-hot)
import tinygrad_rnn as tg  # noqa: E402
from tinygrad_rnn import Tensor, nn, optim  # noqa: E402
from tinygrad_rnn.nn import functional as F  # noqa: E402

try:  # the compiled sequence path may not exist (or not be wired into nn.Recurrent) yet
    from tinygrad_rnn import compiled as _compiled
    scan_info: Callable[[], dict] | None = _compiled.scan_info
except (ImportError, AttributeError):
    _compiled, scan_info = None, None
try:  # the engine's thread count (tinygrad_rnn.parallel) may not exist yet
    from tinygrad_rnn import parallel as _parallel
except ImportError:
    _parallel = None


def _load_example_cell() -> type:
    path = os.path.join(ROOT, "examples", "custom_cell.py")
    spec = importlib.util.spec_from_file_location("_custom_cell_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PeepholeLSTMCell


PeepholeLSTMCell = _load_example_cell()


# ----- the cells, tinygrad_rnn --------------------------------------------------------------
def _uniform(shape: tuple, k: float) -> nn.Parameter:
    p = nn.Parameter(np.zeros(shape, np.float32))
    nn.init.uniform_(p, -k, k)
    return p


class LayerNormGRUCell(nn.Module):
    """GRU cell with layer norm on the input and the hidden pre-activations.

        gi = LN(x @ weight_ih.T; ln_ih_weight, ln_ih_bias)        (batch, 3 * hidden): [r, z, n]
        gh = LN(h @ weight_hh.T; ln_hh_weight, ln_hh_bias)
        r = sigmoid(gi_r + gh_r)
        z = sigmoid(gi_z + gh_z)
        n = tanh(gi_n + r * gh_n)
        h' = (1 - z) * n + z * h

    x: (batch, input_size); h, h': (batch, hidden_size); weight_ih: (3 * hidden, input_size);
    weight_hh: (3 * hidden, hidden); ln_*_weight, ln_*_bias: (3 * hidden,), the layer norms'
    affine parameters (they take the place of the GRU's biases). h defaults to zeros.
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        k, G = 1.0 / math.sqrt(hidden_size), 3 * hidden_size
        self.weight_ih = _uniform((G, input_size), k)
        self.weight_hh = _uniform((G, hidden_size), k)
        self.ln_ih_weight = nn.Parameter(np.ones(G, np.float32))
        self.ln_ih_bias = nn.Parameter(np.zeros(G, np.float32))
        self.ln_hh_weight = nn.Parameter(np.ones(G, np.float32))
        self.ln_hh_bias = nn.Parameter(np.zeros(G, np.float32))

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        H, G = self.hidden_size, 3 * self.hidden_size
        if h is None:
            h = Tensor(np.zeros((x.shape[0], H), dtype=x.dtype))
        gi = F.layer_norm(x @ self.weight_ih.T, G, self.ln_ih_weight, self.ln_ih_bias)
        gh = F.layer_norm(h @ self.weight_hh.T, G, self.ln_hh_weight, self.ln_hh_bias)
        r = (gi[:, 0 * H:1 * H] + gh[:, 0 * H:1 * H]).sigmoid()
        z = (gi[:, 1 * H:2 * H] + gh[:, 1 * H:2 * H]).sigmoid()
        n = (gi[:, 2 * H:3 * H] + r * gh[:, 2 * H:3 * H]).tanh()
        return (1 - z) * n + z * h


class IndRNNCell(nn.Module):
    """Independently recurrent cell (Li et al., 2018): each unit sees only its own past.

        h' = relu(x @ weight_ih.T + weight_hh * h + bias)

    x: (batch, input_size); h, h': (batch, hidden_size); weight_ih: (hidden, input_size);
    weight_hh, bias: (hidden,). h defaults to zeros.
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        k = 1.0 / math.sqrt(hidden_size)
        self.weight_ih = _uniform((hidden_size, input_size), k)
        self.weight_hh = _uniform((hidden_size,), k)
        self.bias = _uniform((hidden_size,), k)

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        if h is None:
            h = Tensor(np.zeros((x.shape[0], self.hidden_size), dtype=x.dtype))
        return (x @ self.weight_ih.T + self.weight_hh * h + self.bias).relu()


class MinGRUCell(nn.Module):
    """minGRU (Feng et al., 2024) in its sequential form: the gates see only the input.

        z = sigmoid(x @ weight_z.T + bias_z)
        h~ = x @ weight_h.T + bias_h
        h' = (1 - z) * h + z * h~

    x: (batch, input_size); h, h': (batch, hidden_size); weight_z, weight_h:
    (hidden, input_size); bias_z, bias_h: (hidden,). h defaults to zeros.
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        k = 1.0 / math.sqrt(hidden_size)
        self.weight_z = _uniform((hidden_size, input_size), k)
        self.bias_z = _uniform((hidden_size,), k)
        self.weight_h = _uniform((hidden_size, input_size), k)
        self.bias_h = _uniform((hidden_size,), k)

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        if h is None:
            h = Tensor(np.zeros((x.shape[0], self.hidden_size), dtype=x.dtype))
        z = (x @ self.weight_z.T + self.bias_z).sigmoid()
        h_tilde = x @ self.weight_h.T + self.bias_h
        return (1 - z) * h + z * h_tilde


CELLS = {"peephole": ("peephole LSTM", PeepholeLSTMCell),
         "lngru": ("layer-norm GRU", LayerNormGRUCell),
         "indrnn": ("IndRNN", IndRNNCell),
         "mingru": ("minGRU (sequential)", MinGRUCell),
         "lstm": ("built-in nn.LSTM", None)}
GOALS = {"peephole": 1.25, "lngru": 1.4, "indrnn": 2.0, "mingru": 2.0}  # vs the torch loop
PEEPHOLE_VS_LSTM = 0.85
DEFAULT = dict(batch=32, hidden=256, seq=64, vocab=65, dtype="float32", lr=0.1)


# ----- the same cells, PyTorch ------------------------------------------------------------------
def torch_cells(torch) -> dict:
    """torch.nn.Module twins of the cells above: same equations, same parameter names."""
    tnn, tF = torch.nn, torch.nn.functional

    def param(*shape):
        return tnn.Parameter(torch.zeros(*shape))

    class PeepholeLSTM(tnn.Module):
        def __init__(self, input_size, hidden_size):
            super().__init__()
            self.hidden_size = hidden_size
            G = 4 * hidden_size
            self.weight_ih, self.weight_hh = param(G, input_size), param(G, hidden_size)
            self.bias = param(G)
            self.weight_ci, self.weight_cf = param(hidden_size), param(hidden_size)
            self.weight_co = param(hidden_size)

        def forward(self, x, state=None):
            H = self.hidden_size
            if state is None:
                zeros = x.new_zeros(x.shape[0], H)
                state = (zeros, zeros)
            h, c = state
            a = x @ self.weight_ih.T + h @ self.weight_hh.T + self.bias
            i = torch.sigmoid(a[:, 0 * H:1 * H] + self.weight_ci * c)
            f = torch.sigmoid(a[:, 1 * H:2 * H] + self.weight_cf * c)
            g = torch.tanh(a[:, 2 * H:3 * H])
            c_new = f * c + i * g
            o = torch.sigmoid(a[:, 3 * H:4 * H] + self.weight_co * c_new)
            return o * torch.tanh(c_new), c_new

    class LayerNormGRU(tnn.Module):
        def __init__(self, input_size, hidden_size):
            super().__init__()
            self.hidden_size = hidden_size
            G = 3 * hidden_size
            self.weight_ih, self.weight_hh = param(G, input_size), param(G, hidden_size)
            self.ln_ih_weight, self.ln_ih_bias = param(G), param(G)
            self.ln_hh_weight, self.ln_hh_bias = param(G), param(G)

        def forward(self, x, h=None):
            H, G = self.hidden_size, 3 * self.hidden_size
            if h is None:
                h = x.new_zeros(x.shape[0], H)
            gi = tF.layer_norm(x @ self.weight_ih.T, (G,), self.ln_ih_weight, self.ln_ih_bias)
            gh = tF.layer_norm(h @ self.weight_hh.T, (G,), self.ln_hh_weight, self.ln_hh_bias)
            r = torch.sigmoid(gi[:, 0 * H:1 * H] + gh[:, 0 * H:1 * H])
            z = torch.sigmoid(gi[:, 1 * H:2 * H] + gh[:, 1 * H:2 * H])
            n = torch.tanh(gi[:, 2 * H:3 * H] + r * gh[:, 2 * H:3 * H])
            return (1 - z) * n + z * h

    class IndRNN(tnn.Module):
        def __init__(self, input_size, hidden_size):
            super().__init__()
            self.hidden_size = hidden_size
            self.weight_ih = param(hidden_size, input_size)
            self.weight_hh, self.bias = param(hidden_size), param(hidden_size)

        def forward(self, x, h=None):
            if h is None:
                h = x.new_zeros(x.shape[0], self.hidden_size)
            return torch.relu(x @ self.weight_ih.T + self.weight_hh * h + self.bias)

    class MinGRU(tnn.Module):
        def __init__(self, input_size, hidden_size):
            super().__init__()
            self.hidden_size = hidden_size
            self.weight_z, self.bias_z = param(hidden_size, input_size), param(hidden_size)
            self.weight_h, self.bias_h = param(hidden_size, input_size), param(hidden_size)

        def forward(self, x, h=None):
            if h is None:
                h = x.new_zeros(x.shape[0], self.hidden_size)
            z = torch.sigmoid(x @ self.weight_z.T + self.bias_z)
            return (1 - z) * h + z * (x @ self.weight_h.T + self.bias_h)

    return {"peephole": PeepholeLSTM, "lngru": LayerNormGRU, "indrnn": IndRNN,
            "mingru": MinGRU}


# ----- implementations: each is make(...) -> step(x_idx, y_idx) -> loss ----------------------
def initial_weights(cell: str, cfg: dict, seed: int = 0) -> dict:
    """{"rec": state_dict, "head": state_dict} of one model, shared by every implementation."""
    tg.manual_seed(seed)
    rec, head, _, _ = _tg_modules(cell, cfg)
    return {"rec": rec.state_dict(), "head": head.state_dict()}


def _tg_modules(cell: str, cfg: dict, compiled: bool | None = None) -> tuple:
    """(recurrent module, readout, forward keywords, how compiled= was passed: "default",
    "constructor", "forward" or "not accepted")."""
    V, H = cfg["vocab"], cfg["hidden"]

    def build(**kw):
        if cell == "lstm":
            return nn.LSTM(V, H, **kw)
        cls = CELLS[cell][1]
        return nn.Recurrent(lambda n: cls(n, H), input_size=V, **kw)

    fwd_kw, how = {}, "default"
    if compiled is None:
        rec = build()
    else:
        try:
            rec, how = build(compiled=compiled), "constructor"
        except TypeError:
            rec = build()
            if "compiled" in inspect.signature(rec.forward).parameters:
                fwd_kw, how = {"compiled": compiled}, "forward"
            else:
                how = "not accepted"
    dtype = np.dtype(cfg["dtype"])
    return rec.to(dtype), nn.Linear(H, V).to(dtype), fwd_kw, how


def _reset_scan_info() -> None:
    # scan_info() describes the last scan; forget it so that a module that never scans reads
    # as such instead of inheriting the previous implementation's answer
    last = getattr(_compiled, "_LAST", None)
    if isinstance(last, dict):
        last.update(path=None, why=None)


def make_tinygrad(cell: str, cfg: dict, weights: dict, compiled: bool | None = None,
                  meta: dict | None = None, threads: int = 1) -> Callable:
    """Our training step on `threads` engine threads (tinygrad_rnn.parallel; 1 where that
    does not exist); `meta` receives which path ran and how compiled= was passed."""
    rec, head, fwd_kw, how = _tg_modules(cell, cfg, compiled)
    rec.load_state_dict(weights["rec"])
    head.load_state_dict(weights["head"])
    opt = optim.SGD(list(rec.parameters()) + list(head.parameters()), lr=cfg["lr"])
    V, dtype = cfg["vocab"], np.dtype(cfg["dtype"])
    meta = {} if meta is None else meta
    meta.update(compiled_arg=how, path=None, why=None)
    probe = [True]

    def step(x_idx: np.ndarray, y_idx: np.ndarray) -> float:
        if _parallel is None:
            return train_step(x_idx, y_idx)
        with _parallel.num_threads(threads):
            return train_step(x_idx, y_idx)

    def train_step(x_idx: np.ndarray, y_idx: np.ndarray) -> float:
        if probe[0] and scan_info is not None:
            _reset_scan_info()
        out, _ = rec(Tensor(run.one_hot(x_idx, V, dtype)), **fwd_kw)
        loss = F.cross_entropy(head(out), y_idx)
        if probe[0]:
            probe[0] = False
            info = scan_info() if scan_info is not None else {}
            meta.update(path=info.get("path"), why=info.get("why"))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    return step


def make_torch(torch, cell: str, cfg: dict, weights: dict, threads: int) -> Callable:
    """The same step in PyTorch: a Python loop over the twin cell (torch.nn.LSTM for lstm)."""
    V, H, T = cfg["vocab"], cfg["hidden"], cfg["seq"]
    dtype = run.torch_ref._dtype(torch, cfg["dtype"])
    if cell == "lstm":
        rec = torch.nn.LSTM(V, H)
    else:
        rec = torch_cells(torch)[cell](V, H)
    rec, head = rec.to(dtype), torch.nn.Linear(H, V).to(dtype)
    ours = weights["rec"] if cell == "lstm" else \
        {k.split(".", 1)[1]: v for k, v in weights["rec"].items()}  # "cell_l0.weight_ih"
    with torch.no_grad():
        for module, sd in ((rec, ours), (head, weights["head"])):
            own = dict(module.named_parameters())
            if set(own) != set(sd):
                raise KeyError(f"{cell}: torch parameters {sorted(own)} != ours {sorted(sd)}")
            for name, value in sd.items():
                own[name].copy_(torch.from_numpy(np.ascontiguousarray(value)))
    opt = torch.optim.SGD(list(rec.parameters()) + list(head.parameters()), lr=cfg["lr"])

    def step(x_idx: np.ndarray, y_idx: np.ndarray) -> float:
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        x = torch.nn.functional.one_hot(torch.from_numpy(x_idx), V).to(dtype)
        if cell == "lstm":
            out, _ = rec(x)
        else:
            state, outs = None, []
            for t in range(T):
                state = rec(x[t], state)
                outs.append(state[0] if isinstance(state, tuple) else state)
            out = torch.stack(outs)
        loss = torch.nn.functional.cross_entropy(head(out).reshape(-1, V),
                                                 torch.from_numpy(y_idx).reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    return step


def implementations(cells: list, cfg: dict, torch, compiled_modes: list,
                    torch_threads: list, tg_threads: tuple = (1,)) -> tuple:
    """{(cell, implementation): step} and {(cell, implementation): meta} for every cell;
    ours at each engine thread count ("tg Recurrent" is one thread, "... 2t" two)."""
    impls, metas = {}, {}
    for cell in cells:
        w = initial_weights(cell, cfg)
        ours = "tg nn.LSTM" if cell == "lstm" else "tg Recurrent"
        for mode in compiled_modes:
            for n in tg_threads:
                name = ours + (" compiled=False" if mode is False else "") + \
                    ("" if n == 1 else f" {n}t")
                metas[cell, name] = {}
                impls[cell, name] = make_tinygrad(cell, cfg, w, mode, metas[cell, name], n)
        if torch is not None:
            theirs = "torch nn.LSTM" if cell == "lstm" else "torch loop"
            for n in torch_threads:
                impls[cell, f"{theirs} {n}t"] = make_torch(torch, cell, cfg, w, n)
    return impls, metas


# ----- what the products alone take ---------------------------------------------------------
def gemm_shapes(cell: str, cfg: dict) -> list:
    """(count, m, k, n) of every matrix product in one training step of `cell` as written.

    peephole LSTM, built-in LSTM and layer-norm GRU: those of benchmarks/run.py's LSTM and
    GRU layers (the input projection over all T*B rows, h @ W_hh^T and d @ W_hh per step,
    d W_hh and d W_ih over all rows; the one-hot input takes no gradient). IndRNN: one
    input projection and its weight gradient, the recurrence being elementwise; minGRU: two.
    Every cell adds the readout's three products.
    """
    if cell in ("peephole", "lstm", "lngru"):
        return run.gemm_shapes(dict(cfg, kind="gru" if cell == "lngru" else "lstm"))
    T, B, V, H = cfg["seq"], cfg["batch"], cfg["vocab"], cfg["hidden"]
    N = T * B
    shapes = [(1, N, V, H), (1, H, N, V)] * (2 if cell == "mingru" else 1)
    shapes += [(1, N, H, V), (1, V, N, H), (1, N, V, H)]
    merged: dict = {}
    for count, m, k, n in shapes:
        merged[(m, k, n)] = merged.get((m, k, n), 0) + count
    return [(count, m, k, n) for (m, k, n), count in merged.items()]


def gemm_floors(cells: list, cfg: dict, threads: tuple, repeats: int) -> dict:
    """{cell: {"gflop": ..., "<n>t": seconds}}: np.matmul's time for the cell's products at
    each BLAS thread count, in this process (benchmarks/run.py's timing of one product)."""
    dtype = np.dtype(cfg["dtype"])
    rng = np.random.default_rng(0)
    timed: dict = {}  # (m, k, n, threads) -> seconds of one product
    out = {}
    for cell in cells:
        shapes = gemm_shapes(cell, cfg)
        row = {"gflop": sum(2.0 * c * m * k * n for c, m, k, n in shapes) / 1e9}
        for n_threads in threads:
            total = 0.0
            for count, m, k, n in shapes:
                key = (m, k, n, n_threads)
                if key not in timed:
                    timed[key] = run._time_product(m, k, n, dtype, repeats, n_threads, rng)
                total += count * timed[key]
            row[f"{n_threads}t"] = total
        out[cell] = row
    return out


TINY = dict(batch=1, hidden=4)  # a size at which a training step is all per-op overhead


def overhead_floors(cells: list, cfg: dict, torch, repeats: int, block_s: float) -> dict:
    """{cell: {"tg_s": ..., "torch_s": ...}}: the training step of each cell at batch 1,
    hidden 4 (the same ops, sequence length and vocabulary), one thread each, interleaved as
    the main table: what is left there is the per-op cost of the step's ops (Python, graph,
    NumPy's dispatch), which no amount of faster arithmetic removes at the full size."""
    tiny = dict(cfg, **TINY)
    impls = {}
    for cell in cells:
        if cell not in GOALS:
            continue
        w = initial_weights(cell, tiny)
        impls[cell, "tg"] = make_tinygrad(cell, tiny, w)
        if torch is not None:
            impls[cell, "torch"] = make_torch(torch, cell, tiny, w, 1)
    timing = run.time_interleaved(impls, [run.make_data(tiny, seed=s) for s in range(1, 9)],
                                  repeats, block_s)
    out: dict = {}
    for (cell, who), r in timing.items():
        out.setdefault(cell, {})[f"{who}_s"] = r["step_s"]
    return out


def floor_rows(results: dict) -> dict:
    """Per cell with a goal: the step time the goal allows (torch's row / the goal, at one
    thread and against torch's faster count) and the share of it the products alone take
    (at one thread, and at our fastest count)."""
    rows = {}
    for cell, minimum in GOALS.items():
        floor = results.get("gemm_floor", {}).get(cell)
        if floor is None or cell not in results["cells"]:
            continue
        one = next((v for k, v in _torch_rows(results, cell).items() if k.endswith(" 1t")), None)
        _, best = _best_torch(results, cell)
        counts = [k for k in floor if k.endswith("t")]
        row = {"goal": minimum, "gemm_1t_s": floor.get("1t"),
               "gemm_best_s": min(floor[k] for k in counts) if counts else None}
        tiny = results.get("overhead_floor", {}).get(cell, {})
        row["overhead_tg_s"], row["overhead_torch_s"] = tiny.get("tg_s"), tiny.get("torch_s")
        # the least a step could take at one thread if every op but the products did no
        # arithmetic at all: its products plus its per-op cost
        row["bound_1t_s"] = None if row["gemm_1t_s"] is None or row["overhead_tg_s"] is None \
            else row["gemm_1t_s"] + row["overhead_tg_s"]
        for tag, ref, gemm in (("1t", one, row["gemm_1t_s"]), ("best", best, row["gemm_best_s"])):
            allows = None if ref is None else ref["step_s"] / minimum
            row[f"allows_{tag}_s"] = allows
            row[f"share_{tag}"] = None if allows is None or gemm is None else gemm / allows
        allows = row.get("allows_1t_s")
        row["bound_share_1t"] = None if allows is None or row["bound_1t_s"] is None \
            else row["bound_1t_s"] / allows
        rows[cell] = row
    return rows


# ----- report -------------------------------------------------------------------------------
def _row(results: dict, cell: str, impl: str) -> dict | None:
    return results["cells"].get(cell, {}).get(impl)


def _ratio(a: dict | None, b: dict | None) -> float | None:
    return None if a is None or b is None else a["chars_per_s"] / b["chars_per_s"]


def _torch_rows(results: dict, cell: str) -> dict:
    theirs = "torch nn.LSTM" if cell == "lstm" else "torch loop"
    return {k: v for k, v in results["cells"].get(cell, {}).items() if k.startswith(theirs)}


def _best_torch(results: dict, cell: str) -> tuple:
    rows = _torch_rows(results, cell)
    if not rows:
        return None, None
    name = max(rows, key=lambda k: rows[k]["chars_per_s"])
    return name, rows[name]


def _best_ours(results: dict, cell: str, goal_impl: str) -> tuple:
    """Our faster row among goal_impl (one thread) and goal_impl at other thread counts."""
    base = ("tg nn.LSTM" + goal_impl[len("tg Recurrent"):]) if cell == "lstm" else goal_impl
    rows = {k: v for k, v in results["cells"].get(cell, {}).items()
            if k == base or (k.startswith(base + " ") and k.endswith("t") and
                             k[len(base) + 1:-1].isdigit())}
    if not rows:
        return None, None
    name = max(rows, key=lambda k: rows[k]["chars_per_s"])
    return name, rows[name]


def _threads_of(name: str | None) -> str:
    tail = (name or "").rsplit(" ", 1)[-1]
    return tail if tail.endswith("t") and tail[:-1].isdigit() else "1t"


def evaluate(results: dict, goal_impl: str) -> dict:
    goals = {}
    for cell, minimum in GOALS.items():
        if cell not in results["cells"]:
            continue
        ours = _row(results, cell, goal_impl)
        one = next((v for k, v in _torch_rows(results, cell).items() if k.endswith(" 1t")), None)
        best_name, best = _best_torch(results, cell)
        ours_name, ours_best = _best_ours(results, cell, goal_impl)
        title = CELLS[cell][0]
        for text, mine, ref in (
                (f"{title} >= {minimum}x torch eager loop, 1 thread each", ours, one),
                (f"{title} >= {minimum}x torch eager loop, each at its faster count "
                 f"({_threads_of(ours_name)} vs {_threads_of(best_name)})", ours_best, best)):
            r = _ratio(mine, ref)
            goals[text] = {"ratio": r, "met": None if r is None else r >= minimum}
    lstm = "tg nn.LSTM" + goal_impl[len("tg Recurrent"):]
    r = _ratio(_row(results, "peephole", goal_impl), _row(results, "lstm", lstm))
    goals[f"peephole LSTM >= {PEEPHOLE_VS_LSTM}x tg nn.LSTM, 1 thread"] = {
        "ratio": r, "met": None if r is None else r >= PEEPHOLE_VS_LSTM}
    r = _ratio(_best_ours(results, "peephole", goal_impl)[1],
               _best_ours(results, "lstm", goal_impl)[1])
    goals[f"peephole LSTM >= {PEEPHOLE_VS_LSTM}x tg nn.LSTM, each at its faster count"] = {
        "ratio": r, "met": None if r is None else r >= PEEPHOLE_VS_LSTM}
    return goals


def print_table(results: dict) -> None:
    print()
    head = (f"{'cell':<20} {'implementation':<28} {'path':<8} {'chars/s':>9} {'ms/step':>8} "
            f"{'vs torch 1t':>11} {'vs best':>8} {'vs nn.LSTM':>10} {'loss@1':>9}")
    print(head)
    print("-" * len(head))
    for cell, rows in results["cells"].items():
        one = next((v for k, v in _torch_rows(results, cell).items() if k.endswith(" 1t")), None)
        _, best = _best_torch(results, cell)
        for impl, r in rows.items():
            ours = impl.startswith("tg")
            lstm = _row(results, "lstm", "tg nn.LSTM" + impl[len("tg Recurrent"):]) \
                if cell == "peephole" and impl.startswith("tg Recurrent") else None
            path = r.get("path") or ("no scan" if ours else "-")
            cells = [run._fmt_ratio(_ratio(r, one) if ours else None),
                     run._fmt_ratio(_ratio(r, best) if ours else None),
                     run._fmt_ratio(_ratio(r, lstm))]
            print(f"{CELLS[cell][0]:<20} {impl:<28} {path:<8} {r['chars_per_s']:>9,.0f} "
                  f"{r['step_s'] * 1e3:>8.2f} {cells[0]:>11} {cells[1]:>8} {cells[2]:>10} "
                  f"{r['first_loss']:>9.5f}")
    notes = [f"  {CELLS[c][0]}, {i}: {r['why']}" for c, rows in results["cells"].items()
             for i, r in rows.items() if r.get("why")]
    notes += [f"  {CELLS[c][0]}, {i}: compiled=False was not accepted; ran the default path"
              for c, rows in results["cells"].items() for i, r in rows.items()
              if r.get("compiled_arg") == "not accepted"]
    if notes:
        print("\nwhy a path ran eagerly / notes:")
        print("\n".join(notes))
    chk = results["loss_check"]
    print(f"\nfirst-step losses agree to {chk['rtol']:g} relative: "
          + ("yes" if chk["ok"] else "NO") + f" (worst {chk['worst_rel']:.1e}"
          + (f", {chk['worst']}" if chk["worst"] else "") + ")")
    print(f"\ngoals ({results['goal_impl']}):")
    for text, g in results["goals"].items():
        mark = {True: "met", False: "not met", None: "n/a"}[g["met"]]
        r = "-" if g["ratio"] is None else f"{g['ratio']:.2f}"
        print(f"  {text:<58} {r:>6}  {mark}")
    floors = results.get("floor_rows") or {}
    if floors:
        print("\nwhat the goal allows per training step (torch's time / the goal) and the share of it"
              "\nthe matrix products alone take (np.matmul on the same shapes, gemm_shapes):")
        print(f"  {'cell':<20} {'goal':>5} {'allows 1t':>10} {'GEMM 1t':>9} {'share':>6} "
              f"{'allows best':>12} {'GEMM best':>10} {'share':>6}")

        def ms(v):
            return "-" if v is None else f"{v * 1e3:.2f}"

        def pc(v):
            return "-" if v is None else f"{v:.0%}"
        for cell, f in floors.items():
            print(f"  {CELLS[cell][0]:<20} {f['goal']:>4}x {ms(f['allows_1t_s']):>10} "
                  f"{ms(f['gemm_1t_s']):>9} {pc(f['share_1t']):>6} {ms(f['allows_best_s']):>12} "
                  f"{ms(f['gemm_best_s']):>10} {pc(f['share_best']):>6}")
        if any(f.get("overhead_tg_s") is not None for f in floors.values()):
            print(f"\nper-op overhead: the step at batch {TINY['batch']}, hidden {TINY['hidden']} (the same ops, "
                  "one thread each), and the\nproducts plus our overhead against what the goal "
                  "allows at one thread (over 100%: out of reach\neven if every other op did no "
                  "arithmetic):")
            print(f"  {'cell':<20} {'tg tiny':>8} {'torch tiny':>10} {'GEMM+tiny 1t':>13} "
                  f"{'allows 1t':>10} {'share':>6}")
            for cell, f in floors.items():
                print(f"  {CELLS[cell][0]:<20} {ms(f.get('overhead_tg_s')):>8} "
                      f"{ms(f.get('overhead_torch_s')):>10} {ms(f.get('bound_1t_s')):>13} "
                      f"{ms(f['allows_1t_s']):>10} {pc(f.get('bound_share_1t')):>6}")


def loss_check(results: dict, rtol: float = 1e-4) -> dict:
    worst, worst_rel = None, 0.0
    for cell, rows in results["cells"].items():
        ref = next(iter(rows.values()))["first_loss"]
        for impl, r in rows.items():
            rel = abs(r["first_loss"] - ref) / max(abs(ref), 1e-30)
            if rel > worst_rel:
                worst, worst_rel = f"{CELLS[cell][0]} {impl}", rel
    return {"rtol": rtol, "ok": worst_rel <= rtol, "worst_rel": worst_rel, "worst": worst}


def _limit_numpy_threads(n: int) -> Any:
    """One BLAS thread for numpy (torch's threads are set per step); None without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(n, user_api="blas")


def main(argv: list | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer, shorter blocks")
    ap.add_argument("--repeats", type=int, default=None, help="timed blocks per implementation")
    ap.add_argument("--json", default=os.path.join(HERE, "results_custom_cells.json"),
                    help="output path")
    ap.add_argument("--only", default="", help="comma list of " + ",".join(CELLS)
                    + " (default: all)")
    ap.add_argument("--compiled", choices=("auto", "off", "both"), default="auto",
                    help="auto: nn.Recurrent's default path; off: compiled=False; both: each")
    ap.add_argument("--torch-threads", default="1,2", help="torch thread counts, each timed")
    ap.add_argument("--tg-threads", default="1,2",
                    help="our engine thread counts (tinygrad_rnn.parallel), each timed")
    ap.add_argument("--no-overhead", action="store_true",
                    help="skip the per-op overhead rows (the cells at batch 1, hidden 4)")
    ap.add_argument("--batch", type=int, default=DEFAULT["batch"], help=argparse.SUPPRESS)
    ap.add_argument("--hidden", type=int, default=DEFAULT["hidden"], help=argparse.SUPPRESS)
    ap.add_argument("--seq", type=int, default=DEFAULT["seq"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    cells = [c for c in CELLS if c in set(filter(None, args.only.split(",")))] or list(CELLS)
    unknown = set(filter(None, args.only.split(","))) - set(CELLS)
    if unknown:
        ap.error(f"--only: unknown {sorted(unknown)}; choose from {', '.join(CELLS)}")
    modes = {"auto": [None], "off": [False], "both": [None, False]}[args.compiled]
    threads = [int(n) for n in args.torch_threads.split(",") if n]
    tg_threads = tuple(int(n) for n in args.tg_threads.split(",") if n) or (1,)
    if _parallel is None:
        tg_threads = (1,)
    repeats = args.repeats or (3 if args.quick else 9)
    block_s = 0.12 if args.quick else 0.25
    cfg = dict(DEFAULT, batch=args.batch, hidden=args.hidden, seq=args.seq)
    torch = run._torch()
    torch_default = torch.get_num_threads() if torch is not None else None
    limits = _limit_numpy_threads(1)
    results: dict = {
        "machine": {"python": platform.python_version(), "numpy": np.__version__,
                    "torch": getattr(torch, "__version__", None), "torch_threads": threads,
                    "numpy_blas_threads": 1 if limits is not None else None,
                    "cpus": os.cpu_count(), "load_average": os.getloadavg(),
                    "platform": platform.platform()},
        "config": cfg, "repeats": repeats, "block_s": block_s, "compiled": args.compiled,
        "scan_info_available": scan_info is not None, "cells": {}}
    print(f"numpy {np.__version__} (1 BLAS thread"
          f"{'' if limits is not None else '? threadpoolctl missing'}), torch "
          f"{results['machine']['torch']} (threads {threads}), {os.cpu_count()} cpus, load "
          f"average {os.getloadavg()[0]:.1f}; batch {cfg['batch']}, hidden {cfg['hidden']}, "
          f"seq {cfg['seq']}, one-hot {cfg['vocab']}, {cfg['dtype']}, SGD; {repeats} "
          f"interleaved blocks of ~{block_s}s, medians")
    if scan_info is None:
        print("tinygrad_rnn.compiled.scan_info() not found: everything runs on the eager loop")
    t_start = time.perf_counter()
    try:
        impls, metas = implementations(cells, cfg, torch, modes, threads, tg_threads)
        batches = [run.make_data(cfg, seed=s) for s in range(1, 9)]
        timing = run.time_interleaved(impls, batches, repeats, block_s)
    finally:
        if torch is not None:
            torch.set_num_threads(torch_default)
        if limits is not None:
            limits.restore_original_limits()
    chars = cfg["batch"] * cfg["seq"]
    for (cell, impl), r in timing.items():
        r["chars_per_s"] = chars / r["step_s"]
        r.update(metas.get((cell, impl), {}))
        results["cells"].setdefault(cell, {})[impl] = r
    results["goal_impl"] = "tg Recurrent" + (" compiled=False" if modes == [False] else "")
    results["goals"] = evaluate(results, results["goal_impl"])
    results["gemm_floor"] = gemm_floors(cells, cfg, tg_threads, 2 if args.quick else 5)
    if not args.no_overhead:
        limits = _limit_numpy_threads(1)
        try:
            results["overhead_floor"] = overhead_floors(cells, cfg, torch, repeats, block_s)
        finally:
            if torch is not None:
                torch.set_num_threads(torch_default)
            if limits is not None:
                limits.restore_original_limits()
    results["floor_rows"] = floor_rows(results)
    results["loss_check"] = loss_check(results)
    print_table(results)
    results["elapsed_s"] = time.perf_counter() - t_start
    with open(args.json, "w") as f:
        json.dump(results, f, indent=1, default=float)
    print(f"\nwrote {args.json} ({results['elapsed_s']:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
