r"""1-D two-layer networks as linear splines: knots, splitting and TV (THEORY F.1).

A network :math:`f(x) = c_0 + w_0 x + \sum_k a_k (w_k x + b_k)_+` with free hidden biases
is a linear spline with knots :math:`\kappa_k = -b_k/w_k` and slope jumps
:math:`J(\kappa) = \sum_{k:\kappa_k=\kappa} a_k|w_k|` (:func:`knots`).  At an optimum

* the knots lie at data points, up to equal-cost splitting of a knot between two data
  points into two data-point atoms (:func:`split_knots_to_data`, :func:`knots_at_data`);
* the penalty equals the representational cost (Savarese et al. 2019, :func:`tv_check`)

  .. math::
      \tfrac12\|\theta\|^2 = R(f) = TV(f') = \sum_\kappa |J(\kappa)| \ \text{(free skip)},
      \qquad R(f) = \max\big(TV(f'), |f'(-\infty) + f'(+\infty)|\big)\ \text{(no skip)}.

The data side (minimal interpolants, the exact 1-D Lasso) is in
:mod:`convexnn.theory.interpolation`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.validation import check_array
from ..networks.two_layer import Network
from .report import Check, _close


def _check_1d(network: Network) -> None:
    if not isinstance(network, Network) or network.input_dim != 1 or network.n_outputs != 1 \
            or network.gates is not None:
        raise ValueError(f"network must be a scalar-output 1-D ReLU Network; got {network!r}")


def _sorted_data(x: Any, y: Any | None = None, *, distinct: bool = True):
    x = check_array("x", x, ndim=(1, 2)).ravel()
    order = np.argsort(x, kind="stable")
    x = x[order]
    if distinct and np.any(np.diff(x) <= 0):
        raise ValueError("x must have distinct values")
    if y is None:
        return x
    y = check_array("y", y, ndim=1)
    if y.shape != x.shape:
        raise ValueError(f"y must have shape {x.shape}; got {y.shape}")
    return x, y[order]


@dataclass(frozen=True)
class Knots:
    r"""Merged knots of a 1-D network (THEORY F.1, T-knots).

    Attributes
    ----------
    locations : ndarray
        Sorted knot positions :math:`\kappa`.
    jumps : ndarray
        Slope jumps :math:`J(\kappa) = \sum_{k:\kappa_k=\kappa} a_k|w_k|` (|J| > tol only).
    slope_left, slope_right : float
        :math:`f'(-\infty) = w_0 + \sum_{w_k<0} a_k w_k` and
        :math:`f'(+\infty) = w_0 + \sum_{w_k>0} a_k w_k`.
    cost : float
        :math:`\sum_k |a_k||w_k|`, the balanced penalty of the network (free biases).
    """

    locations: np.ndarray
    jumps: np.ndarray
    slope_left: float
    slope_right: float
    cost: float

    @property
    def total_variation(self) -> float:
        r""":math:`TV(f') = \sum_\kappa |J(\kappa)|`."""
        return float(np.sum(np.abs(self.jumps)))

    @property
    def end_term(self) -> float:
        r""":math:`|f'(-\infty) + f'(+\infty)|`."""
        return abs(self.slope_left + self.slope_right)

    @property
    def savarese_cost(self) -> float:
        r""":math:`R(f) = \max(TV(f'), |f'(-\infty)+f'(+\infty)|)` (Savarese et al. 2019)."""
        return max(self.total_variation, self.end_term)


def knots(network: Network, *, tol: float = 1e-6, merge_tol: float = 1e-7) -> Knots:
    r"""Knots :math:`\kappa_k = -b_k/w_k` of a 1-D network, merged, with slope jumps.

    A unit :math:`a(wx+b)_+ = a|w|\,(\mathrm{sign}(w)(x-\kappa))_+` raises the slope by
    :math:`J = a|w|` at :math:`\kappa` (THEORY F.1).  Knots closer than
    ``merge_tol * (1 + |kappa|)`` are merged; merged jumps with
    :math:`|J| \le` ``tol`` :math:`\cdot\sum_k|a_k||w_k|` are dropped.

    Parameters
    ----------
    network : Network
        Scalar-output ReLU network on 1-D input.
    tol, merge_tol : float
        Relative tolerances for dropping jumps and merging knots.

    Returns
    -------
    Knots

    Examples
    --------
    >>> import numpy as np
    >>> from convexnn import Network
    >>> f = Network(W1=np.array([[1.0], [1.0]]), b1=np.array([-2.0, -6.0]),
    ...             W2=np.array([0.75, -0.75]))  # zshape interpolant (THEORY I1)
    >>> K = knots(f)
    >>> K.locations, K.jumps, K.total_variation
    (array([2., 6.]), array([ 0.75, -0.75]), 1.5)
    """
    _check_1d(network)
    w, b, a = network.W1[:, 0], network.b1, network.W2
    live = (w != 0) & (a != 0)
    w, b, a = w[live], b[live], a[live]
    skip = float(network.skip[0])
    J = a * np.abs(w)
    cost = float(np.sum(np.abs(J)))
    kappa = -b / w
    order = np.argsort(kappa)
    kappa, J = kappa[order], J[order]
    locs, jumps = [], []
    for k, j in zip(kappa, J):
        if locs and abs(k - locs[-1][-1]) <= merge_tol * (1.0 + abs(k)):
            locs[-1].append(k)
            jumps[-1].append(j)
        else:
            locs.append([k])
            jumps.append([j])
    locations = np.array([np.mean(g) for g in locs])
    jump = np.array([np.sum(g) for g in jumps])
    keep = np.abs(jump) > tol * cost
    return Knots(locations=locations[keep], jumps=jump[keep],
                 slope_left=skip + float(np.sum(a[w < 0] * w[w < 0])),
                 slope_right=skip + float(np.sum(a[w > 0] * w[w > 0])), cost=cost)


def split_knots_to_data(network: Network, x: Any) -> Network:
    r"""An equal-cost network whose knots all lie at data points, equal to ``network`` on x.

    For free biases a unit :math:`J(s(x-\kappa))_+` with :math:`\kappa = t x_j + (1-t)x_{j+1}`
    equals :math:`tJ(s(x-x_j))_+ + (1-t)J(s(x-x_{j+1}))_+` on the data at the same cost
    :math:`|J|`; knots left of :math:`x_1` or right of :math:`x_N` become an edge atom plus a
    constant, or vanish on the data (THEORY F.1, proof of the Lasso form).  The cost of the
    result, :meth:`Network.path_norm`, is computed with the network's own bias convention, so
    with a *regularized* bias (cost :math:`|J|\sqrt{1+\kappa^2}`, convex in
    :math:`\kappa`) splitting costs strictly more (F.1, T-regbias).

    Parameters
    ----------
    network : Network
        Scalar-output ReLU network on 1-D input.
    x : array-like of shape (N,)
        The data points.

    Returns
    -------
    Network
        Balanced, with units :math:`J(s(x - x_j))_+` only and the constant moved to ``c0``.
    """
    _check_1d(network)
    x = np.unique(_sorted_data(x, distinct=False))
    w, b, a = network.W1[:, 0], network.b1, network.W2
    const = float(network.c0) + float(np.sum(a[w == 0] * np.maximum(b[w == 0], 0.0)))
    atoms: dict[tuple[float, int], float] = {}
    for wk, bk, ak in zip(w, b, a):
        if wk == 0 or ak == 0:
            continue
        s, kappa, J = int(np.sign(wk)), -bk / wk, ak * abs(wk)
        j = int(np.searchsorted(x, kappa))  # x[j-1] < kappa <= x[j]
        if j < x.size and np.isclose(x[j], kappa, rtol=0, atol=1e-12 * (1 + abs(kappa))):
            pieces = [(j, J)]
        elif 0 < j < x.size:
            t = (x[j] - kappa) / (x[j] - x[j - 1])
            pieces = [(j - 1, t * J), (j, (1 - t) * J)]
        elif (j == 0) == (s > 0):  # active on all data: edge atom + constant J |x_edge - kappa|
            e = 0 if j == 0 else x.size - 1
            pieces, const = [(e, J)], const + J * abs(x[e] - kappa)
        else:  # inactive on all data
            pieces = []
        for i, Ji in pieces:
            atoms[(x[i], s)] = atoms.get((x[i], s), 0.0) + Ji
    keys = [k for k, v in atoms.items() if v != 0]
    s = np.array([k[1] for k in keys], dtype=float)
    xk = np.array([k[0] for k in keys], dtype=float)
    split = Network(W1=s[:, None], b1=-s * xk, W2=np.array([atoms[k] for k in keys]), c0=const,
                    skip=network.skip.copy(), regularize_bias=network.regularize_bias)
    return split.rebalance()


def knots_at_data(network: Network, x: Any, *, rtol: float = 1e-6, atol: float = 1e-9,
                  tol: float = 1e-6) -> Check:
    r"""Do the knots lie at data points, up to equal-cost splitting? (THEORY F.1, T-knots)

    Predicted: the network splits (:func:`split_knots_to_data`) into one with knots in
    :math:`\{x_1..x_N\}`, the same values on the data, and cost
    :math:`\sum|J|\,\|(1,\kappa)\|` no larger than the network's path norm.  Holds for
    optimal networks with free biases; fails when splitting costs more, as with a
    regularized bias (T-regbias).  ``details`` lists the raw off-data knots.

    Parameters
    ----------
    network : Network
        Scalar-output ReLU network on 1-D input.
    x : array-like of shape (N,)
        The data points.
    rtol, atol : float
        Allowed relative / absolute cost increase of the split network.
    tol : float
        Relative jump below which a knot is ignored (see :func:`knots`).

    Returns
    -------
    Check
        ``predicted`` = the network's path norm, ``measured`` = the split network's;
        ``details``: off-data knots, largest distance to a data point, split network.
    """
    xs = np.unique(_sorted_data(x, distinct=False))
    K = knots(network, tol=tol)
    dist = np.array([np.min(np.abs(xs - k)) for k in K.locations]) if K.locations.size else np.zeros(0)
    scale = max(1.0, float(np.ptp(xs)))
    off = K.locations[dist > 1e-7 * scale]
    split = split_knots_to_data(network, xs)
    diff = float(np.max(np.abs(split.predict(xs[:, None]) - network.predict(xs[:, None]))))
    cost, split_cost = network.path_norm(), split.path_norm()
    out_scale = max(1.0, float(np.max(np.abs(network.predict(xs[:, None])))))
    holds = split_cost <= cost * (1 + rtol) + atol and diff <= 1e-9 * out_scale
    return Check("knots at data points (equal-cost splitting)", predicted=cost,
                 measured=split_cost, holds=holds, rtol=rtol, atol=atol, section="F.1",
                 details={"off_data_knots": off, "max_distance": float(np.max(dist, initial=0.0)),
                          "prediction_diff": diff, "split_network": split,
                          "knots": K.locations, "jumps": K.jumps})


def tv_check(network: Network, *, skip: bool, rtol: float = 1e-5, atol: float = 1e-9,
             tol: float = 1e-6) -> Check:
    r"""Weight-decay penalty against the representational cost of the function (F.1, T-TV).

    At an optimum with free biases the penalty :math:`\tfrac12\|\theta\|^2` (the objective's
    term divided by :math:`\beta`) equals :math:`R(f) = TV(f')` with a free skip term, and
    :math:`R(f) = \max(TV(f'), |f'(-\infty)+f'(+\infty)|)` without one (Savarese et al.
    2019).  For any network penalty :math:`\ge` path norm :math:`\ge R(f)`.

    Parameters
    ----------
    network : Network
        Scalar-output ReLU network on 1-D input with free biases.
    skip : bool
        Whether the trained model had a free skip (linear) term.
    rtol, atol : float
        Tolerances of penalty == R(f).
    tol : float
        Relative jump below which a knot is ignored (see :func:`knots`).

    Returns
    -------
    Check
        ``predicted`` = R(f), ``measured`` = :meth:`Network.penalty`.
    """
    _check_1d(network)
    if network.regularize_bias:
        raise ValueError("network must have free (unregularized) biases for the TV check")
    K = knots(network, tol=tol)
    predicted = K.total_variation if skip else K.savarese_cost
    measured = network.penalty()
    return Check("penalty == TV(f')" if skip else "penalty == max(TV(f'), |f'(-inf)+f'(+inf)|)",
                 predicted=predicted, measured=measured,
                 holds=_close(measured, predicted, rtol, atol), rtol=rtol, atol=atol,
                 section="F.1", details={"total_variation": K.total_variation,
                                         "end_term": K.end_term, "path_norm": network.path_norm(),
                                         "balance_error": network.balance_error()})


__all__ = ["Knots", "knots", "split_knots_to_data", "knots_at_data", "tv_check"]
