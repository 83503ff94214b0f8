"""Tensor methods by family, one mixin class per file (Tensor inherits them all).

Each method calls one Function from `ops` (or composes a few); each file also defines the
module functions of the same names, taking the tensor first (`tinygrad_rnn.exp(t)`).
"""
