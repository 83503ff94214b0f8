"""Sampling: temperature, top-k, greedy, prime text, seeds."""
import numpy as np
import pytest

import tinygrad_rnn
from tinygrad_rnn import optim
from tinygrad_rnn.data import CharVocab, TBPTTBatcher
from tinygrad_rnn.models import CharRNN
from tinygrad_rnn.nn import functional as F
from tinygrad_rnn.sample import next_index, sample
from tinygrad_rnn.train import Trainer


def test_greedy_is_the_argmax():
    assert next_index(np.array([0.1, 3.0, -2.0, 2.9]), greedy=True) == 1
    assert next_index(np.array([0.1, 3.0, -2.0, 2.9]), top_k=1) == 1


def test_temperature_one_follows_the_softmax():
    rng = np.random.default_rng(0)
    draws = [next_index(np.log([1.0, 3.0]), rng=rng) for _ in range(2000)]
    assert abs(np.mean(draws) - 0.75) < 0.04


def test_low_temperature_sharpens_and_high_flattens():
    logits = np.log([1.0, 2.0])
    rng = np.random.default_rng(1)
    cold = np.mean([next_index(logits, temperature=0.25, rng=rng) for _ in range(1500)])
    hot = np.mean([next_index(logits, temperature=4.0, rng=rng) for _ in range(1500)])
    # p(1) = 2^(1/T) / (1 + 2^(1/T)): 0.941 at T=0.25, 0.543 at T=4
    assert abs(cold - 0.941) < 0.03 and abs(hot - 0.543) < 0.05


def test_top_k_never_leaves_the_k_best():
    rng = np.random.default_rng(2)
    logits = np.array([0.0, 5.0, 4.9, -1.0, 4.8, 0.5])
    draws = {next_index(logits, top_k=2, temperature=5.0, rng=rng) for _ in range(500)}
    assert draws == {1, 2}


@pytest.mark.parametrize("kw,message", [({"temperature": 0.0}, "temperature must be > 0"),
                                        ({"temperature": -1.0}, "temperature must be > 0"),
                                        ({"top_k": 0}, "top_k must be >= 1")])
def test_bad_sampling_arguments(kw, message):
    with pytest.raises(ValueError, match=message):
        next_index(np.zeros(3), **kw)


TEXT = "abcdefgh" * 60


@pytest.fixture(scope="module")
def trained():
    """An LSTM that has memorised the cycle abcdefgh."""
    tinygrad_rnn.manual_seed(0)
    vocab = CharVocab(TEXT)
    model = CharRNN(len(vocab), hidden_size=16, cell="lstm")
    trainer = Trainer(model, optim.Adam(list(model.parameters()), lr=0.03), F.cross_entropy,
                      TBPTTBatcher(vocab.encode(TEXT), 4, 10), clip_norm=1.0)
    trainer.fit(steps=80)
    return model, vocab


def test_greedy_continues_a_memorised_sequence(trained):
    model, vocab = trained
    assert sample(model, vocab, length=12, prime="cde", greedy=True) == "cdefghabcdefgha"


def test_seed_repeats_and_leaves_the_package_rng_alone(trained):
    model, vocab = trained
    state = tinygrad_rnn.get_rng().bit_generator.state
    a = sample(model, vocab, length=50, temperature=3.0, seed=5)
    b = sample(model, vocab, length=50, temperature=3.0, seed=5)
    c = sample(model, vocab, length=50, temperature=3.0, seed=6)
    assert a == b and a != c and len(a) == 50
    assert tinygrad_rnn.get_rng().bit_generator.state == state


def test_without_seed_the_package_rng_is_used(trained):
    model, vocab = trained
    tinygrad_rnn.manual_seed(11)
    a = sample(model, vocab, length=40, temperature=3.0)
    tinygrad_rnn.manual_seed(11)
    assert sample(model, vocab, length=40, temperature=3.0) == a


def test_prime_is_returned_and_model_mode_restored(trained):
    model, vocab = trained
    model.train()
    out = sample(model, vocab, length=0, prime="hab")
    assert out == "hab" and model.training


def test_prime_with_unknown_characters(trained):
    model, vocab = trained
    with pytest.raises(ValueError, match=r"prime text has characters not in the model's vocabulary: 'xz'"):
        sample(model, vocab, length=5, prime="abzx")


def test_bad_length_and_temperature(trained):
    model, vocab = trained
    with pytest.raises(ValueError, match="length must be >= 0"):
        sample(model, vocab, length=-1)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        sample(model, vocab, length=3, temperature=0)
    assert len(sample(model, vocab, length=3, temperature=0, greedy=True)) == 3


def test_load_model_of_a_run_folder_takes_its_best_checkpoint(tmp_path):
    from tinygrad_rnn.callbacks import Checkpoint
    from tinygrad_rnn.checkpoint import CheckpointError
    from tinygrad_rnn.sample import load_model
    tinygrad_rnn.manual_seed(0)
    vocab = CharVocab(TEXT)
    model = CharRNN(len(vocab), hidden_size=8)
    trainer = Trainer(model, optim.Adam(list(model.parameters()), lr=0.03), F.cross_entropy,
                      TBPTTBatcher(vocab.encode(TEXT), 4, 10),
                      callbacks=[Checkpoint(tmp_path, meta={"model_config": model.config,
                                                            "vocab": vocab.to_list(),
                                                            "dtype": "float32"})])
    trainer.fit(steps=3)
    loaded, loaded_vocab = load_model(tmp_path)  # no validation, so no best.npz: checkpoint.npz
    assert loaded_vocab.to_list() == vocab.to_list() and not loaded.training
    for k, v in model.state_dict().items():
        assert np.array_equal(v, loaded.state_dict()[k])
    with pytest.raises(CheckpointError, match="holds no best.npz or checkpoint.npz"):
        load_model(tmp_path / "empty" if (tmp_path / "empty").mkdir() is None else None)
