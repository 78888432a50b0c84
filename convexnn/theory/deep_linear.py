r"""Deep linear networks with weight decay: closed forms, a reference trainer, and checks.

.. math::
    \min_{W_1..W_L}\ \tfrac12\|X W_1\cdots W_L - Y\|_F^2 + \tfrac{\beta}{2}\sum_l\|W_l\|_F^2
    \;=\; \min_M\ \tfrac12\|XM - Y\|_F^2 + \tfrac{\beta L}{2}\sum_k \sigma_k(M)^{2/L}

(THEORY E.2): the minimal norm of a factorization of M is attained by balanced factors
:math:`W_l = U_{l-1}\Sigma^{1/L}U_l^\top`, so every layer has the spectrum
:math:`\sigma_k^{1/L}`, rank at most K = #outputs, and consecutive layers align,
:math:`W_l^\top W_l = W_{l+1}W_{l+1}^\top`.  For whitened data the singular values are
shrunk one by one (soft threshold for L = 2, hard threshold with a jump for L >= 3); for
rank-one data :math:`X = c a^\top` the solution is rank one, and for :math:`c \ge 0` it is
also the deep *ReLU* optimum (THEORY E.3).

:class:`DeepNetwork` stores ``weights[l] = W_{l+1}^T`` (torch's (out, in) convention), so
the alignment reads ``weights[l] @ weights[l].T == weights[l+1].T @ weights[l+1]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.validation import check_array, check_int, check_positive
from ..networks.deep import DeepNetwork
from .report import Check, _close


def shrink(s: Any, beta: float, depth: int) -> np.ndarray:
    r""":math:`\sigma(s) = \arg\min_{\sigma\ge0}\ \tfrac12(\sigma-s)^2 + \tfrac{\beta L}{2}\sigma^{2/L}`
    elementwise (THEORY E.2).

    L = 1: :math:`s/(1+\beta)`; L = 2: the soft threshold :math:`(s-\beta)_+`.  L >= 3: the
    interior stationary points solve :math:`\varphi(\sigma) = \sigma + \beta\sigma^{-e} = s`,
    :math:`e = 1 - 2/L`; :math:`\varphi` is minimal at :math:`\sigma_m = (e\beta)^{1/(1+e)}`,
    so for :math:`s \ge \varphi(\sigma_m)` the local minimum is the root in
    :math:`[\sigma_m, s]`, kept only if it beats :math:`\sigma = 0` (a hard threshold whose
    output jumps from 0 to a positive value).

    Parameters
    ----------
    s : array-like
        Nonnegative singular values.
    beta : float
        Weight decay, >= 0.
    depth : int
        Number of layers L >= 1.

    Examples
    --------
    >>> shrink([0.5, 1.5, 2.5], 1.0, 2)  # soft threshold
    array([0. , 0.5, 1.5])
    >>> shrink([1.9, 2.1], 1.0, 3)  # hard threshold at s* = 2: jumps from 0 to ~1
    array([0.        , 1.1437...])
    """
    from scipy.optimize import brentq

    s = np.asarray(s, dtype=np.float64)
    if np.any(s < 0) or not np.all(np.isfinite(s)):
        raise ValueError("s must be finite and nonnegative (singular values)")
    beta = check_positive("beta", beta, allow_zero=True)
    L = check_int("depth", depth)
    if L == 1 or beta == 0:
        return s / (1.0 + beta)
    if L == 2:
        return np.maximum(s - beta, 0.0)
    e = 1.0 - 2.0 / L
    sig_m = (e * beta) ** (1.0 / (1.0 + e))
    phi_m = sig_m + beta * sig_m ** (-e)
    out = np.zeros_like(s)
    for idx, sk in np.ndenumerate(s):
        if sk < phi_m:
            continue
        root = sig_m if sk == phi_m else brentq(lambda q, t=sk: q + beta * q ** (-e) - t, sig_m, sk,
                                                xtol=1e-15, rtol=1e-15)
        h_root = 0.5 * (root - sk) ** 2 + 0.5 * beta * L * root ** (2.0 / L)
        if h_root < 0.5 * sk**2:
            out[idx] = root
    return out


@dataclass(frozen=True)
class DeepLinearSolution:
    r"""A closed-form optimum :math:`M = U\,\mathrm{diag}(\sigma)\,V^\top` of the deep linear
    problem (THEORY E.2).

    Attributes
    ----------
    M : ndarray of shape (d, K)
        The end-to-end map, :math:`f(X) = XM`.
    U : ndarray of shape (d, r), V : ndarray of shape (K, r), sigma : ndarray of shape (r,)
        Its nonzero singular triplets (r = rank M).
    objective : float
        The optimal value :math:`p^*`.
    depth : int
    beta : float
    """

    M: np.ndarray
    U: np.ndarray
    V: np.ndarray
    sigma: np.ndarray
    objective: float
    depth: int
    beta: float

    @property
    def rank(self) -> int:
        return int(self.sigma.size)

    @property
    def layer_singular_values(self) -> np.ndarray:
        r""":math:`\sigma_k^{1/L}`, the nonzero singular values of every balanced layer."""
        return self.sigma ** (1.0 / self.depth)

    def network(self, widths: Any = None, *, activation: str = "linear") -> DeepNetwork:
        r"""The balanced factors :math:`W_l = U_{l-1}\Sigma^{1/L}U_l^\top` as a DeepNetwork.

        Hidden layers use :math:`U_l` = the first r coordinate vectors of width
        ``widths[l-1]`` (default r), so intermediate features are nonnegative when
        :math:`U^\top x \ge 0`: with ``activation="relu"`` this is the deep ReLU optimum for
        rank-one data :math:`X = ca^\top`, :math:`c\ge0` (THEORY E.3).
        """
        L, r = self.depth, self.rank
        widths = [max(r, 1)] * (L - 1) if widths is None else [int(w) for w in widths]
        if len(widths) != L - 1 or any(w < r for w in widths):
            raise ValueError(f"widths must be {L - 1} hidden widths >= rank {r}; got {widths}")
        bases = [self.U] + [np.eye(w)[:, :r] for w in widths] + [self.V]
        root = self.sigma ** (1.0 / L)
        weights = [(bases[l + 1] * root) @ bases[l].T for l in range(L)]  # W_{l+1}^T
        return DeepNetwork(weights, activation=activation)


def _solution(M_parts, fit_const: float, s: np.ndarray, sigma: np.ndarray, beta: float,
              depth: int) -> DeepLinearSolution:
    U, V = M_parts
    keep = sigma > 0
    U, V, sig = U[:, keep], V[:, keep], sigma[keep]
    # p* = sum_k [1/2 (sigma_k - s_k)^2 + (beta L / 2) sigma_k^(2/L)] + the part of Y no M fits
    obj = fit_const + float(np.sum(0.5 * (sigma - s) ** 2 + 0.5 * beta * depth * sigma ** (2.0 / depth)))
    return DeepLinearSolution(M=(U * sig) @ V.T, U=U, V=V, sigma=sig, objective=obj,
                              depth=depth, beta=beta)


def _targets(Y: Any, n: int) -> np.ndarray:
    Y = check_array("Y", Y, ndim=(1, 2))
    Y = Y[:, None] if Y.ndim == 1 else Y
    if Y.shape[0] != n:
        raise ValueError(f"Y has {Y.shape[0]} rows; X has {n}")
    return Y


def whitened_deep_linear(X: Any, Y: Any, *, beta: float, depth: int) -> DeepLinearSolution:
    r"""Closed form for whitened data, :math:`X^\top X = I_d` (THEORY E.2, I8).

    :math:`\|XM-Y\|^2 = \|M - X^\top Y\|^2 + \|Y\|^2 - \|X^\top Y\|^2` for M in the row
    space of X, so with :math:`X^\top Y = \sum_k s_k a_k b_k^\top`,
    :math:`M = \sum_k \sigma_k a_k b_k^\top`, :math:`\sigma_k =` :func:`shrink`
    :math:`(s_k)`.  Any partial isometry (:math:`XX^\top X = X`, e.g. :math:`XX^\top = I_n`)
    is accepted: the optimal M lies in the row space of X.

    Parameters
    ----------
    X : array-like of shape (n, d)
        Whitened inputs.
    Y : array-like of shape (n,) or (n, K)
    beta : float
        Weight decay, > 0.
    depth : int
        Number of layers L.

    Returns
    -------
    DeepLinearSolution
    """
    X = check_array("X", X, ndim=2)
    Y = _targets(Y, X.shape[0])
    beta = check_positive("beta", beta)
    depth = check_int("depth", depth)
    if np.linalg.norm(X @ X.T @ X - X) > 1e-8 * max(1.0, np.linalg.norm(X)):
        raise ValueError("X must be whitened: X^T X = I (or X X^T = I); got singular values "
                         f"{np.round(np.linalg.svd(X, compute_uv=False), 6)}")
    B = X.T @ Y
    U, s, Vt = np.linalg.svd(B, full_matrices=False)
    const = 0.5 * (float(np.sum(Y**2)) - float(np.sum(B**2)))
    return _solution((U, Vt.T), const, s, shrink(s, beta, depth), beta, depth)


def rank_one_deep_linear(c: Any, a: Any, Y: Any, *, beta: float, depth: int) -> DeepLinearSolution:
    r"""Closed form for rank-one data :math:`X = c a^\top` (THEORY E.2, E.3, I9).

    :math:`M = \hat a\,\sigma\,\hat g^\top` with :math:`\hat a = a/\|a\|`,
    :math:`\hat g = Y^\top c/\|Y^\top c\|`; with :math:`\rho = \|c\|\|a\|` and
    :math:`t = \|Y^\top c\|/\|c\|`, :math:`\sigma` minimizes
    :math:`\tfrac12\rho^2\sigma^2 - \rho t\sigma + \tfrac{\beta L}{2}\sigma^{2/L}`, i.e.
    :math:`\rho\sigma =` :func:`shrink` :math:`(t, \beta\rho^{-2/L}, L)`.  For
    :math:`c \ge 0` the same value is the optimum of the deep ReLU network without biases.

    Parameters
    ----------
    c : array-like of shape (n,)
    a : array-like of shape (d,)
        The data are :math:`X = c a^\top`.
    Y : array-like of shape (n,) or (n, K)
    beta : float
        Weight decay, > 0.
    depth : int
        Number of layers L.

    Returns
    -------
    DeepLinearSolution
    """
    c = check_array("c", c, ndim=1)
    a = check_array("a", a, ndim=1)
    Y = _targets(Y, c.size)
    beta = check_positive("beta", beta)
    depth = check_int("depth", depth)
    nc, na = np.linalg.norm(c), np.linalg.norm(a)
    if nc == 0 or na == 0:
        raise ValueError("c and a must be nonzero")
    rho, g = nc * na, Y.T @ c
    t = float(np.linalg.norm(g)) / nc
    g_hat = g / np.linalg.norm(g) if t > 0 else np.eye(Y.shape[1])[:, 0]
    tau = float(shrink(np.array([t]), beta * rho ** (-2.0 / depth), depth)[0])
    sigma = tau / rho
    # objective = 1/2||Y||^2 - 1/2 t^2 + 1/2 (tau - t)^2 + (beta L/2) sigma^(2/L)
    const = 0.5 * float(np.sum(Y**2)) - 0.5 * t**2 + 0.5 * (tau - t) ** 2
    sol = _solution(((a / na)[:, None], g_hat[:, None]), const, np.array([sigma]),
                    np.array([sigma]), beta, depth)
    return sol


# ---- a reference trainer (numpy backprop + scipy L-BFGS) -----------------------------------
@dataclass(frozen=True)
class DeepFit:
    """Result of :func:`train_deep`: the best network and every restart's outcome."""

    network: DeepNetwork
    objectives: np.ndarray
    grad_norms: np.ndarray
    best: int
    seed: Any


