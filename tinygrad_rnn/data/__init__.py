"""Data for the examples: character corpora and vocabularies, TBPTT batching, sine waves,
and batches of variable-length sequences bucketed by length."""
from tinygrad_rnn.data.batching import TBPTTBatcher, stream_batches, train_val_split
from tinygrad_rnn.data.sine import sine_series, sine_windows, split_train_val
from tinygrad_rnn.data.text import CharVocab, default_corpus, load_text
from tinygrad_rnn.data.variable import BucketBatcher, SequenceBatch, length_buckets, pad_batch

Vocabulary = CharVocab

__all__ = [
    "CharVocab", "TBPTTBatcher", "Vocabulary", "default_corpus", "load_text", "sine_series",
    "sine_windows", "split_train_val", "stream_batches", "train_val_split",
    "BucketBatcher", "SequenceBatch", "length_buckets", "pad_batch",
]
