"""examples/vanishing_gradients.py, reduced: the tanh RNN's gradient fades over time, the
LSTM's much less."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "vanishing_gradients.py"


def _load():
    spec = importlib.util.spec_from_file_location("example_vanishing_gradients", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reduced_run_shows_vanishing_in_the_rnn_only(capsys, tmp_path):
    plot = tmp_path / "flow.png"
    args = ["--steps", "10", "--length", "30", "--hidden", "16"]
    try:
        import matplotlib
        matplotlib.use("Agg")
        args += ["--plot", str(plot)]
    except ImportError:
        plot = None
    result = _load().main(args)
    out = capsys.readouterr().out
    assert "||dL/dh_0|| / ||dL/dh_29||" in out and out.count("trained 10 steps") == 2
    rnn, lstm = result["rnn"], result["lstm"]
    assert rnn["norms"].shape == lstm["norms"].shape == (30,)
    assert np.all(rnn["norms"] > 0) and np.all(np.isfinite(lstm["norms"]))
    assert rnn["ratio"] < 1e-4  # vanishing over 30 steps
    assert lstm["ratio"] > 1e3 * rnn["ratio"]
    if plot is not None:
        assert plot.read_bytes()[:4] == b"\x89PNG"


def test_the_cell_loop_is_the_trained_layer():
    """The cell loop that the norms come from carries the layer's weights (the same logits),
    and its last-step norm is the read-out's gradient."""
    import tinygrad_rnn as tg
    from tinygrad_rnn.nn import functional as F
    ex = _load()
    rng = np.random.default_rng(0)
    for kind in ("rnn", "lstm"):
        model = ex.FirstSymbol(kind, 3, 5)
        x, y = ex.batch(rng, 4, 7, 3)
        with tg.no_grad():
            layer_logits = model(tg.Tensor(x)).data
        cell = model.cell()
        state = None
        for t in range(7):
            state = cell(tg.Tensor(x[t]), state)
        h = state[0] if isinstance(state, tuple) else state
        logits = model.out(h)
        np.testing.assert_allclose(logits.data, layer_logits, rtol=1e-5, atol=1e-6)
        n = ex.grad_norms(model, x, y)
        assert n.shape == (7,) and np.all(n > 0)
        # the last step's gradient is the read-out's alone
        g_last = tg.grad(F.cross_entropy(logits, y), [h])[0]
        np.testing.assert_allclose(n[-1], np.linalg.norm(g_last.data), rtol=1e-5)


def test_norms_equal_what_tensor_hooks_see():
    import tinygrad_rnn as tg
    from tinygrad_rnn.nn import functional as F
    ex = _load()
    x, y = ex.batch(np.random.default_rng(1), 4, 9, 3)
    model = ex.FirstSymbol("lstm", 3, 5)
    cell, state, seen = model.cell(), None, {}
    for t in range(9):
        state = cell(tg.Tensor(x[t]), state)
        state[0].register_hook(lambda g, t=t: seen.__setitem__(t, np.linalg.norm(g.data)))
    F.cross_entropy(model.out(state[0]), y).backward()
    np.testing.assert_allclose([seen[t] for t in range(9)], ex.grad_norms(model, x, y),
                               rtol=1e-5)
