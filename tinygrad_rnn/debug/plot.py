"""plot_grad_flow: per-time-step gradient norms ||dL/dh_t|| as vanishing/exploding curves."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plot_grad_flow needs matplotlib: pip install 'tinygrad-rnn[plot]' "
                          "(or pip install matplotlib)") from None
    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "cairo") \
            and not _has_display():
        matplotlib.use("Agg")  # no screen: draw to files only
    import matplotlib.pyplot as plt
    return plt


def _has_display() -> bool:
    import os
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) \
        or os.name == "nt"


def _checked(norms: Any) -> dict:
    if hasattr(norms, "why_empty") and hasattr(norms, "norms"):  # a GradFlow record
        if norms.why_empty is not None:
            raise ValueError(f"plot_grad_flow: nothing to plot: {norms.why_empty}")
        norms = norms.norms
    if not hasattr(norms, "items"):
        raise TypeError("plot_grad_flow: norms must be a non-empty dict {name: 1-D array of "
                        f"per-time-step gradient norms}}, got {type(norms).__name__}")
    if not norms:
        raise ValueError("plot_grad_flow: norms is empty: the record_grad_flow block recorded "
                         "nothing (pass the GradFlow itself, plot_grad_flow(flow, path), to "
                         "be told which module and why)")
    out = {}
    for name, v in norms.items():
        a = np.asarray(getattr(v, "data", v), dtype=np.float64)
        if a.ndim != 1 or a.size == 0:
            raise ValueError(f"plot_grad_flow: norms[{name!r}] must be a non-empty 1-D array "
                             f"(one norm per time step), got shape {a.shape}")
        if np.any(a < 0):
            raise ValueError(f"plot_grad_flow: norms[{name!r}] holds negative values; "
                             f"expected norms")
        out[str(name)] = a
    return out


def plot_grad_flow(norms: Any, path: Any = None, title: str = "Gradient flow through time",
                   vanishing: float = 1e-6, exploding: float = 1e3) -> Any:
    """Plot ||dL/dh_t|| against the time step t, one curve per layer/direction, log y.

    norms: {name: 1-D array}, e.g. {"layer 0": ..., "layer 0 reverse": ...}, or the GradFlow
    of `nn.record_grad_flow` itself (its `norms`; an empty one raises with why). As there, t
    counts the steps in the order each direction ran them, so the gradient travels from the
    last t to t = 0 for a reverse direction too. Norms below `vanishing` and above
    `exploding` lie in shaded bands; each legend entry gives the curve's ratio first step /
    last step (< 1: the gradient fades going back in time). Zero or non-finite norms are left
    out of the curve (a log axis cannot show them) and counted in the legend. The time axis
    has integer ticks. Saves a PNG to `path` when given; returns the matplotlib Figure.
    """
    curves = _checked(norms)
    plt = _matplotlib()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    lo, hi = np.inf, 0.0
    for name, a in curves.items():
        ok = np.isfinite(a) & (a > 0)
        shown = np.where(ok, a, np.nan)
        label = name
        if ok[0] and ok[-1]:
            label += f"  (first/last = {a[0] / a[-1]:.2g})"
        if not ok.all():
            label += f"  [{int((~ok).sum())} zero or non-finite left out]"
        ax.plot(np.arange(a.size), shown, marker="." if a.size <= 100 else None, label=label)
        if ok.any():
            lo, hi = min(lo, a[ok].min()), max(hi, a[ok].max())
    if hi == 0.0:
        plt.close(fig)
        raise ValueError("plot_grad_flow: every norm is zero or non-finite; nothing to plot "
                         "on a log axis")
    ax.set_yscale("log")
    # the bands reach a decade past the data, and each only when the data come near it
    bottom, top = min(lo, vanishing) / 10, max(hi, exploding) * 10
    if lo < vanishing * 100:
        ax.axhspan(bottom, vanishing, color="#1565c0", alpha=0.12,
                   label=f"vanishing (< {vanishing:g})")
    if hi > exploding / 100:
        ax.axhspan(exploding, top, color="#c62828", alpha=0.12,
                   label=f"exploding (> {exploding:g})")
    ax.set_ylim(max(bottom, lo / 10) if lo >= vanishing * 100 else bottom,
                min(top, hi * 10) if hi <= exploding / 100 else top)
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # whole steps only
    ax.set_xlabel("time step t (in the order the direction runs)")
    ax.set_ylabel("||dL/dh_t||")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    if path is not None:
        fig.savefig(Path(path), format="png", dpi=120)
    return fig