def _unpack(theta: np.ndarray, dims: list[int]) -> list[np.ndarray]:
    out, k = [], 0
    for din, dout in zip(dims[:-1], dims[1:]):
        out.append(theta[k:k + din * dout].reshape(dout, din))
        k += din * dout
    return out


def _objective_and_grad(theta, X, Y, beta, dims, relu):
    Ws = _unpack(theta, dims)
    H, Zs = [X], []
    for W in Ws[:-1]:
        Z = H[-1] @ W.T
        Zs.append(Z)
        H.append(np.maximum(Z, 0.0) if relu else Z)
    G = H[-1] @ Ws[-1].T - Y
    obj = 0.5 * float(np.sum(G * G)) + 0.5 * beta * sum(float(np.sum(W * W)) for W in Ws)
    grads = [None] * len(Ws)
    for l in range(len(Ws) - 1, -1, -1):
        grads[l] = G.T @ H[l] + beta * Ws[l]
        if l:
            G = G @ Ws[l]
            if relu:
                G = G * (Zs[l - 1] > 0)
    return obj, np.concatenate([g.ravel() for g in grads])


def deep_objective_gradient(net: DeepNetwork, X: Any, Y: Any, *, beta: float
                            ) -> tuple[float, list[np.ndarray]]:
    r"""Objective :math:`\tfrac12\|f(X)-Y\|_F^2 + \tfrac\beta2\sum_l\|W_l\|_F^2` of a
    bias-free linear or ReLU DeepNetwork and its gradient with respect to ``weights``
    (numpy backpropagation; the same routine :func:`train_deep` uses)."""
    if net.activation not in ("linear", "relu") or any(np.any(b != 0) for b in net.biases):
        raise ValueError("net must be a bias-free linear or ReLU DeepNetwork")
    X = check_array("X", X, ndim=2)
    Y = _targets(Y, X.shape[0])
    beta = check_positive("beta", beta, allow_zero=True)
    dims = [net.weights[0].shape[1]] + [W.shape[0] for W in net.weights]
    theta = np.concatenate([W.ravel() for W in net.weights])
    obj, g = _objective_and_grad(theta, X, Y, beta, dims, net.activation == "relu")
    return obj, _unpack(g, dims)


