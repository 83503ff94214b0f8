"""Sine-wave windows: values, shapes for both target kinds, dtype, split, errors."""
import numpy as np
import pytest

from tinygrad_rnn.data import sine_series, sine_windows, split_train_val


def test_next_step_targets():
    x, y = sine_windows(6, 8, dt=0.2, start=1.0, stride=3, dtype=np.float64)
    assert x.shape == y.shape == (6, 8, 1) and x.dtype == np.float64
    for j in range(6):
        t = 1.0 + 0.2 * (3 * j + np.arange(9))
        np.testing.assert_allclose(x[j, :, 0], np.sin(t[:-1]), rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(y[j, :, 0], np.sin(t[1:]), rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])


def test_last_target_is_the_sample_after_the_window():
    x, y = sine_windows(5, 10, target="last")
    assert x.shape == (5, 10, 1) and y.shape == (5, 1)
    assert x.dtype == y.dtype == np.float32
    series = sine_series(5 + 10, dtype=np.float32)
    np.testing.assert_array_equal(y[:, 0], series[10:15])
    np.testing.assert_array_equal(x[1, :, 0], series[1:11])


def test_noise_uses_the_given_generator():
    clean, _ = sine_windows(3, 4, dtype=np.float64)
    a, _ = sine_windows(3, 4, noise_std=0.1, rng=np.random.default_rng(7), dtype=np.float64)
    b, _ = sine_windows(3, 4, noise_std=0.1, rng=np.random.default_rng(7), dtype=np.float64)
    np.testing.assert_array_equal(a, b)
    assert 0 < np.abs(a - clean).max() < 1.0


def test_split_holds_out_the_last_windows():
    x, y = sine_windows(10, 4)
    (xt, yt), (xv, yv) = split_train_val(x, y, val_fraction=0.3)
    assert xt.shape == (7, 4, 1) and xv.shape == (3, 4, 1) and yv.shape == (3, 4, 1)
    np.testing.assert_array_equal(xv, x[7:])
    np.testing.assert_array_equal(yt, y[:7])


@pytest.mark.parametrize("call,exc,match", [
    (lambda: sine_windows(0, 5), ValueError, r"n_samples must be a positive int, got 0"),
    (lambda: sine_windows(5, 2.5), TypeError, r"seq_len must be a positive int, got float 2.5"),
    (lambda: sine_windows(5, 5, target="all"), ValueError, r"target must be 'next' or 'last', got 'all'"),
    (lambda: sine_windows(5, 5, dtype=np.int32), TypeError, r"dtype must be a floating type, got int32"),
    (lambda: sine_windows(5, 5, noise_std=-1.0), ValueError, r"noise_std must be in \[0, inf\], got -1.0"),
    (lambda: split_train_val(np.zeros((4, 2, 1)), np.zeros((3, 1))), ValueError,
     r"inputs has 4 windows but targets has 3"),
    (lambda: split_train_val(np.zeros((4, 2, 1)), np.zeros((4, 1)), 0.1), ValueError,
     r"4 windows with val_fraction=0.1 leave 4 for training and 0 for validation"),
    (lambda: split_train_val(np.zeros((4, 2, 1)), np.zeros((4, 1)), 1.5), ValueError,
     r"val_fraction must be in \(0, 1\), got 1.5"),
    (lambda: sine_series(0), ValueError, r"n must be a positive int, got 0"),
])
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
