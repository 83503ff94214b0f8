"""PyTorch parity of the nn side found by a comparison review (skipped without torch where
torch is the reference): how modules print, PyTorch's traversal and state_dict options,
nn.init's gains and kaiming_normal_, parameters <-> one vector."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.nn import init

FIXTURE = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# ----- repr ------------------------------------------------------------------------------
# (name, constructor arguments) of small modules that exist on both sides
LEAVES = [("Linear", (1, 1)), ("Linear", (2, 3)), ("ReLU", ()), ("Tanh", ()),
          ("LayerNorm", (4,)), ("Embedding", (5, 2)), ("GRU", (2, 3))]


def _lines(extra: int) -> str:
    return "\n".join(f"line{i}=1" for i in range(extra))


def _build(lib, spec):
    """spec: ("leaf", i) | ("list", [specs]) | ("seq", [specs]) | ("custom", extra, [specs]),
    a custom module whose extra_repr has `extra` lines."""
    kind = spec[0]
    if kind == "leaf":
        name, args = LEAVES[spec[1]]
        return getattr(lib, name)(*args)
    if kind == "list":
        return lib.ModuleList([_build(lib, s) for s in spec[1]])
    if kind == "seq":
        return lib.Sequential(*[_build(lib, s) for s in spec[1]])
    extra, children = spec[1], spec[2]

    class Custom(lib.Module):
        def __init__(self):
            super().__init__()
            for i, s in enumerate(children):
                self.add_module(f"c{i}", _build(lib, s))

        def extra_repr(self):
            return _lines(extra)
    return Custom()


module_specs = st.recursive(
    st.tuples(st.just("leaf"), st.integers(0, len(LEAVES) - 1)),
    lambda inner: st.one_of(
        st.tuples(st.just("list"), st.lists(inner, max_size=5)),
        st.tuples(st.just("seq"), st.lists(inner, max_size=3)),
        st.tuples(st.just("custom"), st.integers(0, 3), st.lists(inner, max_size=2))),
    max_leaves=8)


@settings(max_examples=60, **FIXTURE)
@given(spec=module_specs)
def test_repr_of_nested_modules_is_pytorchs(torch, spec):
    """Each line of a multi-line extra_repr gets its own indented line (it was pasted inline,
    the lines after the first unindented); a ModuleList prints a run of equal modules as
    '(0-2): 3 x Linear(...)' as torch's does."""
    assert repr(_build(nn, spec)) == repr(_build(torch.nn, spec))


@settings(max_examples=40, **FIXTURE)
@given(kind=st.sampled_from(["RNN", "LSTM", "GRU"]), num_layers=st.integers(1, 3),
       bias=st.booleans(), batch_first=st.booleans(), dropout=st.sampled_from([0.0, 0.25]),
       bidirectional=st.booleans())
def test_recurrent_layer_repr_is_pytorchs(torch, kind, num_layers, bias, batch_first, dropout,
                                          bidirectional):
    """Options in PyTorch's order: num_layers, bias, batch_first, dropout, bidirectional
    (bias=False came last, bidirectional before dropout)."""
    kwargs = dict(num_layers=num_layers, bias=bias, batch_first=batch_first, dropout=dropout,
                  bidirectional=bidirectional)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (dropout with one layer: both warn)
        assert repr(getattr(nn, kind)(3, 4, **kwargs)) == \
            repr(getattr(torch.nn, kind)(3, 4, **kwargs))


def test_a_load_without_skipped_keys_prints_as_pytorchs(torch):
    lin = nn.Linear(2, 2)
    result = lin.load_state_dict(lin.state_dict())
    assert repr(result) == repr(torch.nn.Linear(2, 2).load_state_dict(
        torch.nn.Linear(2, 2).state_dict())) == "<All keys matched successfully>"
    assert result == ([], [])
    partial = lin.load_state_dict({"weight": np.zeros((2, 2))}, strict=False)
    assert repr(partial) == "IncompatibleKeys(missing_keys=['bias'], unexpected_keys=[])"


# ----- traversal and state_dict options ---------------------------------------------------
def _shared_tree(lib):
    """A module reached by two paths, a parameter shared by two modules, buffers."""
    if lib is nn:
        def zeros(n):
            return Tensor(np.zeros(n, np.float32))
    else:
        import torch
        zeros = torch.zeros

    class Net(lib.Module):
        def __init__(self):
            super().__init__()
            self.a = lib.Linear(2, 3)
            self.b = self.a
            self.seq = lib.Sequential(lib.Linear(3, 3), lib.ReLU(), self.a)
            self.other = lib.Linear(3, 3)
            self.other.weight = self.seq[0].weight
            self.register_buffer("kept", zeros(2))
            self.register_buffer("scratch", zeros(1), persistent=False)
    return Net()