def train_deep(X: Any, Y: Any, *, beta: float, widths: Any, activation: str = "linear",
               restarts: int = 5, seed: Any = None, init_scale: float = 1.0,
               maxiter: int = 20_000, gtol: float = 1e-10) -> DeepFit:
    r"""Minimize :math:`\tfrac12\|f_\theta(X)-Y\|_F^2 + \tfrac\beta2\sum_l\|W_l\|_F^2` for a
    bias-free MLP by L-BFGS from ``restarts`` Gaussian initializations.

    An independent reference for the closed forms (THEORY E.2, E.3, I8, I9), in float64
    with numpy backpropagation; initial weights :math:`\sim N(0, \text{init\_scale}^2/d_{in})`.

    Parameters
    ----------
    X : array-like of shape (n, d)
    Y : array-like of shape (n,) or (n, K)
    beta : float
        Weight decay, > 0.
    widths : sequence of int
        Hidden widths (depth = len(widths) + 1).
    activation : {"linear", "relu"}, default="linear"
    restarts : int, default=5
        Number of random initializations; the best final objective is returned.
    seed : int, Generator or None
        Seed of the initializations.
    init_scale : float, default=1.0
    maxiter : int, default=20000
    gtol : float, default=1e-10
        L-BFGS-B stops when the largest gradient entry is below ``gtol``.

    Returns
    -------
    DeepFit
    """
    X = check_array("X", X, ndim=2)
    Y = _targets(Y, X.shape[0])
    beta = check_positive("beta", beta)
    restarts = check_int("restarts", restarts)
    if activation not in ("linear", "relu"):
        raise ValueError(f"activation must be 'linear' or 'relu'; got {activation!r}")
    from scipy.optimize import minimize

    dims = [X.shape[1], *[int(w) for w in widths], Y.shape[1]]
    rng = np.random.default_rng(seed)
    relu = activation == "relu"
    objs, gnorms, nets = [], [], []
    for _ in range(restarts):
        theta0 = np.concatenate([rng.normal(0.0, init_scale / np.sqrt(din), din * dout)
                                 for din, dout in zip(dims[:-1], dims[1:])])
        res = minimize(_objective_and_grad, theta0, args=(X, Y, beta, dims, relu), jac=True,
                       method="L-BFGS-B",
                       options={"maxiter": maxiter, "gtol": gtol, "ftol": 1e-16, "maxcor": 30})
        obj, g = _objective_and_grad(res.x, X, Y, beta, dims, relu)
        objs.append(obj)
        gnorms.append(float(np.linalg.norm(g)))
        nets.append(DeepNetwork([W.copy() for W in _unpack(res.x, dims)], activation=activation))
    best = int(np.argmin(objs))
    return DeepFit(network=nets[best], objectives=np.array(objs), grad_norms=np.array(gnorms),
                   best=best, seed=seed)


