"""Variable-length batches: a padded batch with lengths gives each sequence's own numbers, on
the kernels and on the compiled path, for every layer, direction and layout; and PyTorch's
packed sequences agree."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.compiled import scan_info

from tests.test_compiled import CELLS


def _layer(kind: str, I: int, H: int, layers: int, bidirectional: bool, batch_first: bool,
           fused: bool) -> nn.Module:
    if kind in ("RNN", "LSTM", "GRU"):
        return getattr(nn, kind)(I, H, num_layers=layers, bidirectional=bidirectional,
                                 batch_first=batch_first, fused=fused).double()
    return nn.Recurrent(lambda n: CELLS[kind](n, H), num_layers=layers, input_size=I,
                        bidirectional=bidirectional, batch_first=batch_first).double()


def _parts(state) -> tuple:
    return state if isinstance(state, tuple) else (state,)


def _forward_backward(model, x: np.ndarray, lengths, seed: np.ndarray, batch_first: bool):
    model.zero_grad()
    xt = Tensor(x.copy(), requires_grad=True)
    out, state = model(xt, lengths=lengths)
    loss = (out * Tensor(seed[:out.shape[0], :out.shape[1]] if batch_first else
                         seed[:out.shape[0], :out.shape[1]])).sum()
    for s in _parts(state):
        loss = loss + (s * s).sum()
    loss.backward()
    return out.data, [s.data for s in _parts(state)], xt.grad.data, \
        [p.grad.data.copy() for p in model.parameters()]


KINDS = ["RNN", "LSTM", "GRU", "peephole LSTM", "minGRU"]


@settings(max_examples=int(__import__("os").environ.get("LENGTH_EXAMPLES", 30)))
@given(kind=st.sampled_from(KINDS), fused=st.booleans(), T=st.integers(3, 6),
       B=st.integers(1, 4), layers=st.integers(1, 2), bidirectional=st.booleans(),
       batch_first=st.booleans(), data=st.data())
def test_a_padded_batch_equals_each_sequence_alone(kind, fused, T, B, layers, bidirectional,
                                                   batch_first, data):
    I, H = 2, 3
    lengths = np.asarray(data.draw(st.lists(st.integers(1, T), min_size=B, max_size=B)))
    tg.manual_seed(1)
    model = _layer(kind, I, H, layers, bidirectional, batch_first, fused)
    rng = np.random.default_rng(int(lengths.sum()))
    x = rng.standard_normal((B, T, I) if batch_first else (T, B, I))
    D = 2 if bidirectional else 1
    seed = rng.standard_normal((B, T, D * H) if batch_first else (T, B, D * H))
    out, finals, gx, gp = _forward_backward(model, x, lengths, seed, batch_first)
    total = [np.zeros_like(g) for g in gp]
    for b in range(B):
        n = lengths[b]
        xb = x[b:b + 1, :n] if batch_first else x[:n, b:b + 1]
        sb = seed[b:b + 1, :n] if batch_first else seed[:n, b:b + 1]
        ob, fb, gxb, gpb = _forward_backward(model, xb, None, sb, batch_first)
        mine = out[b:b + 1, :n] if batch_first else out[:n, b:b + 1]
        np.testing.assert_allclose(mine, ob, rtol=1e-12, atol=1e-14)
        pad = out[b, n:] if batch_first else out[n:, b]
        assert not pad.any()  # outputs past the length are exactly zero
        for f, g in zip(finals, fb):
            np.testing.assert_allclose(f[:, b], g[:, 0], rtol=1e-12, atol=1e-14)
        mine_gx = gx[b:b + 1, :n] if batch_first else gx[:n, b:b + 1]
        np.testing.assert_allclose(mine_gx, gxb, rtol=1e-12, atol=1e-12 * np.abs(gxb).max())
        pad_gx = gx[b, n:] if batch_first else gx[n:, b]
        assert not pad_gx.any()  # padded inputs get exactly zero gradient
        for t, g in zip(total, gpb):
            t += g
    for a, b in zip(gp, total):  # parameter gradients: the sum over the sequences alone
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12 * max(np.abs(b).max(), 1e-300))


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("fused", [True, False])
def test_lengths_match_torch_packed_sequences(torch, kind, fused):
    T, B, I, H = 7, 5, 3, 4
    lengths = np.array([7, 2, 5, 1, 3])
    tg.manual_seed(0)
    ours = getattr(nn, kind)(I, H, num_layers=2, bidirectional=True, fused=fused).double()
    theirs = getattr(torch.nn, kind)(I, H, num_layers=2, bidirectional=True).double()
    theirs.load_state_dict({k: torch.from_numpy(np.asarray(v, np.float64))
                            for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((T, B, I))
    xt = Tensor(x.copy(), requires_grad=True)
    out, state = ours(xt, lengths=lengths)
    loss = (out * out).sum() + sum((s * s).sum() for s in _parts(state))
    loss.backward()
    tx = torch.from_numpy(x.copy()).requires_grad_()
    packed = torch.nn.utils.rnn.pack_padded_sequence(tx, torch.from_numpy(lengths),
                                                     enforce_sorted=False)
    po, pstate = theirs(packed)
    to, _ = torch.nn.utils.rnn.pad_packed_sequence(po, total_length=T)
    tloss = (to * to).sum() + sum((s * s).sum() for s in _parts(pstate))
    tloss.backward()
    np.testing.assert_allclose(out.data, to.detach().numpy(), rtol=1e-12, atol=1e-14)
    for s, ts in zip(_parts(state), _parts(pstate)):
        np.testing.assert_allclose(s.data, ts.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(xt.grad.data, tx.grad.numpy(), rtol=1e-10, atol=1e-13)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=name)


def test_the_compiled_path_keeps_lengths_inside_the_time_loop():
    tg.manual_seed(0)
    model = nn.Recurrent(lambda n: CELLS["peephole LSTM"](n, 3), input_size=2,
                         bidirectional=True).double()
    x = np.random.default_rng(0).standard_normal((6, 3, 2))
    out, (h, c) = model(Tensor(x), lengths=[6, 2, 4])
    assert scan_info()["path"] == "compiled"
    model.compiled = False
    ref, (h_ref, c_ref) = model(Tensor(x), lengths=[6, 2, 4])
    for a, b in ((out, ref), (h, h_ref), (c, c_ref)):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-12, atol=1e-14)


def test_lengths_equal_to_the_sequence_length_change_nothing():
    tg.manual_seed(0)
    model = nn.GRU(2, 3, bidirectional=True).double()
    x = Tensor(np.random.default_rng(0).standard_normal((4, 2, 2)))
    a, ha = model(x)
    b, hb = model(x, lengths=Tensor(np.array([4, 4])))
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(ha.data, hb.data)


@pytest.mark.parametrize("lengths, error, match", [
    ([0, 2], ValueError, r"lengths must be in 1..4"),
    ([5, 2], ValueError, r"lengths must be in 1..4"),
    ([2], ValueError, r"lengths has shape \(1,\), expected \(2,\)"),
    ([2.0, 3.0], TypeError, "lengths must hold integers"),
    (np.array([[1, 2]]), ValueError, r"expected \(2,\)"),
])
def test_bad_lengths_are_refused(lengths, error, match):
    model = nn.LSTM(2, 3).double()
    with pytest.raises(error, match=match):
        model(Tensor(np.ones((4, 2, 2))), lengths=lengths)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_packed_sequences_in_and_out_match_torch(torch, kind):
    from tinygrad_rnn.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    T, B, I, H = 6, 4, 3, 5
    lengths = np.array([3, 6, 1, 4])
    tg.manual_seed(0)
    ours = getattr(nn, kind)(I, H, bidirectional=True, batch_first=True).double()
    theirs = getattr(torch.nn, kind)(I, H, bidirectional=True, batch_first=True).double()
    theirs.load_state_dict({k: torch.from_numpy(np.asarray(v, np.float64))
                            for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((B, T, I))
    xt = Tensor(x.copy(), requires_grad=True)
    packed = pack_padded_sequence(xt, lengths, batch_first=True, enforce_sorted=False)
    out, state = ours(packed)
    assert type(out) is type(packed)
    np.testing.assert_array_equal(out.batch_sizes.data, packed.batch_sizes.data)
    padded, lens = pad_packed_sequence(out, batch_first=True)
    loss = (padded * padded).sum() + sum((s * s).sum() for s in _parts(state))
    loss.backward()
    tx = torch.from_numpy(x.copy()).requires_grad_()
    tp = torch.nn.utils.rnn.pack_padded_sequence(tx, torch.from_numpy(lengths), batch_first=True,
                                                 enforce_sorted=False)
    to, tstate = theirs(tp)
    tpad, _ = torch.nn.utils.rnn.pad_packed_sequence(to, batch_first=True)
    ((tpad * tpad).sum() + sum((s * s).sum() for s in _parts(tstate))).backward()
    np.testing.assert_allclose(out.data.data, to.data.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(padded.data, tpad.detach().numpy(), rtol=1e-12, atol=1e-14)
    for s, ts in zip(_parts(state), _parts(tstate)):
        np.testing.assert_allclose(s.data, ts.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(xt.grad.data, tx.grad.numpy(), rtol=1e-10, atol=1e-13)
    with pytest.raises(ValueError, match="pass only it"):
        ours(packed, lengths=lengths)


def test_a_cell_whose_state_is_a_list_runs_with_lengths():
    class ListLSTM(nn.Module):
        def __init__(self, n, h):
            super().__init__()
            self.hidden_size, self.inner = h, nn.LSTMCell(n, h)

        def forward(self, x, state=None):
            return list(self.inner(x, None if state is None else tuple(state)))
    tg.manual_seed(0)
    ours = nn.Recurrent(lambda n: ListLSTM(n, 3), input_size=2).double()
    tg.manual_seed(0)
    plain = nn.Recurrent(lambda n: nn.LSTMCell(n, 3), input_size=2).double()
    plain.load_state_dict({k.replace(".inner", ""): v for k, v in ours.state_dict().items()})
    x = Tensor(np.random.default_rng(0).standard_normal((5, 2, 2)))
    a, _ = ours(x, lengths=[5, 2])
    b, _ = plain(x, lengths=[5, 2])
    np.testing.assert_allclose(a.data, b.data, rtol=1e-12)


class _MemoryCell(nn.Module):
    """A state of three shapes: h (B, H), a memory (B, H, 2) and a step count (B,)."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.lin = nn.Linear(input_size, hidden_size)

    def forward(self, x, state=None):
        B, H = x.shape[0], self.hidden_size
        h, memory, count = (tg.zeros(B, H), tg.zeros(B, H, 2), tg.zeros(B)) if state is None \
            else state
        return (self.lin(x) + h).tanh(), memory + h.reshape(B, H, 1), count + 1


@pytest.mark.parametrize("compiled", [True, False])
def test_lengths_hold_state_elements_of_every_shape(compiled):
    """Past its length a sequence keeps each state element, whatever its shape (the mask
    only fitted (B, H) elements: a (B,) counter came back (B, B), a (B, H, 2) memory mixed
    the sequences up)."""
    lengths = [7, 2, 5, 1]
    x = tg.randn(7, 4, 3)
    m = nn.Recurrent(lambda i: _MemoryCell(i, 4), input_size=3, compiled=compiled)
    out, (h_n, memory, count) = m(x, lengths=lengths)
    assert count.shape == (1, 4) and memory.shape == (1, 4, 4, 2)
    np.testing.assert_array_equal(count.data[0], lengths)
    for b, n in enumerate(lengths):  # each sequence alone, run to its own length
        alone_out, (alone_h, alone_memory, alone_count) = m(x[:n, b:b + 1])
        np.testing.assert_allclose(memory.data[0, b], alone_memory.data[0, 0], rtol=1e-6)
        np.testing.assert_allclose(h_n.data[0, b], alone_h.data[0, 0], rtol=1e-6)
        assert alone_count.data[0, 0] == n
