"""Module mechanics: registration, dotted names, state_dict round trips and refusals,
train/eval, dtype casts, containers, init functions."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.nn import init


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.rnn = nn.LSTM(4, 3, num_layers=2)
        self.drop = nn.Dropout(0.2)
        self.scale = nn.Parameter(np.ones(3, dtype=np.float32))
        self.register_buffer("steps", Tensor(np.zeros(1)))
        self.register_buffer("cache", Tensor(np.zeros(2)), persistent=False)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Encoder()
        self.head = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 10))

    def forward(self, idx):
        out, _ = self.encoder.rnn(self.encoder.embed(idx))
        return self.head(out * self.encoder.scale)


def test_named_parameters_are_dotted_and_nested():
    names = [n for n, _ in Model().named_parameters()]
    assert names[:3] == ["encoder.scale", "encoder.embed.weight", "encoder.rnn.weight_ih_l0"]
    assert "encoder.rnn.bias_hh_l1" in names
    assert names[-4:] == ["head.0.weight", "head.0.bias", "head.2.weight", "head.2.bias"]
    assert len(names) == len(set(names)) == 1 + 1 + 8 + 4
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in Model().parameters())
    m = Model()
    assert [n for n, _ in m.named_children()] == ["encoder", "head"]
    assert len(list(m.modules())) == 1 + 4 + 1 + 3
    assert [n for n, _ in m.encoder.named_parameters(recurse=False)] == ["scale"]
    assert [n for n, _ in m.named_buffers()] == ["encoder.steps", "encoder.cache"]


def test_shared_parameter_is_listed_once():
    a = nn.Linear(2, 2)
    seq = nn.Sequential(a, nn.Tanh(), a)
    assert len(list(seq.parameters())) == 2
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_forward_and_backward_through_a_model():
    m = Model()
    logits = m(np.array([[1, 2], [3, 4], [5, 6]]))
    assert logits.shape == (3, 2, 10)
    nn.functional.cross_entropy(logits, np.zeros((3, 2), dtype=np.int64)).backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_state_dict_is_plain_copies_with_pytorch_keys():
    m = Model()
    sd = m.state_dict()
    assert "encoder.steps" in sd and "encoder.cache" not in sd  # non-persistent buffer
    assert all(type(v) is np.ndarray for v in sd.values())
    sd["head.0.bias"][...] = 123.0
    assert not (m.head[0].bias.data == 123.0).any()


def test_load_state_dict_round_trip_keeps_parameter_identity():
    a, b = Model(), Model()
    params_b = list(b.parameters())
    arrays_b = [p.data for p in params_b]
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    for (n, pa), pb, arr in zip(a.named_parameters(), params_b, arrays_b):
        np.testing.assert_array_equal(pa.data, pb.data)
        assert pb.data is arr  # written in place
    assert list(b.parameters())[0] is params_b[0]


def _assert_unchanged(m, before):
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_load_state_dict_refuses_bad_dicts_without_loading_anything():
    m = Model()
    before = m.state_dict()
    good = Model().state_dict()

    missing = dict(good)
    del missing["encoder.rnn.weight_hh_l1"]
    with pytest.raises(RuntimeError, match=r"missing keys: \['encoder.rnn.weight_hh_l1'\]"):
        m.load_state_dict(missing)
    _assert_unchanged(m, before)

    extra = dict(good, **{"head.3.weight": np.zeros(2)})
    with pytest.raises(RuntimeError, match=r"unexpected keys: \['head.3.weight'\]"):
        m.load_state_dict(extra)
    _assert_unchanged(m, before)

    wrong = dict(good)
    wrong["head.2.weight"] = np.zeros((10, 6))
    with pytest.raises(RuntimeError, match=r"size mismatch for 'head.2.weight': got shape "
                                           r"\(10, 6\), expected \(10, 5\). Nothing was loaded"):
        m.load_state_dict(wrong)
    _assert_unchanged(m, before)

    with pytest.raises(RuntimeError, match="missing keys.*unexpected keys"):
        m.load_state_dict(nn.GRU(4, 3).state_dict())  # another model entirely
    _assert_unchanged(m, before)

    with pytest.raises(RuntimeError, match=r"value for 'head.0.bias' is not a numeric array"):
        m.load_state_dict(dict(good, **{"head.0.bias": "zeros"}))
    with pytest.raises(TypeError, match="expected a mapping"):
        m.load_state_dict([1, 2])
    _assert_unchanged(m, before)


def test_load_state_dict_non_strict_reports_keys_but_still_checks_shapes():
    m = nn.Linear(2, 3)
    res = m.load_state_dict({"weight": np.ones((3, 2)), "other": np.ones(1)}, strict=False)
    assert res.missing_keys == ["bias"] and res.unexpected_keys == ["other"]
    np.testing.assert_array_equal(m.weight.data, 1)
    assert m.weight.dtype == np.float32
    with pytest.raises(RuntimeError, match="size mismatch"):
        m.load_state_dict({"weight": np.ones((2, 3))}, strict=False)


def test_load_from_another_layer_configuration_is_refused():
    with pytest.raises(RuntimeError, match=r"size mismatch for 'weight_ih_l0': got shape "
                                           r"\(12, 3\), expected \(16, 3\)"):
        nn.LSTM(3, 4).load_state_dict(nn.GRU(3, 4).state_dict())
    with pytest.raises(RuntimeError, match=r"missing keys: \['weight_ih_l0_reverse'"):
        nn.LSTM(3, 4, bidirectional=True).load_state_dict(nn.LSTM(3, 4).state_dict())


def test_train_eval_propagates():
    m = Model()
    assert m.training and m.encoder.drop.training
    assert m.eval() is m
    assert not any(x.training for x in m.modules())
    m.encoder.train()
    assert m.encoder.rnn.training and not m.training
    with pytest.raises(TypeError, match="mode must be a bool"):
        m.train("no")


def test_train_calls_each_childs_own_train_as_torch():
    class FrozenDropout(nn.Module):  # keeps its dropout off whatever the parent says
        def __init__(self):
            super().__init__()
            self.drop = nn.Dropout(0.5)

        def train(self, mode=True):
            super().train(mode)
            self.drop.train(False)
            return self
    m = nn.Sequential(nn.Linear(2, 2), FrozenDropout())
    m.train()
    assert m.training and m[0].training and m[1].training and not m[1].drop.training
    m.eval()
    assert not any(x.training for x in m.modules())


def test_to_dtype_keeps_parameter_identity():
    m = Model()
    params = list(m.parameters())
    m(np.array([[1]])).sum().backward()
    assert m.to(np.float64) is m
    assert [id(p) for p in m.parameters()] == [id(p) for p in params]
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in m.parameters())
    assert m.encoder.steps.dtype == np.float64
    assert m(np.array([[1]])).dtype == np.float64
    m.float()
    assert all(p.dtype == np.float32 for p in m.parameters())
    with pytest.raises(TypeError, match="floating-point"):
        m.to(np.int32)


def test_setattr_rules_and_errors():
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"cannot assign Tensor to parameter 'weight' of Linear: "
                                        r"expected a Parameter or None"):
        m.weight = Tensor(np.zeros((2, 2)))
    m.bias = None
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    m.extra = nn.Parameter(np.zeros(1))
    assert [n for n, _ in m.named_parameters()] == ["weight", "extra"]
    with pytest.raises(TypeError, match="cannot assign int to parameter 'extra'"):
        m.extra = 3
    m.plain = 3
    assert m.plain == 3 and "plain" not in m._parameters
    del m.weight
    assert [n for n, _ in m.named_parameters()] == ["extra"]

    class Forgot(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.zeros(1))

    with pytest.raises(AttributeError, match=r"call super\(\).__init__\(\) first"):
        Forgot()
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'nope'"):
        nn.Linear(1, 1).nope
    with pytest.raises(TypeError, match="floating-point.*got dtype int64"):
        nn.Parameter(np.zeros(2, dtype=np.int64))
    with pytest.raises(NotImplementedError, match="does not define forward"):
        nn.Module()(1)


def test_reassigning_a_parameter_or_child_keeps_its_position():
    # as PyTorch: a re-assigned name stays where it was, so parameters(), state_dict() and an
    # optimizer's per-position state keep their order
    m = nn.Linear(2, 3)
    m.weight = nn.Parameter(np.zeros((3, 2), dtype=np.float32))
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    assert list(m.state_dict()) == ["weight", "bias"]
    assert list(m.parameters())[0] is m.weight
    m.register_parameter("weight", nn.Parameter(np.ones((3, 2), dtype=np.float32)))
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    assert np.all(m.weight.data == 1)
    # None (a declared but absent parameter) and back keeps the slot too
    m.weight = None
    m.weight = nn.Parameter(np.zeros((3, 2), dtype=np.float32))
    assert list(m.state_dict()) == ["weight", "bias"]

    model = Model()
    before = list(model.state_dict())
    model.encoder = Encoder()
    model.encoder.rnn = nn.LSTM(4, 3, num_layers=2)
    model.add_module("encoder", model.encoder)
    assert list(model.state_dict()) == before
    seq = nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 2))
    seq.add_module("0", nn.Linear(2, 2))
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    # a buffer re-registered keeps its place as well
    enc = Encoder()
    enc.register_buffer("steps", Tensor(np.ones(1)))
    assert [n for n, _ in enc.named_buffers()] == ["steps", "cache"]


def test_register_refuses_a_name_of_another_kind_or_with_a_dot_as_pytorch(torch):
    """register_buffer / register_parameter / add_module never replace an attribute of
    another kind (a buffer named as a submodule used to drop the submodule silently);
    assigning an attribute (m.x = ...) still moves a name between kinds."""
    for ours, theirs in ((nn.Linear(2, 2), torch.nn.Linear(2, 2)),):
        for call in (lambda m, T: m.register_buffer("weight", T(1)),
                     lambda m, T: m.register_parameter("in_features", None),
                     lambda m, T: m.register_buffer("a.b", T(1)),
                     lambda m, T: m.add_module("x.y", None)):
            with pytest.raises(KeyError):
                call(theirs, torch.zeros)
            with pytest.raises(KeyError):
                call(ours, tg.zeros)
    m = nn.Linear(2, 2)
    m.register_buffer("extra", Tensor(np.zeros(1)))
    m.register_buffer("extra", Tensor(np.ones(1)))  # (the same kind: replaced)
    m.extra = nn.Parameter(np.zeros(1))  # an attribute moves between kinds
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias", "extra"]
    assert [n for n, _ in m.named_buffers()] == []


def test_parameter_is_a_tensor():
    p = nn.Parameter([1.0, 2.0])
    assert isinstance(p, Tensor) and p.requires_grad and p.dtype == np.float32
    assert not hasattr(p, "__dict__")  # no per-instance dict: Tensor's __slots__ kept
    (p * p).sum().backward()
    np.testing.assert_array_equal(p.grad.data, [2, 4])
    t = Tensor(np.zeros(3))
    assert nn.Parameter(t).data is t.data
    assert repr(p).startswith("Parameter containing:")


def test_containers():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear) and isinstance(seq[1:], nn.Sequential)
    x = tg.randn(4, 2)
    np.testing.assert_allclose(seq(x).data, seq[2](seq[1](seq[0](x))).data)
    with pytest.raises(IndexError, match="Sequential index 3 is out of range for 3 modules"):
        seq[3]
    with pytest.raises(TypeError, match="element '1' must be a Module, got int"):
        nn.Sequential(nn.ReLU(), 5)
    ml = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)])
    ml.append(nn.Linear(1, 2))
    assert len(ml) == 4 and [n for n, _ in ml.named_parameters()][-1] == "3.bias"
    assert len(list(iter(ml))) == 4
    expected = ("Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n"
                "  (1): ReLU()\n  (2): Linear(in_features=3, out_features=1, bias=True)\n)")
    assert repr(seq) == expected


def test_apply_visits_every_module():
    seen = []
    Model().apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Model" and seen.count("Linear") == 2


def test_init_functions():
    t = Tensor(np.empty((30, 40), dtype=np.float32))
    arr = t.data
    assert init.uniform_(t, -2, 3) is t and t.data is arr
    assert t.data.min() >= -2 and t.data.max() < 3 and t.dtype == np.float32
    init.normal_(t, 1.0, 0.5)
    assert abs(t.data.mean() - 1) < 0.05 and abs(t.data.std() - 0.5) < 0.05
    init.zeros_(t)
    assert not t.data.any()
    init.ones_(t)
    assert (t.data == 1).all()
    init.constant_(t, 2.5)
    assert (t.data == 2.5).all()
    init.xavier_uniform_(t, gain=2.0)
    a = 2.0 * np.sqrt(6 / 70)
    assert np.abs(t.data).max() <= a and np.abs(t.data).max() > 0.9 * a
    init.eye_(t)
    np.testing.assert_array_equal(t.data, np.eye(30, 40))
    for shape in ((5, 8), (8, 5)):
        q = Tensor(np.empty(shape))
        init.orthogonal_(q, gain=1.5)
        small = min(shape)
        gram = q.data @ q.data.T if shape[0] < shape[1] else q.data.T @ q.data
        np.testing.assert_allclose(gram, 2.25 * np.eye(small), atol=1e-12)
    tg.manual_seed(4)
    a1 = init.normal_(Tensor(np.empty(5))).data.copy()
    tg.manual_seed(4)
    np.testing.assert_array_equal(a1, init.normal_(Tensor(np.empty(5))).data)
    with pytest.raises(ValueError, match="eye_: needs a 2-D tensor"):
        init.eye_(Tensor(np.empty(3)))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.xavier_uniform_(Tensor(np.empty(3)))
    b = 1 / np.sqrt(40)
    init.kaiming_uniform_(t, a=np.sqrt(5))
    assert np.abs(t.data).max() <= b * 1.0001