@pytest.mark.parametrize("remove_duplicate", [True, False])
@pytest.mark.parametrize("prefix", ["", "net"])
def test_named_members_take_pytorchs_remove_duplicate(torch, remove_duplicate, prefix):
    ours, theirs = _shared_tree(nn), _shared_tree(torch.nn)
    kw = dict(prefix=prefix, remove_duplicate=remove_duplicate)
    for method in ("named_modules", "named_parameters", "named_buffers"):
        assert [n for n, _ in getattr(ours, method)(**kw)] == \
            [n for n, _ in getattr(theirs, method)(**kw)], method
    shared = [p for n, p in ours.named_parameters(remove_duplicate=False) if n == "b.weight"]
    assert shared[0] is ours.a.weight


def test_a_module_inside_itself_is_not_entered_again_without_duplicate_removal():
    outer = nn.Sequential(nn.Linear(1, 1))
    outer.add_module("loop", nn.Sequential())
    outer.loop.add_module("back", outer)
    names = [n for n, _ in outer.named_modules(remove_duplicate=False)]
    assert names == ["", "0", "loop"]


def test_state_dict_takes_pytorchs_prefix_keep_vars_and_destination(torch):
    ours, theirs = _shared_tree(nn), _shared_tree(torch.nn)
    assert list(ours.state_dict(prefix="m.")) == list(theirs.state_dict(prefix="m."))
    kept = ours.state_dict(keep_vars=True)
    assert kept["a.weight"] is ours.a.weight and kept["kept"] is ours.kept
    copied = ours.state_dict()
    assert isinstance(copied["a.weight"], np.ndarray)
    assert not np.shares_memory(copied["a.weight"], ours.a.weight.data)
    into: dict = {"x": 1}
    assert ours.state_dict(destination=into, prefix="p.") is into
    assert list(into) == ["x"] + [f"p.{k}" for k in copied]


# ----- nn.init ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["linear", "conv1d", "conv_transpose1d", "conv_transpose2d",
                                  "conv_transpose3d", "sigmoid", "tanh", "relu", "selu"])
def test_calculate_gain_table_is_pytorchs(torch, name):
    assert init.calculate_gain(name) == torch.nn.init.calculate_gain(name)


@pytest.mark.parametrize("param", [None, 0, 0.2, 3, np.float64(0.5)])
def test_leaky_relu_gain_is_pytorchs(torch, param):
    assert init.calculate_gain("leaky_relu", param) == pytest.approx(
        torch.nn.init.calculate_gain("leaky_relu", param), rel=1e-15)


@pytest.mark.parametrize("param", [True, "0.1", [0.1]])
def test_leaky_relu_gain_refuses_a_slope_that_is_no_number(torch, param):
    """True was taken as the slope 1 (PyTorch raises ValueError for it)."""
    with pytest.raises(ValueError):
        torch.nn.init.calculate_gain("leaky_relu", param)
    with pytest.raises(TypeError, match="negative slope"):
        init.calculate_gain("leaky_relu", param)


@settings(max_examples=25, deadline=None)
@given(shape=st.sampled_from([(200, 150), (150, 200), (40, 30, 20), (12, 10, 15, 15)]),
       mode=st.sampled_from(["fan_in", "fan_out", "FAN_IN", "Fan_Out"]),
       nonlinearity=st.sampled_from(["leaky_relu", "relu", "tanh", "linear"]),
       a=st.sampled_from([0.0, 0.2, np.sqrt(5)]))