# ---- checks -------------------------------------------------------------------------------
def layer_spectra(net: DeepNetwork) -> list[np.ndarray]:
    """Singular values of every weight matrix, largest first."""
    return [np.linalg.svd(W, compute_uv=False) for W in net.weights]


def rank_check(net: DeepNetwork, n_outputs: int | None = None, *, rtol: float = 1e-6) -> Check:
    r""":math:`\mathrm{rank}(W_l) \le K` = #outputs for every layer (THEORY E.2).

    Numerical rank: singular values above ``rtol`` times the layer's largest.
    """
    K = net.weights[-1].shape[0] if n_outputs is None else check_int("n_outputs", n_outputs)
    ranks = [int(np.sum(s > rtol * s[0])) if s.size and s[0] > 0 else 0 for s in layer_spectra(net)]
    return Check("rank(W_l) <= #outputs", predicted=K, measured=ranks,
                 holds=all(r <= K for r in ranks), rtol=rtol, section="E.2",
                 details={"spectra": layer_spectra(net)})


def alignment_check(net: DeepNetwork, *, rtol: float = 1e-6) -> Check:
    r"""Alignment :math:`W_l^\top W_l = W_{l+1}W_{l+1}^\top` of consecutive layers (E.2, H).

    Measured per hidden layer: :math:`\|A_lA_l^\top - A_{l+1}^\top A_{l+1}\|_F /
    \max(\|A_l\|_F^2, \|A_{l+1}\|_F^2)` with ``A_l = weights[l]``; predicted 0 at every
    stationary point of a deep *linear* network (for ReLU nets only the diagonal, the
    per-neuron balance, is predicted).
    """
    res = []
    for A, B in zip(net.weights[:-1], net.weights[1:]):
        scale = max(float(np.sum(A**2)), float(np.sum(B**2)), np.finfo(float).tiny)
        res.append(float(np.linalg.norm(A @ A.T - B.T @ B)) / scale)
    res = np.array(res)
    return Check("W_l^T W_l == W_{l+1} W_{l+1}^T", predicted=0.0,
                 measured=float(np.max(res, initial=0.0)), holds=bool(np.all(res <= rtol)),
                 rtol=rtol, section="E.2", details={"residuals": res})


