r"""Support function of a polyhedral cone cut by a (partial) unit ball (THEORY A.6).

For a cone :math:`K = \{u : A u \ge 0\}` and a vector c,

.. math::
    s(c) = \max_{u}\ \{ c^\top u \;:\; A u \ge 0,\ \|u_\pi\|_2 \le 1 \},

where :math:`\pi` are the *penalized* coordinates (all of them, or all but the free
hidden bias).  Conic duality (the Lagrangian :math:`c^\top u + \gamma^\top A u` maximized
over the ball) gives

.. math::
    s(c) = \min_{\gamma \ge 0}\ \|(c + A^\top\gamma)_\pi\|_2
    \quad\text{s.t.}\quad (c + A^\top\gamma)_{\bar\pi} = 0,

and without free coordinates :math:`s(c) = \min_{\gamma\ge0}\|c + A^\top\gamma\| =
\|\Pi_K(c)\|` (Moreau: :math:`c = \Pi_K(c) + \Pi_{K^\circ}(c)` with polar cone
:math:`K^\circ = \{-A^\top\gamma : \gamma \ge 0\}`).  Hence

* **any** :math:`\gamma \ge 0` satisfying the free equality gives an *upper* bound, and
* **any** feasible u gives a *lower* bound :math:`c^\top u`.

:func:`cone_support` returns both, so callers can see how tight the answer is;
:func:`pattern_supports` evaluates it for every activation pattern :math:`D_i` and sign
(:math:`A = (2D_i - I)\tilde X`, :math:`c = \pm\tilde X^\top D_i\lambda`) as the dual
certificate of THEORY A.7 needs, skipping patterns that cannot change the maximum.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.optimize import nnls

#: Weight on the free rows in the weighted NNLS (Lawson & Hanson's weighting method for
#: equality constraints, ch. 22); the equality is then repaired exactly (see _repair).
_FREE_WEIGHT = 1e4
#: Relative tolerance for cone feasibility of u and for the free equality.
FEAS_TOL = 1e-10


def _as_free_mask(free, dim: int) -> np.ndarray | None:
    if free is None:
        return None
    mask = np.asarray(free, dtype=bool)
    if mask.shape != (dim,):
        raise ValueError(f"free must be a boolean mask of shape ({dim},); got shape {mask.shape}")
    return mask if mask.any() else None


def _check_Ac(A, c) -> tuple[np.ndarray, np.ndarray]:
    A = np.asarray(A, dtype=np.float64)
    c = np.asarray(c, dtype=np.float64)
    if c.ndim != 1:
        raise ValueError(f"c must be 1-D; got shape {c.shape}")
    if A.ndim != 2 or A.shape[1] != c.shape[0]:
        raise ValueError(f"A must have shape (m, {c.shape[0]}); got {A.shape}")
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(c))):
        raise ValueError("A and c must be finite")
    return A, c


def _row_tol(A: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Tolerance of A u >= 0 per row: FEAS_TOL * ||a_j|| * ||u|| (roundoff scale)."""
    return FEAS_TOL * np.linalg.norm(A, axis=1) * max(float(np.linalg.norm(u)), 1.0)


def _lower_from(A: np.ndarray, c: np.ndarray, u: np.ndarray) -> tuple[float, np.ndarray]:
    """(c^T u, u) if u is in the cone (to roundoff) and c^T u > 0, else the trivial (0, 0)
    (u = 0 is always feasible)."""
    if A.shape[0] and np.any(A @ u < -_row_tol(A, u)):
        return 0.0, np.zeros_like(u)
    value = float(c @ u)
    return (value, u) if value > 0 else (0.0, np.zeros_like(u))


def _support_plain(A: np.ndarray, c: np.ndarray) -> tuple[float, float, np.ndarray]:
    r"""No free coordinates: :math:`\gamma^\star = \mathrm{NNLS}(A^\top, -c)`,
    :math:`r = c + A^\top\gamma^\star = \Pi_K(c)`, upper :math:`\|r\|`, u = r/||r||."""
    norm_c = float(np.linalg.norm(c))
    if norm_c == 0.0:
        return 0.0, 0.0, np.zeros_like(c)
    # the unconstrained maximizer c/||c|| may already lie in K (then gamma = 0 is optimal)
    if A.shape[0] == 0 or np.all(A @ c >= 0):
        return norm_c, norm_c, c / norm_c
    gamma, _ = nnls(A.T, -c)
    r = c + A.T @ gamma
    upper = float(np.linalg.norm(r))
    if upper <= FEAS_TOL * norm_c:  # c lies in the polar cone: s = 0 (to roundoff)
        return upper, 0.0, np.zeros_like(c)
    lower, u = _lower_from(A, c, r / upper)
    return upper, min(lower, upper), u