def test_kaiming_inits_have_pytorchs_scale(shape, mode, nonlinearity, a):
    """kaiming_normal_ (missing) draws N(0, gain^2 / fan) and kaiming_uniform_ U(-b, b) with
    b = sqrt(3) gain / sqrt(fan), the mode in any case as PyTorch (it lower-cases it)."""
    receptive = int(np.prod(shape[2:]))
    fan = (shape[1] if mode.lower() == "fan_in" else shape[0]) * receptive
    std = init.calculate_gain(nonlinearity, a) / np.sqrt(fan)
    tg.manual_seed(0)
    t = Tensor(np.zeros(shape, np.float64))
    assert init.kaiming_normal_(t, a=a, mode=mode, nonlinearity=nonlinearity) is t
    # n >= 24000 draws: the sample std's relative error is ~0.5%, the mean's ~0.7% of std
    assert abs(t.data.std() / std - 1) < 0.03 and abs(t.data.mean()) < 0.05 * std
    init.kaiming_uniform_(t, a=a, mode=mode, nonlinearity=nonlinearity)
    bound = np.sqrt(3.0) * std
    assert np.abs(t.data).max() <= bound and np.abs(t.data).max() > 0.97 * bound


def test_kaiming_refuses_an_unknown_mode():
    for fn in (init.kaiming_normal_, init.kaiming_uniform_):
        with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out', got 'fan'"):
            fn(Tensor(np.zeros((2, 2))), mode="fan")


# ----- parameters as one vector -----------------------------------------------------------
@settings(max_examples=15, **FIXTURE)
@given(kind=st.sampled_from(["LSTM", "GRU", "RNN"]), num_layers=st.integers(1, 2),
       bias=st.booleans(), seed=st.integers(0, 99))
def test_parameters_to_vector_and_back_as_pytorch(torch, kind, num_layers, bias, seed):
    theirs = getattr(torch.nn, kind)(3, 2, num_layers=num_layers, bias=bias).double()
    ours = getattr(nn, kind)(3, 2, num_layers=num_layers, bias=bias).double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    vec = nn.utils.parameters_to_vector(ours.parameters())
    ref = torch.nn.utils.parameters_to_vector(theirs.parameters())
    np.testing.assert_array_equal(vec.data, ref.detach().numpy())
    w = np.random.default_rng(seed).standard_normal(vec.shape)
    (vec * Tensor(w)).sum().backward()  # the vector is differentiable in every parameter
    params = list(ours.parameters())
    for p, g in zip(params, np.split(w, np.cumsum([p.size for p in params])[:-1])):
        np.testing.assert_array_equal(p.grad.data, g.reshape(p.shape))
    new = np.random.default_rng(seed + 1).standard_normal(vec.shape)
    nn.utils.vector_to_parameters(Tensor(new), ours.parameters())
    torch.nn.utils.vector_to_parameters(torch.from_numpy(new), theirs.parameters())
    for name, p in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[name], p.numpy(), err_msg=name)


def test_vector_to_parameters_refuses_a_wrong_vector():
    lin = nn.Linear(2, 3)  # 9 numbers
    with pytest.raises(ValueError, match="vec has 8 elements but the parameters hold 9"):
        nn.utils.vector_to_parameters(Tensor(np.zeros(8, np.float32)), lin.parameters())
    with pytest.raises(ValueError, match="vec must be 1-D, got shape"):
        nn.utils.vector_to_parameters(Tensor(np.zeros((3, 3), np.float32)), lin.parameters())
    with pytest.raises(TypeError, match="vec must be a Tensor, got ndarray"):
        nn.utils.vector_to_parameters(np.zeros(9), lin.parameters())
    with pytest.raises(TypeError, match="parameters_to_vector: expected Tensors"):
        nn.utils.parameters_to_vector([lin.weight, 3])
    with pytest.raises(ValueError, match="got no parameters"):
        nn.utils.parameters_to_vector([])


@pytest.mark.parametrize("layer", [nn.RNN, nn.LSTM, nn.GRU])
def test_our_layer_options_are_keyword_only_so_torch_positions_cannot_land_on_them(layer):
    """PyTorch's eighth positional argument of LSTM is proj_size: LSTM(3, 4, 1, True, False,
    0.0, False, 2) must not silently mean fused=2. fused= and compiled= are ours, keyword
    only, and every PyTorch position before them keeps its meaning."""
    extra = ("tanh",) if layer is nn.RNN else ()
    args = (3, 4, 2) + extra + (False, True, 0.0, True)
    m = layer(*args)
    assert (m.num_layers, m.bias, m.batch_first, m.dropout, m.bidirectional) == \
        (2, False, True, 0.0, True)
    with pytest.raises(TypeError):
        layer(*args, 2)
    with pytest.raises(TypeError):
        nn.Recurrent(nn.LSTMCell(3, 4), 1, False, False, 0.0, 3, False)
    assert layer(3, 4, fused=False, compiled=False).fused is False
