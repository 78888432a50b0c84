r"""Figures of the theory checks (THEORY C, E.2, F.1, H): 1-D fits with knots, TV(f')
against the penalty along a beta path, balance before/after rebalancing, and layer spectra
against the deep-linear closed form.

matplotlib is imported inside the functions only.  Every function takes an optional
``ax`` and returns the Axes it drew on.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..networks.two_layer import Network
from ..theory import knots
from .ticks import integer_ticks, plain_log_ticks


def _axes(ax: Any, figsize: tuple[float, float] = (5.0, 3.6)) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize)[1]


def plot_1d_fit(network: Network, x: Any, y: Any, ax: Any = None, *, label: str | None = None,
                margin: float = 0.15, knot_tol: float = 1e-4, color: Any = None,
                linestyle: str = "-") -> Any:
    r"""Draw a 1-D network :math:`f(x)`, the data, and its knots :math:`\kappa`
    (THEORY F.1): knots inside the plotted range are marked on the curve, with |J| < knot_tol
    times the total cost left out."""
    ax = _axes(ax)
    x, y = np.asarray(x, float).ravel(), np.asarray(y, float).ravel()
    span = float(np.ptp(x)) or 1.0
    grid = np.linspace(x.min() - margin * span, x.max() + margin * span, 801)
    line, = ax.plot(grid, network.predict(grid[:, None]), lw=1.5, label=label, color=color,
                    ls=linestyle)
    K = knots(network, tol=knot_tol)
    inside = (K.locations >= grid[0]) & (K.locations <= grid[-1])
    kappa = K.locations[inside]
    ax.plot(kappa, network.predict(kappa[:, None]) if kappa.size else kappa, "o", ms=6,
            mfc="none", mec=line.get_color())
    ax.plot(x, y, "k.", ms=8, zorder=5)
    ax.set_xlabel("x")
    ax.set_ylabel("f(x)")
    return ax


def plot_tv_path(betas: Any, tv: Any, penalty: Any, ratio: Any, R_star: float, ax: Any = None,
                 *, end_term: Any = None, title: str | None = None) -> Any:
    r"""Along a beta path: :math:`TV(f')`, the penalty :math:`\tfrac12\|\theta\|^2`,
    :math:`p^*(\beta)/\beta` and the limit :math:`R^*` (THEORY F.1, T-TV and T-interp)."""
    ax = _axes(ax)
    ax.semilogx(betas, penalty, "o-", color="C0", label=r"penalty $\frac{1}{2}\|\theta\|^2$")
    ax.semilogx(betas, tv, "x--", color="C1", label=r"$TV(f')$")
    if end_term is not None:
        ax.semilogx(betas, end_term, ":", color="C2", label=r"$|f'(-\infty)+f'(+\infty)|$")
    ax.semilogx(betas, ratio, "s-", ms=4, color="C3", label=r"$p^*(\beta)/\beta$")
    ax.axhline(R_star, color="gray", lw=0.8, label=f"$R^* = {R_star:.4g}$")
    ax.set_xlabel(r"$\beta$")
    plain_log_ticks(ax.xaxis)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7)
    return ax


def plot_balance(in_norms: Any, out_norms: Any, ax: Any = None, *, label: str | None = None,
                 marker: str = "o") -> Any:
    r"""Per-neuron :math:`\|in_k\|^2` against :math:`\|out_k\|^2`; balanced neurons lie on the
    diagonal (THEORY H)."""
    ax = _axes(ax, (4.0, 4.0))
    a, b = np.asarray(in_norms, float) ** 2, np.asarray(out_norms, float) ** 2
    ax.loglog(a, b, marker, ls="none", mfc="none", label=label)
    lo = max(min(a[a > 0].min(initial=1.0), b[b > 0].min(initial=1.0)), 1e-12)
    hi = max(a.max(initial=1.0), b.max(initial=1.0))
    ax.plot([lo, hi], [lo, hi], "k-", lw=0.6)
    ax.set_xlabel(r"$\|in_k\|^2$")
    ax.set_ylabel(r"$\|out_k\|^2$")
    plain_log_ticks(ax.xaxis)
    plain_log_ticks(ax.yaxis)
    if label:
        ax.legend(fontsize=7)
    return ax


def plot_history(values: Any, ax: Any = None, *, label: str | None = None,
                 ylabel: str = "balance error") -> Any:
    """A quantity along training iterations, on a log scale."""
    ax = _axes(ax)
    ax.semilogy(np.arange(len(values)), np.maximum(np.asarray(values, float), 1e-300), label=label)
    ax.set_xlabel("iteration")
    ax.set_ylabel(ylabel)
    integer_ticks(ax.xaxis)
    plain_log_ticks(ax.yaxis)
    if label:
        ax.legend(fontsize=7)
    return ax


def plot_layer_spectra(spectra: list, predicted: Any, ax: Any = None, *,
                       title: str | None = None) -> Any:
    r"""Singular values of every layer (markers) against the closed form's
    :math:`\sigma_k^{1/L}` (horizontal lines) (THEORY E.2)."""
    ax = _axes(ax)
    for l, s in enumerate(spectra):
        s = np.asarray(s, float)
        ax.semilogy(np.arange(1, s.size + 1), np.maximum(s, 1e-16), "o", mfc="none",
                    label=f"layer {l + 1}")
    for v in np.atleast_1d(predicted):
        ax.axhline(v, color="gray", lw=0.8, ls="--")
    ax.set_xlabel("index k")
    ax.set_ylabel(r"$\sigma_k(W_l)$")
    integer_ticks(ax.xaxis)
    plain_log_ticks(ax.yaxis)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7)
    return ax


__all__ = ["plot_1d_fit", "plot_tv_path", "plot_balance", "plot_history", "plot_layer_spectra"]