def _polish(A_p: np.ndarray, E: np.ndarray, c_p: np.ndarray, c_f: np.ndarray,
            J: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    r"""Solve the equality-constrained least squares on the active set J exactly:

    .. math::
        \min_{\gamma_J} \tfrac12\|c_\pi + A_{\pi,J}^\top\gamma_J\|^2
        \ \text{ s.t. }\ E_J^\top\gamma_J = -c_f,

    whose KKT system is :math:`A_{\pi J}A_{\pi J}^\top\gamma_J + E_J\nu = -A_{\pi J}c_\pi`,
    :math:`E_J^\top\gamma_J = -c_f`.  Returns (gamma, nu) or None if gamma_J < 0.
    """
    AJ, EJ = A_p[J], E[J]
    f = E.shape[1]
    K = np.block([[AJ @ AJ.T, EJ], [EJ.T, np.zeros((f, f))]])
    rhs = np.concatenate([-AJ @ c_p, -c_f])
    sol = np.linalg.lstsq(K, rhs, rcond=None)[0]
    gJ, nu = sol[: J.size], sol[J.size:]
    tiny = FEAS_TOL * max(float(np.max(np.abs(rhs), initial=0.0)), 1.0)
    if np.any(gJ < -tiny):
        return None
    gJ = np.maximum(gJ, 0.0)  # roundoff only; the equality is re-checked by the caller
    gamma = np.zeros(A_p.shape[0])
    gamma[J] = gJ
    return gamma, nu


def _repair(E: np.ndarray, c_f: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    r"""Change gamma (keeping it >= 0) so that :math:`c_f + E^\top\gamma = 0` holds to
    roundoff: first add :math:`\delta = \mathrm{NNLS}(E^\top, -e)`; if that cannot close
    the residual e, allow decreases down to 0 (bounded least squares)."""
    from scipy.optimize import lsq_linear

    e = c_f + E.T @ gamma
    if not np.any(e):
        return gamma
    delta, rnorm = nnls(E.T, -e)
    if rnorm > 0:
        delta = lsq_linear(E.T, -e, bounds=(-gamma, np.inf), method="bvls").x
    return np.maximum(gamma + delta, 0.0)


def _support_free(A: np.ndarray, c: np.ndarray, free: np.ndarray) -> tuple[float, float, np.ndarray]:
    r"""Free coordinates :math:`\bar\pi` (equality :math:`E^\top\gamma = -c_f`, with
    :math:`E = A_{:,\bar\pi}`):

    1. weighted NNLS :math:`\min_{\gamma\ge0}\|W(c + A^\top\gamma)\|`,
       :math:`W = \mathrm{diag}(1_\pi, M 1_{\bar\pi})` (Lawson-Hanson weighting), which
       finds the active set :math:`J = \{\gamma_j > 0\}`;
    2. the exact equality-constrained solve on J (:func:`_polish`); its multiplier
       :math:`\nu` gives the primal point :math:`u = (r_\pi, \nu)/\|r_\pi\|`, feasible
       because :math:`A_\pi r_\pi + E\nu = \eta \ge 0` (KKT), with
       :math:`c^\top u = \|r_\pi\|` (complementarity);
    3. if the polish fails, the weighted gamma is repaired to satisfy the equality
       (:func:`_repair`) -- still a valid, slightly looser, upper bound.
    """
    pen = ~free
    A_p, E, c_p, c_f = A[:, pen], A[:, free], c[pen], c[free]
    scale = max(float(np.linalg.norm(c)), float(np.max(np.abs(A), initial=0.0)), 1.0)
    if A.shape[0] == 0:
        if np.any(c_f):
            return np.inf, np.inf, np.zeros_like(c)  # unbounded along a free coordinate
        nrm = float(np.linalg.norm(c_p))
        return nrm, nrm, (np.where(pen, c, 0.0) / nrm if nrm > 0 else np.zeros_like(c))
    w = np.where(free, _FREE_WEIGHT, 1.0)
    gamma, _ = nnls(A.T * w[:, None], -(w * c))
    lower, u = 0.0, np.zeros_like(c)
    polished = _polish(A_p, E, c_p, c_f, np.flatnonzero(gamma > 0))
    if polished is not None:
        gamma, nu = polished
        r_p = c_p + A_p.T @ gamma
        r_norm = float(np.linalg.norm(r_p))
        if r_norm > FEAS_TOL * scale:
            v = np.zeros_like(c)
            v[pen], v[free] = r_p / r_norm, nu / r_norm
            lower, u = _lower_from(A, c, v)
    else:
        gamma = _repair(E, c_f, gamma)
    r = c + A.T @ gamma
    if np.max(np.abs(r[free])) > FEAS_TOL * scale * (1.0 + float(np.sum(gamma))):
        return np.inf, lower, u  # no dual point: the primal is unbounded along a free coord
    upper = float(np.linalg.norm(r[pen]))
    return upper, min(lower, upper), u


def cone_support(A, c, *, free=None) -> tuple[float, float, np.ndarray]:
    r"""Bounds on :math:`s = \max\{c^\top u : Au \ge 0,\ \|u_\pi\|_2 \le 1\}` (THEORY A.6).

    .. math::
        s = \min_{\gamma\ge0} \|(c + A^\top\gamma)_\pi\|_2
            \ \text{ s.t. }\ (c + A^\top\gamma)_{\bar\pi} = 0
          \;=\; \|\Pi_K(c)\|_2 \ \text{ when every coordinate is penalized.}

    The dual is solved by non-negative least squares (Lawson-Hanson active set, scipy's
    ``nnls``); with free coordinates by the weighting method plus an exact repair of the
    equality.  When :math:`c/\|c\|` already lies in the cone, :math:`\gamma = 0` and no
    solve is needed.

    Parameters
    ----------
    A : array-like of shape (m, k)
        Cone rows: :math:`K = \{u : Au \ge 0\}` (for a pattern, :math:`(2D_i - I)\tilde X`).
    c : array-like of shape (k,)
        Linear objective.
    free : array-like of bool, shape (k,), optional
        Unpenalized coordinates :math:`\bar\pi` (e.g. a free hidden bias); ``None``: all
        coordinates are in the norm.

    Returns
    -------
    upper : float
        :math:`\|(c + A^\top\gamma)_\pi\|` for a dual-feasible :math:`\gamma \ge 0` (always
        :math:`\ge s`); ``inf`` when no :math:`\gamma` meets the free equality (the
        maximum is then unbounded).
    lower : float
        :math:`c^\top u \le s` (0 when the returned u is 0).
    u : ndarray of shape (k,)
        The feasible point attaining ``lower`` (:math:`Au \ge 0` to roundoff,
        :math:`\|u_\pi\| \le 1`).

    Examples
    --------
    >>> import numpy as np
    >>> upper, lower, u = cone_support(np.array([[1.0, 0.0]]), np.array([-1.0, 1.0]))
    >>> round(upper, 12), round(lower, 12), u.round(12)
    (1.0, 1.0, array([0., 1.]))
    """
    A, c = _check_Ac(A, c)
    mask = _as_free_mask(free, c.shape[0])
    if mask is None:
        return _support_plain(A, c)
    return _support_free(A, c, mask)


#: Unsolved (pattern, sign) pairs from which :func:`pattern_supports` projects in batches
#: on torch (:func:`convexnn.solvers.cone_projection.project_cones`) instead of one NNLS each.
#: The batched method pays a fixed cost per active-set step (0.4-0.7 ms, up to 8 d' steps
#: until its slowest pair finishes) where one NNLS costs about 1 ms: breast cancer (d' =
#: 31), 20 pairs 0.17 s batched against about 0.02 s by NNLS; diabetes (d' = 11), 128
#: pairs about 0.09 s either way, 600 pairs 0.32-0.48 s batched against 0.63-0.71 s.
BATCH_MIN = 128
#: Pairs per batch (in decreasing order of the cheap bound, so that pruning still applies).
BATCH_SIZE = 1024


def _batched_supports(Xt, C, D, order, cheap, upper, lower, U, solved, best, prune) -> float:
    r"""Step 3 of :func:`pattern_supports` without free coordinates, batched: the
    projections :math:`\Pi_{K_i}(\pm c_i)` of all unsolved pairs by the dual active-set
    method on torch.  Each gives :math:`\|\Pi_{K_i}(\pm c_i)\|` exactly (upper = lower
    after the feasibility re-check in numpy); a pair the method leaves unfinished keeps
    its cheap bound and ``solved`` False, for the NNLS loop.  Fills the arrays in place;
    returns the best lower bound."""
    import torch

    from ..core.threads import limit_torch
    from ..solvers.cone_projection import project_cones

    with limit_torch(1, n_samples=Xt.shape[0]):
        Xt_t = torch.as_tensor(Xt)
        D_t = torch.as_tensor(D)
        S = 2.0 * D - 1.0
        pairs = [(int(i), col) for i in order for col in (0, 1) if not solved[i, col]]
        for lo in range(0, len(pairs), BATCH_SIZE):
            chunk = pairs[lo:lo + BATCH_SIZE]
            if prune and cheap[chunk[0][0]] <= best:
                break
            idx = np.array([i for i, _ in chunk])
            sgn = np.array([1.0 if col == 0 else -1.0 for _, col in chunk])
            Cb = sgn[:, None] * C[idx]
            res = project_cones(Xt_t, D_t, torch.as_tensor(idx), torch.as_tensor(Cb))
            u = res.u.numpy()
            exact = res.exact.numpy()
            norms = np.linalg.norm(u, axis=1)
            ok = exact & (norms > FEAS_TOL * np.maximum(cheap[idx], 1e-300))
            unit = u / np.where(ok, norms, 1.0)[:, None]
            # re-check A u >= 0 in numpy (the _lower_from test, for the whole batch)
            Z = S[:, idx] * (Xt @ unit.T)
            feas = np.all(Z >= -FEAS_TOL * np.linalg.norm(Xt, axis=1)[:, None], axis=0)
            val = np.einsum("bk,bk->b", Cb, unit)
            for b, (i, col) in enumerate(chunk):
                if not exact[b]:
                    continue  # the NNLS loop finishes it
                upper[i, col] = min(float(norms[b]), float(cheap[i]))
                solved[i, col] = True
                if ok[b] and feas[b] and val[b] > 0:  # else s = 0 (c in the polar cone) or no point
                    lower[i, col], U[i, col] = min(float(val[b]), upper[i, col]), unit[b]
                    best = max(best, lower[i, col])
    return best


class PatternSupports(NamedTuple):
    r"""Per-pattern bounds of :math:`s_{i,\pm} = \max_{u\in K_i,\|u_\pi\|\le1} \pm c_i^\top u`.

    ``upper``/``lower`` have shape (P, 2) (column 0: sign +, column 1: sign -);
    ``solved[i, k]`` is False where the pattern was skipped because its cheap upper bound
    could not beat the best lower bound found (``upper`` then holds that cheap bound).
    ``U`` (P, 2, k) holds the feasible points attaining ``lower``.
    """

    upper: np.ndarray
    lower: np.ndarray
    U: np.ndarray
    solved: np.ndarray

    @property
    def max_upper(self) -> float:
        return float(np.max(self.upper, initial=0.0))

    @property
    def max_lower(self) -> float:
        return float(np.max(self.lower, initial=0.0))

    def argmax_lower(self) -> tuple[int, int]:
        """(pattern index, sign column) of the largest lower bound."""
        i, k = np.unravel_index(int(np.argmax(self.lower)), self.lower.shape)
        return int(i), int(k)


def _cheap_upper(Xt: np.ndarray, C: np.ndarray, D: np.ndarray, free: np.ndarray | None) -> np.ndarray:
    r"""A valid upper bound per pattern without a solve (the same for both signs).

    No free coordinates: :math:`\gamma = 0` gives :math:`\|c_i\|`.  A free bias
    coordinate b: for a pattern with rows on *and* off, :math:`|b| \le R =
    \max_j\|\tilde x_{j,\pi}\|` on the cone, so :math:`s \le \|c_{i,\pi}\| + |c_{i,b}| R`;
    a pattern with every row on leaves b unbounded above, so the bound is infinite unless
    :math:`c_{i,b} = 0` (to roundoff).
    """
    if free is None:
        return np.linalg.norm(C, axis=1)
    pen = ~free
    base = np.linalg.norm(C[:, pen], axis=1)
    R = float(np.max(np.linalg.norm(Xt[:, pen], axis=1), initial=0.0))
    cb = np.sum(np.abs(C[:, free]), axis=1)
    bound = base + cb * R
    one_sided = D.all(axis=0) | (~D).all(axis=0)
    tiny = FEAS_TOL * max(float(np.max(np.abs(C), initial=0.0)), 1.0)
    bound[one_sided & (cb > tiny)] = np.inf
    return bound


def pattern_supports(Xt, lam, D, *, free=None, prune: bool = True,
                     enough: float | None = None) -> PatternSupports:
    r"""Cone supports :math:`s_{i,\pm} = \max\{\pm\lambda^\top D_i\tilde X u :
    (2D_i - I)\tilde Xu \ge 0, \|u_\pi\| \le 1\}` for every pattern (THEORY A.7 step 2).

    Then :math:`\max_{\|u_\pi\|\le1} |\lambda^\top(\tilde Xu)_+| \le \max_{i,\pm}` upper
    when the patterns are exhaustive, and :math:`\ge \max_{i,\pm}` lower always.

    1. :math:`c_i = \tilde X^\top D_i \lambda` for all patterns at once (one matmul).
    2. Where :math:`\pm c_i` is itself in the cone (vectorized test
       :math:`\pm(2D_i - I)\tilde Xc_i \ge 0`), :math:`s = \|c_i\|` with no solve.
    3. The rest are solved with :func:`cone_support` in decreasing order of a cheap upper
       bound (:func:`_cheap_upper`); with ``prune``, once that bound falls below the best
       lower bound found the remaining patterns cannot raise the maximum and are skipped.

    Parameters
    ----------
    Xt : ndarray of shape (n, k)
        Lifted data :math:`\tilde X`.
    lam : ndarray of shape (n,)
        Dual point :math:`\lambda`.
    D : ndarray of bool, shape (n, P)
        Patterns, one per column.
    free : ndarray of bool, shape (k,), optional
        Free (unpenalized) coordinates of u.
    prune : bool, default=True
        Skip patterns whose cheap bound cannot beat the best lower bound.
    enough : float, optional
        Stop solving once a lower bound above this is known (a refutation); the
        unsolved patterns keep their cheap upper bounds (valid) and ``solved`` False.

    Returns
    -------
    PatternSupports
    """
    Xt = np.asarray(Xt, dtype=np.float64)
    lam = np.asarray(lam, dtype=np.float64)
    D = np.asarray(D, dtype=bool)
    n, k = Xt.shape
    if lam.shape != (n,):
        raise ValueError(f"lam must have shape ({n},); got {lam.shape}")
    if D.ndim != 2 or D.shape[0] != n:
        raise ValueError(f"D must have shape ({n}, P); got {D.shape}")
    free = _as_free_mask(free, k)
    P = D.shape[1]
    C = (D * lam[:, None]).T @ Xt  # row i: c_i = Xt^T D_i lam
    S = 2.0 * D - 1.0
    upper = np.zeros((P, 2))
    lower = np.zeros((P, 2))
    U = np.zeros((P, 2, k))
    solved = np.zeros((P, 2), dtype=bool)
    cheap = _cheap_upper(Xt, C, D, free)
    upper[:] = cheap[:, None]
    if free is None:
        # step 2: +c_i in K_i iff S_i * (Xt c_i) >= 0; -c_i iff S_i * (Xt c_i) <= 0
        Z = S * (Xt @ C.T)
        tol = FEAS_TOL * np.linalg.norm(Xt, axis=1)[:, None] * cheap[None, :]
        for col, inside in ((0, np.all(Z >= -tol, axis=0)), (1, np.all(Z <= tol, axis=0))):
            idx = np.flatnonzero(inside & (cheap > 0))
            sign = 1.0 if col == 0 else -1.0
            lower[idx, col] = cheap[idx]
            U[idx, col] = sign * C[idx] / cheap[idx, None]
            solved[idx, col] = True
        solved[cheap == 0] = True
    best = float(np.max(lower, initial=0.0))
    done = lambda: enough is not None and best > enough  # noqa: E731
    order = np.argsort(-cheap, kind="stable")
    if free is None and int((~solved).sum()) >= BATCH_MIN and not done():
        best = _batched_supports(Xt, C, D, order, cheap, upper, lower, U, solved, best, prune)
    for i in order:
        if (prune and cheap[i] <= best) or done():
            break
        A = S[:, i, None] * Xt
        for col, sign in ((0, 1.0), (1, -1.0)):
            if solved[i, col]:
                continue
            up, lo, u = cone_support(A, sign * C[i], free=free)
            upper[i, col], lower[i, col], U[i, col] = min(up, cheap[i]), lo, u
            solved[i, col] = True
            best = max(best, lo)
    return PatternSupports(upper, lower, U, solved)


__all__ = ["cone_support", "pattern_supports", "PatternSupports", "FEAS_TOL"]