def spectrum_check(net: DeepNetwork, solution: DeepLinearSolution, *, rtol: float = 1e-4,
                   atol: float = 1e-6) -> Check:
    r"""Every layer's singular values equal :math:`\sigma_k^{1/L}` of the closed form, the
    rest vanish (THEORY E.2)."""
    target = solution.layer_singular_values
    worst = 0.0
    for s in layer_spectra(net):
        padded = np.zeros(s.size)
        padded[: min(s.size, target.size)] = target[: s.size]
        if target.size > s.size:
            worst = np.inf
        worst = max(worst, float(np.max(np.abs(s - padded) / (atol + rtol * np.maximum(padded, 1.0)))))
    return Check("layer spectra == sigma_k^(1/L)", predicted=target,
                 measured=[s[: max(target.size, 1)] for s in layer_spectra(net)],
                 holds=worst <= 1.0, rtol=rtol, atol=atol, section="E.2")


def closed_form_check(net: DeepNetwork, X: Any, Y: Any, solution: DeepLinearSolution, *,
                      rtol: float = 1e-6, atol: float = 1e-10) -> Check:
    r"""The network's objective equals the closed-form optimum :math:`p^*` (THEORY I8, I9).

    A trained network can only be above :math:`p^*` (up to ``atol``); a network at the
    global optimum is within ``rtol`` of it.
    """
    X = check_array("X", X, ndim=2)
    Y = _targets(Y, X.shape[0])
    Yt = Y[:, 0] if Y.shape[1] == 1 else Y
    measured = net.objective(X, Yt, beta=solution.beta)
    return Check("objective == closed form p*", predicted=solution.objective, measured=measured,
                 holds=_close(measured, solution.objective, rtol, atol), rtol=rtol, atol=atol,
                 section="E.2", details={"below_optimum": measured < solution.objective - atol})


__all__ = ["shrink", "DeepLinearSolution", "whitened_deep_linear", "rank_one_deep_linear",
           "DeepFit", "deep_objective_gradient", "train_deep", "layer_spectra", "rank_check",
           "alignment_check", "spectrum_check", "closed_form_check"]
