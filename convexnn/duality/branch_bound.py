r"""Branch and bound over directions: a proven bound on the dual norm without listing cells.

.. math::
    s(\lambda) = \max_{\|u\|_2\le1}\ \lambda^\top(\tilde Xu)_+
               = \max_{\|v\|_2\le1}\ \lambda^\top(Zv)_+,\qquad \tilde X = ZB,\ BB^\top = I_r,

(THEORY A.7, A.10; every coordinate penalized, so only the row space of :math:`\tilde X`
matters and the search runs on the unit sphere of :math:`\mathbb R^r`, r = rank).  This
is the single-neuron problem of ReLU verification (the triangle relaxation bounds each
undecided unit); here a node is a *simplicial cone* :math:`C = \{Ea : a \ge 0\}` spanned
by r unit rays (the columns of E), and the sphere starts as the :math:`2^r` orthants.

**Bound of a node.**  With :math:`V = ZE` (row j's value at each ray), row j is decided
active on C when :math:`V_{j\cdot} \ge 0`, inactive when :math:`\le 0`, else undecided.
On the flat simplex :math:`\{Ea : a\ge0, 1^\top a = 1\}`,

* :math:`\lambda_j > 0`: :math:`(z_j)_+ \le \sum_k a_k (V_{jk})_+` (convexity: the concave
  envelope of the triangle relaxation at the rays);
* :math:`\lambda_j < 0`: :math:`\lambda_j(z_j)_+ = \lambda_jz_j` when decided active,
  :math:`\le 0` otherwise;

so :math:`\lambda^\top(Zu)_+ \le \max_k B_k` (a linear function of a), and on the sphere
:math:`f(u/\|u\|) = f(u)/\|u\|` with :math:`\|Ea\| \ge \rho` for
:math:`\rho^2 = \max(\min_{kl}(E^\top E)_{kl},\ \lambda_{\min}(E^\top E)/r)`.  Hence
:math:`\max_{C\cap S} f \le (\max_k B_k)_+/\rho`.

**Exact leaves.**  A node with at most :data:`EXACT_UNDECIDED` undecided rows lies in the
union of the :math:`2^k` cells that fix their signs; the cell maximum
:math:`\max_{u\in K_D,\|u\|\le1}\lambda^\top D Zu` (:func:`convexnn.duality.cones.cone_support`,
exact to roundoff, cached by pattern) bounds the node without relaxation error.

**Branching.**  Bisect the longest edge (the pair of rays at the largest angle): the
new ray is :math:`(e_k + e_l)/\|e_k + e_l\|`.  Nodes whose bound is at most the
pruning level (the floor, or the best value found times 1 + rtol) are pruned; with
``stop_above``, a direction whose value exceeds it ends the search as a violation.
The search is exhaustive when the frontier empties; otherwise (node or time budget)
the largest frontier bound is still a valid upper bound of s.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from itertools import product

import numpy as np

from ..core.patterns import _hyperplanes, _rank_reduce
from .cones import cone_support

#: Nodes with at most this many undecided rows are bounded exactly over their cells.
EXACT_UNDECIDED = 3
#: Nodes bounded per vectorized batch.
BATCH = 4096


@dataclass
class BranchBoundResult:
    r"""Outcome of :func:`maximize_relu`.

    Attributes
    ----------
    upper : float
        Proven: :math:`s \le` ``upper``.
    lower : float
        Attained by ``u``: :math:`\lambda^\top(\tilde Xu)_+ =` ``lower`` with
        :math:`\|u\| = 1`.
    u : ndarray of shape (d',)
        The best direction found (in the coordinates of :math:`\tilde X`).
    complete : bool
        The frontier emptied: ``upper`` is the pruning level (or the largest exact leaf),
        without budget truncation.
    violated : bool
        ``lower`` exceeds ``stop_above`` (the search stopped there).
    nodes : int
        Nodes bounded.
    exact_leaves : int
        Distinct cells bounded exactly.
    time : float
    """

    upper: float
    lower: float
    u: np.ndarray
    complete: bool
    violated: bool
    nodes: int
    exact_leaves: int
    time: float


class _CellCache:
    r"""Exact cell maxima :math:`\max_{u\in K_D,\|u\|\le1}\lambda^\top DZu`, by pattern."""

    def __init__(self, Z: np.ndarray, lam: np.ndarray):
        self.Z, self.lam = Z, lam
        self.values: dict[bytes, tuple[float, float, np.ndarray]] = {}

    def __call__(self, d: np.ndarray) -> tuple[float, float, np.ndarray]:
        key = np.packbits(d).tobytes()
        hit = self.values.get(key)
        if hit is None:
            A = np.where(d, 1.0, -1.0)[:, None] * self.Z
            c = self.Z.T @ (d * self.lam)
            hit = cone_support(A, c)
            self.values[key] = hit
        return hit


def _orthants(r: int) -> np.ndarray:
    """The 2^r orthant cones of R^r as ray matrices (N, r, r), rays in columns."""
    signs = np.array(list(product((1.0, -1.0), repeat=r)))
    return np.stack([np.diag(s) for s in signs])


def _rho(E: np.ndarray) -> np.ndarray:
    r"""Lower bounds of :math:`\min_{a\ge0,1^\top a=1}\|Ea\|` per node."""
    G = np.einsum("nik,nil->nkl", E, E)
    r = E.shape[2]
    low = np.maximum(G.min(axis=(1, 2)), np.linalg.eigvalsh(G)[:, 0] / r)
    return np.sqrt(np.maximum(low, 0.0))


def _node_bounds(Z, lam, E):
    """(bound, V) for a batch of nodes (see the module docstring)."""
    V = np.matmul(Z, E)  # (N, n, r)
    hi, lo = V.max(axis=2), V.min(axis=2)
    pos = lam > 0
    # lam_j > 0: sum_k a_k (V_jk)_+ (the concave envelope at the rays)
    Bp = np.matmul(np.where(pos, lam, 0.0), np.maximum(V, 0.0))
    # lam_j < 0: (z)_+ >= t z for any t in [0, 1]; t = 1 when decided active, 0 when
    # inactive, the secant slope h / (h - l) when undecided
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(lo >= 0, 1.0, np.where(hi <= 0, 0.0, hi / (hi - lo)))
    neg = np.where(pos, 0.0, lam)[None, :] * t
    Bn = np.matmul(neg[:, None, :], V)[:, 0, :]
    B = (Bp + Bn).max(axis=1)
    rho = _rho(E)
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = np.where(B > 0, B / np.maximum(rho, 1e-300), 0.0)
    bound[(B > 0) & (rho <= 0)] = np.inf
    return bound, V


def _values(Z, lam, U):
    r""":math:`\lambda^\top(ZU^\top)_+` for unit rows of U."""
    return np.maximum(U @ Z.T, 0.0) @ lam


def _split(E: np.ndarray) -> np.ndarray:
    """Bisect each node's longest edge: (N, r, r) -> (2N, r, r)."""
    N, r, _ = E.shape
    G = np.einsum("nik,nil->nkl", E, E)
    G[:, np.arange(r), np.arange(r)] = np.inf
    flat = G.reshape(N, -1).argmin(axis=1)
    k, l = np.divmod(flat, r)
    idx = np.arange(N)
    m = E[idx, :, k] + E[idx, :, l]
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    A, Bn = E.copy(), E.copy()
    A[idx, :, k] = m
    Bn[idx, :, l] = m
    return np.concatenate([A, Bn])


def maximize_relu(Xt: np.ndarray, lam: np.ndarray, *, floor: float = 0.0, rtol: float = 1e-9,
                  stop_above: float | None = None, max_nodes: int = 2_000_000,
                  time_limit: float = 30.0, exact_undecided: int | None = None
                  ) -> BranchBoundResult:
    r"""Bound :math:`s^+ = \max_{\|u\|\le1}\lambda^\top(\tilde Xu)_+` from above and below
    (every coordinate penalized; see the module docstring).

    Nodes are pruned when their bound is at most ``level = max(floor, best (1 + rtol))``
    (``best``: the largest value attained so far), so on completion
    :math:`s^+ \le \max(\text{level}, \text{exact leaves})`: the maximum to ``rtol``
    when it is above ``floor``, else just "at most ``floor``" (all a dual certificate
    needs, with ``floor = beta``).  With ``stop_above`` the search ends at the first
    direction whose value exceeds it (pricing: a violated constraint).  A node or time
    budget ends it early with the largest open bound as ``upper`` (still valid).
    """
    t0 = time.perf_counter()
    Z, Bbasis = _rank_reduce(np.asarray(Xt, dtype=np.float64))
    lam = np.asarray(lam, dtype=np.float64)
    r = Z.shape[1]
    if r == 0:
        return BranchBoundResult(0.0, 0.0, np.zeros(Xt.shape[1]), True, False, 0, 0, 0.0)
    if exact_undecided is None:
        exact_undecided = max(EXACT_UNDECIDED, r - 1)
    cells = _CellCache(Z, lam)
    # rows on one hyperplane (duplicates, parallel rows) switch together: count and
    # enumerate undecided *hyperplanes*, not rows
    normals, group, orient, zero = _hyperplanes(Z)
    best_val, best_v = 0.0, np.zeros(r)
    frontier = [_orthants(r)]
    nodes = 0
    top_exact = 0.0
    open_bound = 0.0
    complete = True

    def level() -> float:
        return max(floor, best_val * (1 + rtol))

    while frontier:
        E = frontier.pop()
        if E.shape[0] > BATCH:
            frontier.append(E[BATCH:])
            E = E[:BATCH]
        nodes += E.shape[0]
        bound, V = _node_bounds(Z, lam, E)
        # lower bounds: the rays and the normalized centroids
        cen = E.sum(axis=2)
        cand = np.concatenate([E.transpose(0, 2, 1).reshape(-1, r),
                               cen / np.linalg.norm(cen, axis=1, keepdims=True)])
        vals = _values(Z, lam, cand)
        i = int(np.argmax(vals))
        if vals[i] > best_val:
            best_val, best_v = float(vals[i]), cand[i]
        if stop_above is not None and best_val > stop_above:
            return _result(best_val, best_val, best_v, Bbasis, False, True, nodes, cells, t0)
        keep = bound > level()
        if not keep.any():
            continue
        E, V = E[keep], V[keep]
        # exact leaves: few undecided rows, bounded over the cells they meet
        W = np.matmul(normals, E)  # hyperplane values at the rays
        und = ~((W >= 0).all(axis=2) | (W <= 0).all(axis=2))
        leaf = und.sum(axis=1) <= exact_undecided
        for q in np.flatnonzero(leaf):
            side = np.where((W[q] >= 0).all(axis=1), 1.0, -1.0)  # decided hyperplanes
            planes = np.flatnonzero(und[q])
            for bits in product((-1.0, 1.0), repeat=planes.size):
                side[planes] = bits
                d = np.where(zero, True, orient * side[np.maximum(group, 0)] > 0)
                up, lo, u = cells(d)
                if lo > best_val:
                    best_val, best_v = float(lo), u
                top_exact = max(top_exact, up)
            if stop_above is not None and best_val > stop_above:
                return _result(best_val, best_val, best_v, Bbasis, False, True, nodes, cells, t0)
        E = E[~leaf]
        if not E.shape[0]:
            continue
        if nodes >= max_nodes or time.perf_counter() - t0 > time_limit:
            complete = False
            for rest in [E] + frontier:
                for k in range(0, rest.shape[0], BATCH):
                    open_bound = max(open_bound, float(_node_bounds(Z, lam, rest[k:k + BATCH])[0].max()))
            frontier = []
            break
        frontier.append(_split(E))
    # every pruned node is below level(); leaves are bounded by their cells (a cell bound
    # above the level with a lower value is NNLS roundoff: counted as is)
    upper = max(level(), top_exact) if complete else max(level(), top_exact, open_bound)
    return _result(upper, best_val, best_v, Bbasis, complete, False, nodes, cells, t0)


def _result(upper, lower, v, Bbasis, complete, violated, nodes, cells, t0):
    u = v @ Bbasis
    nrm = float(np.linalg.norm(u))
    u = u / nrm if nrm > 0 else u
    return BranchBoundResult(float(upper), float(max(lower, 0.0)), u, bool(complete),
                             bool(violated), int(nodes), len(cells.values),
                             time.perf_counter() - t0)


def dual_norm_bb(Xt: np.ndarray, lam: np.ndarray, *, floor: float, rtol: float = 1e-9,
                 stop_above: float | None = None, max_nodes: int = 2_000_000,
                 time_limit: float = 30.0) -> tuple[float, float, np.ndarray, int, bool, bool]:
    r"""Both signs of :math:`\max_{\|u\|\le1}|\lambda^\top(\tilde Xu)_+|`:
    (upper, lower, best direction, its sign, complete, violated), the time budget
    shared by the searches (at most 3/4 to the first) for :math:`\lambda` and :math:`-\lambda`."""
    plus = maximize_relu(Xt, lam, floor=floor, rtol=rtol, stop_above=stop_above,
                         max_nodes=max_nodes, time_limit=0.75 * time_limit)
    if plus.violated:
        return plus.upper, plus.lower, plus.u, 1, False, True
    minus = maximize_relu(Xt, -lam, floor=floor, rtol=rtol, stop_above=stop_above,
                          max_nodes=max_nodes, time_limit=max(time_limit - plus.time, 0.25 * time_limit))
    sign = 1 if plus.lower >= minus.lower else -1
    best = plus if sign > 0 else minus
    return (max(plus.upper, minus.upper), best.lower, best.u, sign,
            plus.complete and minus.complete, minus.violated)


__all__ = ["BranchBoundResult", "maximize_relu", "dual_norm_bb", "EXACT_UNDECIDED"]
