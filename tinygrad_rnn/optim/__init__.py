"""Optimizers that update parameters in place from their gradients, and learning-rate schedules."""
from tinygrad_rnn.optim import lr_scheduler
from tinygrad_rnn.optim.adagrad import Adagrad
from tinygrad_rnn.optim.adam import Adam, AdamW
from tinygrad_rnn.optim.optimizer import Optimizer
from tinygrad_rnn.optim.rmsprop import RMSprop
from tinygrad_rnn.optim.sgd import SGD

__all__ = [
    "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "SGD", "lr_scheduler",
]
