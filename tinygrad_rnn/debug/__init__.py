"""Seeing inside a model: pictures of the graph (to_dot, render) and of gradient flow
through time (plot_grad_flow)."""
from tinygrad_rnn.debug.dot import render, to_dot
from tinygrad_rnn.debug.plot import plot_grad_flow

__all__ = ["plot_grad_flow", "render", "to_dot"]
