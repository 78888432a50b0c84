r"""The seed papers' predictions as checks on a trained two-layer :class:`Network`.

Every check returns a :class:`Check` (what was predicted, what was measured, whether it
holds and with which tolerances); none of them asserts.  Sections refer to THEORY.md.

1-D networks :math:`f(x) = c_0 + w_0 x + \sum_k a_k (w_k x + b_k)_+` with free hidden biases
(F.1): knots :math:`\kappa_k = -b_k/w_k` with slope jumps :math:`J(\kappa)=\sum a_k|w_k|`,
knots at data points, :math:`TV(f')` against the penalty (Savarese et al. 2019),
the interpolation limit :math:`p^*(\beta)/\beta \to R^*`, non-unique optima, and the exact
1-D Lasso (Ergen & Pilanci 2021) as an independent formulation.  Any two-layer network:
active neurons against the representer bounds (A.3, F.2), balancedness and
path norm = weight decay (H), and rebalancing of deep networks.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .._validation import check_array, check_positive
from ..exceptions import SolverError
from ..losses import get_loss
from ..network import DeepNetwork, Network


@dataclass(frozen=True)
class Check:
    """A prediction of the theory checked against a measurement.

    Attributes
    ----------
    name : str
        What is checked.
    predicted, measured : Any
        The predicted and measured quantities (numbers or arrays).
    holds : bool
        Whether the measurement agrees with the prediction within the tolerances.
    rtol, atol : float
        The tolerances used.
    section : str
        The THEORY.md section of the prediction.
    details : dict
        Supporting numbers (and objects, e.g. a rebalanced network).
    """

    name: str
    predicted: Any
    measured: Any
    holds: bool
    rtol: float = 0.0
    atol: float = 0.0
    section: str = ""
    details: dict = field(default_factory=dict)

    def summary_line(self) -> str:
        """One line: name, verdict, predicted vs measured."""
        verdict = "holds" if self.holds else "FAILS"
        return (f"{self.name} [{self.section}]: {verdict}; predicted {_fmt(self.predicted)}, "
                f"measured {_fmt(self.measured)} (rtol={self.rtol:g}, atol={self.atol:g})")

    __str__ = summary_line


def _fmt(v: Any) -> str:
    if isinstance(v, float | np.floating):
        return f"{v:.8g}"
    if isinstance(v, np.ndarray) and v.dtype.kind == "f":
        return np.array2string(v, precision=6, max_line_width=120)
    return str(v)


def _close(measured: float, predicted: float, rtol: float, atol: float) -> bool:
    return bool(abs(measured - predicted) <= atol + rtol * abs(predicted))


# ---- 1-D networks (F.1) -------------------------------------------------------------------
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


def interpolation_cost(x: Any, y: Any, *, skip: bool = False) -> float:
    r"""Minimal representational cost :math:`R^*` of an interpolant of (x, y) (F.1, T-interp).

    With slopes :math:`\delta_j = (y_{j+1}-y_j)/(x_{j+1}-x_j)` and
    :math:`T = \sum_j|\delta_{j+1}-\delta_j|`: with a free skip :math:`R^* = T`
    (connect-the-dots; the mean value theorem gives the lower bound).  Without skip
    :math:`R^* = \max(T, (T + |\delta_1 + \delta_{N-1}|)/2)`: extending with end slopes
    :math:`\delta_1 + p, \delta_{N-1} + q` costs :math:`\max(T + |p| + |q|,
    |\delta_1+\delta_{N-1}+p+q|)`, minimized by splitting the excess evenly [D, checked
    against the Lasso limit in the tests].

    Examples
    --------
    >>> interpolation_cost([0, 2, 6, 7], [0, 0, 3, 7])  # bounce (THEORY I3)
    4.0
    """
    x, y = _sorted_data(x, y)
    if x.size < 2:
        return 0.0
    delta = np.diff(y) / np.diff(x)
    T = float(np.sum(np.abs(np.diff(delta))))
    return T if skip else max(T, 0.5 * (T + abs(delta[0] + delta[-1])))


def interpolation_limit(x: Any, y: Any, betas: Any, objectives: Any, *, skip: bool = False,
                        rtol: float = 1e-3) -> Check:
    r""":math:`p^*(\beta)/\beta \to R^*` as :math:`\beta\to 0` (THEORY F.1, T-interp).

    :math:`p^*` is concave in :math:`\beta` with :math:`p^*(0)=0` and
    :math:`p^*(\beta)\le\beta R^*`, so the ratios must be non-increasing in :math:`\beta`,
    at most :math:`R^*`, and (at the smallest :math:`\beta`) within ``rtol`` of :math:`R^*`.

    Parameters
    ----------
    x, y : array-like of shape (N,)
        1-D data (distinct x).
    betas, objectives : array-like of shape (B,)
        Regularization strengths and the optimal values :math:`p^*(\beta)` (from
        :func:`convexnn.fit` with ``bias="free", patterns="exact"``, :func:`lasso_1d`, ...).
    skip : bool
        Whether the model had a free skip term.
    """
    betas = check_array("betas", betas, ndim=1)
    objectives = check_array("objectives", objectives, ndim=1)
    if betas.shape != objectives.shape or np.any(betas <= 0):
        raise ValueError("betas must be positive and match objectives in shape")
    R = interpolation_cost(x, y, skip=skip)
    order = np.argsort(betas)[::-1]
    ratio = objectives[order] / betas[order]
    slack = rtol * max(R, 1e-12)
    holds = (bool(np.all(np.diff(ratio) >= -slack)) and bool(np.all(ratio <= R + slack))
             and _close(float(ratio[-1]), R, rtol, 0.0))
    return Check("p*(beta)/beta -> R*", predicted=R, measured=float(ratio[-1]), holds=holds,
                 rtol=rtol, section="F.1", details={"betas": betas[order], "ratios": ratio})


def unique_interpolant(x: Any, y: Any, *, tol: float = 1e-9) -> Check:
    r"""Is the minimal-TV interpolant on :math:`[x_1, x_N]` unique? (THEORY F.1 caveat)

    The discrete slope changes :math:`\Delta_j = \delta_j - \delta_{j-1}` sit at the interior
    data points.  If two *adjacent* data points carry nonzero changes of the same sign,
    :math:`f'` may be any monotone function between :math:`\delta_{j-1}` and
    :math:`\delta_{j+1}` with mean :math:`\delta_j` on the gap between them, so equal-cost
    optima with off-data knots exist; otherwise the interpolant is unique.  Predicted:
    unique; ``details["ambiguous_gaps"]`` lists the gaps where it is not.

    Parameters
    ----------
    x, y : array-like of shape (N,)
        1-D data with distinct x.
    tol : float
        Slope changes below ``tol`` times the largest slope count as zero.
    """
    x, y = _sorted_data(x, y)
    delta = np.diff(y) / np.diff(x)
    change = np.diff(delta)
    scale = max(float(np.max(np.abs(delta), initial=0.0)), 1e-300)
    sign = np.where(np.abs(change) > tol * scale, np.sign(change), 0.0)
    bad = np.flatnonzero(sign[:-1] * sign[1:] > 0)  # change j at x[j+1], change j+1 at x[j+2]
    gaps = [(float(x[j + 1]), float(x[j + 2])) for j in bad]
    return Check("unique minimal interpolant", predicted=True, measured=not gaps,
                 holds=not gaps, atol=tol, section="F.1",
                 details={"ambiguous_gaps": gaps, "slope_changes": change})


@dataclass(frozen=True)
class Lasso1D:
    r"""Solution of the 1-D Lasso :func:`lasso_1d`.

    Attributes
    ----------
    objective : float
        :math:`\tfrac12\|Az + \xi 1 + w_0 x - y\|^2 + \beta\|z\|_1`, recomputed in numpy.
    z : ndarray of shape (K,)
        Atom weights; atom k is :math:`(s_k(x - \kappa_k))_+`.
    kappa, s : ndarray of shape (K,)
        Atom knots (data points) and orientations.
    xi, w0 : float
        Free constant and skip slope (0 without skip).
    status : str
        cvxpy's status.
    """

    objective: float
    z: np.ndarray
    kappa: np.ndarray
    s: np.ndarray
    xi: float
    w0: float
    status: str

    @property
    def network(self) -> Network:
        """The balanced network :math:`\\xi + w_0x + \\sum_k z_k (s_k(x-\\kappa_k))_+`."""
        net = Network(W1=self.s[:, None], b1=-self.s * self.kappa, W2=self.z, c0=self.xi,
                      skip=np.array([self.w0]))
        return net.rebalance()


def lasso_1d(x: Any, y: Any, beta: float, *, skip: bool = False, solver: str = "CLARABEL") -> Lasso1D:
    r"""The exact convex form of 1-D two-layer training with free biases (THEORY F.1).

    .. math::
        \min_{z\in\mathbb R^{2N},\,\xi,\,w_0}\ \tfrac12\|Az + \xi 1 + w_0 x - y\|^2
            + \beta\|z\|_1,\qquad A[n,(s,j)] = (s(x_n - x_j))_+,\ s\in\{\pm 1\},

    with :math:`w_0 = 0` unless ``skip`` (Ergen & Pilanci 2021; pilancilab/1d-convex-nn).
    The atoms :math:`(x - x_N)_+` and :math:`(x_1 - x)_+` vanish on the data and are left
    out.  An independent formulation of ``fit(x[:, None], y, bias="free", patterns="exact")``.

    Parameters
    ----------
    x, y : array-like of shape (N,)
        1-D data.
    beta : float
        Regularization strength, > 0 (THEORY section 0 scaling).
    skip : bool, default=False
        Add the free slope :math:`w_0`.
    solver : str, default="CLARABEL"
        A cvxpy solver name.

    Returns
    -------
    Lasso1D
    """
    import cvxpy as cp

    xs, ys = _sorted_data(x, y, distinct=False)
    beta = check_positive("beta", beta)
    kappa_u = np.unique(xs)
    kappa = np.concatenate([kappa_u[:-1], kappa_u[1:]])
    s = np.concatenate([np.ones(kappa_u.size - 1), -np.ones(kappa_u.size - 1)])
    A = np.maximum(s[None, :] * (xs[:, None] - kappa[None, :]), 0.0)
    z, xi = cp.Variable(kappa.size), cp.Variable()
    w0 = cp.Variable() if skip else cp.Constant(0.0)
    problem = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(A @ z + xi + w0 * xs - ys)
                                     + beta * cp.norm1(z)))
    problem.solve(solver=solver)
    if z.value is None:
        raise SolverError(f"{solver} returned status {problem.status!r} for the 1-D Lasso; "
                          "try solver='SCS'")
    zv, xiv, w0v = np.asarray(z.value, float), float(xi.value), float(w0.value)
    r = A @ zv + xiv + w0v * xs - ys
    obj = 0.5 * float(r @ r) + beta * float(np.sum(np.abs(zv)))
    return Lasso1D(objective=obj, z=zv, kappa=kappa, s=s, xi=xiv, w0=w0v, status=problem.status)


# ---- any two-layer network (A.3, F.2) -----------------------------------------------------
def active_neurons(network: Network, X: Any, *, skip: bool = False, free_constant: bool = False,
                   tol: float = 1e-6) -> Check:
    r"""Active neurons against the representer bound (THEORY A.3, F.2).

    After pruning, the neuron fits :math:`(Xu_j + b_j)_+` are linearly independent modulo
    the free subspace :math:`F` (columns :math:`X` for a free skip, :math:`1` for a free
    constant), so the width is at most :math:`n - \mathrm{rank}(F)`: :math:`n` with no
    free terms, :math:`n - \mathrm{rank}([X, 1])` with a free affine term (Parhi & Nowak
    2021: :math:`K \le N-(d+1)`).  Neurons with :math:`\|u_j\|\|\alpha_j\| \le` ``tol``
    times the largest are not counted.  ``details["independent"]`` is the rank of the fits
    modulo F (equal to the width for a pruned network).

    Parameters
    ----------
    network : Network
        A (pruned) two-layer network, e.g. ``fit(...).network``.
    X : array-like of shape (n, d)
        The training inputs.
    skip, free_constant : bool, default=False
        Which free terms the model had.
    tol : float, default=1e-6
        Relative contribution below which a neuron is not counted.
    """
    X = check_array("X", X, ndim=2)
    n = X.shape[0]
    cols = ([X] if skip else []) + ([np.ones((n, 1))] if free_constant else [])
    rank_F = 0
    net = network.prune_zero(tol)
    H = net.hidden(X) * np.linalg.norm(net.W2.reshape(net.width, -1), axis=1)
    if cols:
        U, s, _ = np.linalg.svd(np.hstack(cols), full_matrices=False)
        Q = U[:, s > 1e-10 * s[0]]  # orthonormal basis of the free subspace F
        rank_F = Q.shape[1]
        H = H - Q @ (Q.T @ H)
    independent = int(np.linalg.matrix_rank(H)) if net.width else 0
    bound = n - rank_F
    return Check("active neurons <= n - rank(free terms)", predicted=bound, measured=net.width,
                 holds=net.width <= bound, section="A.3, F.2",
                 details={"n": n, "rank_free": rank_F, "independent": independent})


# ---- balancedness, path norm, rebalancing (H) -----------------------------------------------
def neuron_norms(net: Network | DeepNetwork, layer: int = 0) -> tuple[np.ndarray, np.ndarray]:
    r"""(:math:`\|in_k\|`, :math:`\|out_k\|`) of the neurons of hidden layer ``layer`` (the
    output of ``weights[layer]``; a two-layer Network has layer 0 only).  The incoming norm
    includes the bias if it is regularized (THEORY H)."""
    if isinstance(net, Network):
        if layer != 0:
            raise ValueError(f"layer must be 0 for a two-layer Network; got {layer}")
        return net._in_norms(), net._out_norms()
    if not isinstance(net, DeepNetwork):
        raise ValueError(f"net must be a Network or DeepNetwork; got {type(net).__name__}")
    if not 0 <= layer < net.depth - 1:
        raise ValueError(f"layer must be in [0, {net.depth - 2}]; got {layer}")
    sq_in = np.sum(net.weights[layer] ** 2, axis=1)
    if net.regularize_bias:
        sq_in = sq_in + net.biases[layer] ** 2
    return np.sqrt(sq_in), np.linalg.norm(net.weights[layer + 1], axis=0)


def deep_balance_errors(net: DeepNetwork) -> np.ndarray:
    r"""Per hidden layer, :math:`\max_k |\|in_k\|^2 - \|out_k\|^2| / \max_k \|in_k\|^2`
    (THEORY H; 0 at every weight-decay stationary point)."""
    out = []
    for l in range(net.depth - 1):
        a, b = neuron_norms(net, l)
        out.append(float(np.max(np.abs(a**2 - b**2), initial=0.0)
                         / max(float(np.max(a**2, initial=0.0)), np.finfo(float).tiny)))
    return np.array(out)


def rebalance_deep(net: DeepNetwork, *, max_sweeps: int = 10_000, tol: float = 1e-14) -> DeepNetwork:
    r"""Minimize the penalty over the rescaling orbit of a deep network (THEORY H).

    Neuron k of hidden layer l gets incoming weights (and bias) times :math:`t_k` and
    outgoing weights times :math:`1/t_k`, :math:`t_k = (\|out_k\|/\|in_k\|)^{1/2}`, which
    minimizes :math:`\tfrac12(t^2\|in_k\|^2 + t^{-2}\|out_k\|^2)`; the function is
    unchanged by positive homogeneity.  Layers are swept until the penalty decreases by less
    than ``tol`` (relative): block coordinate descent on the penalty, which is convex in
    :math:`\log t`.
    """
    if not isinstance(net, DeepNetwork):
        raise ValueError(f"net must be a DeepNetwork; got {type(net).__name__}")
    Ws = [W.copy() for W in net.weights]
    bs = [b.copy() for b in net.biases]
    cur = replace(net, weights=Ws, biases=bs)
    last = cur.penalty()
    for _ in range(max_sweeps):
        for l in range(net.depth - 1):
            a, b = neuron_norms(cur, l)
            live = (a > 0) & (b > 0)
            t = np.ones_like(a)
            t[live] = np.sqrt(b[live] / a[live])
            Ws[l] *= t[:, None]
            bs[l] *= t
            Ws[l + 1] /= t[None, :]
        pen = cur.penalty()
        if last - pen <= tol * max(pen, np.finfo(float).tiny):
            break
        last = pen
    return replace(net, weights=Ws, biases=bs)


def balance_check(network: Network | DeepNetwork, *, rtol: float = 1e-6) -> Check:
    r"""Balancedness and path norm = weight decay (THEORY A.1, H).

    Measured: the balance error (two-layer: :meth:`Network.balance_error`; deep: the largest
    of :func:`deep_balance_errors`) and the ratio of the penalty to its minimum over
    rescalings (two-layer: the path norm :math:`\sum_j\|u_j\|\|\alpha_j\|`; deep: the
    penalty after :func:`rebalance_deep`).  Predicted at any stationary point: 0 and 1.

    Parameters
    ----------
    network : Network or DeepNetwork
    rtol : float, default=1e-6
        Tolerance on the balance error and on ratio - 1.
    """
    if isinstance(network, Network):
        err, floor = network.balance_error(), network.path_norm()
    elif isinstance(network, DeepNetwork):
        errs = deep_balance_errors(network)
        err = float(np.max(errs, initial=0.0))
        floor = rebalance_deep(network).penalty()
    else:
        raise ValueError(f"network must be a Network or DeepNetwork; got {type(network).__name__}")
    pen = network.penalty()
    ratio = pen / floor if floor > 0 else 1.0
    return Check("balanced, penalty / min over rescalings == 1", predicted=(0.0, 1.0),
                 measured=(err, ratio), holds=err <= rtol and ratio - 1.0 <= rtol, rtol=rtol,
                 section="H", details={"balance_error": err, "ratio": ratio, "penalty": pen,
                                       "min_penalty": floor})


def rebalance_check(network: Network | DeepNetwork, X: Any, y: Any, *, beta: float,
                    loss: str = "squared", atol: float = 1e-10) -> Check:
    r"""Rebalancing keeps the function and never increases the objective (THEORY H, step 4).

    Predicted: :math:`\max|f_{rebal}(X) - f(X)| <` ``atol`` and
    :math:`P(\theta_{rebal}) \le P(\theta)` (up to rounding, ``1e-12`` relative).

    Parameters
    ----------
    network : Network or DeepNetwork
    X, y : array-like
        Inputs and targets on which outputs and objectives are compared.
    beta : float
        Weight decay of the objective.
    loss : str, default="squared"
    atol : float, default=1e-10
        Largest allowed change of an output.
    """
    X = check_array("X", X, ndim=2)
    beta = check_positive("beta", beta)
    if isinstance(network, Network):
        rebal = network.rebalance()
    elif isinstance(network, DeepNetwork):
        rebal = rebalance_deep(network)
    else:
        raise ValueError(f"network must be a Network or DeepNetwork; got {type(network).__name__}")
    diff = float(np.max(np.abs(rebal.predict(X) - network.predict(X))))
    loss_obj = get_loss(loss)
    before = network.objective(X, y, beta=beta, loss=loss_obj)
    after = rebal.objective(X, y, beta=beta, loss=loss_obj)
    holds = diff < atol and after <= before + 1e-12 * max(1.0, abs(before))
    return Check("rebalancing keeps f and does not increase the objective",
                 predicted=(0.0, before), measured=(diff, after), holds=holds, atol=atol,
                 section="H", details={"output_diff": diff, "objective_before": before,
                                       "objective_after": after, "network": rebal})


__all__ = ["Check", "Knots", "Lasso1D", "knots", "split_knots_to_data", "knots_at_data",
           "tv_check", "interpolation_cost", "interpolation_limit", "unique_interpolant",
           "lasso_1d", "active_neurons", "neuron_norms", "deep_balance_errors",
           "rebalance_deep", "balance_check", "rebalance_check"]
