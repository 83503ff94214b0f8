"""Data for the examples: character corpora and vocabularies, TBPTT batching, sine waves."""
from tinygrad_rnn.data.batching import TBPTTBatcher, stream_batches, train_val_split
from tinygrad_rnn.data.sine import sine_series, sine_windows, split_train_val
from tinygrad_rnn.data.text import CharVocab, default_corpus, load_text

Vocabulary = CharVocab

__all__ = [
    "CharVocab", "TBPTTBatcher", "Vocabulary", "default_corpus", "load_text", "sine_series",
    "sine_windows", "split_train_val", "stream_batches", "train_val_split",
]
