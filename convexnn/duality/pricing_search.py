r"""Pricing search: directions u with a large dual-constraint value, batched (THEORY A.10).

For a dual point :math:`\lambda` and a sign :math:`\sigma = \pm1` the search maximizes

.. math::
    f_{\sigma\lambda}(u) = \frac{\sigma\lambda^\top(\tilde Xu)_+}{\|u_\pi\|_2},

whose maximum over both signs is the dual norm s of THEORY A.7 (a value above
:math:`\beta` is a violated dual constraint: its pattern improves the master program).

1. **Annealed ascent** (:func:`anneal`), from random Gaussian starts and from warm starts
   (the current neurons, perturbed, and the violators of earlier rounds): projected
   gradient steps on the sphere

   .. math::
       g = \tilde X^\top(\sigma\lambda\odot 1[\tilde Xu > 0]),\qquad
       u \leftarrow \frac{u + \eta_t\,\hat g_\perp}{\|\cdot\|_\pi},\qquad
       \eta_t = \eta_0(\eta_1/\eta_0)^{t/(T-1)},

   with :math:`\hat g_\perp` the unit tangential part of g.  The geometric step schedule
   explores early (large steps cross many cells) and settles on a local maximum late.  The
   fixed-point ascent :math:`u \leftarrow g/\|g\|` (:mod:`convexnn.duality.pricing`) is the
   step :math:`\eta = \infty`; on the diabetes dual point of THEORY A.11 its 30 steps from
   2,000 starts reach a best value 1.11 beta (median 0.67), the schedule 0.3 -> 1e-3 over
   200 steps 1.349 beta (median 1.05).  The ascent runs in float32 on torch, batched; the
   lower half of the starts is dropped after 30 and again after 60 steps (successive
   halving).  Not earlier: near a converged dual point the early value does not predict
   the final one (breast cancer, d' = 31: keeping the best fifth after 5 steps found
   1.006 beta where the unpruned ascent found 1.042).
2. **Exact cell maxima** over the distinct cells of the best points,
   :math:`\max\{\sigma\lambda^\top D\tilde Xu : (2D - I)\tilde Xu \ge 0, \|u_\pi\|\le 1\}`
   (:func:`convexnn.duality.cones.pattern_supports`), and from the best few a climb into
   neighbouring cells across the facets the maximizer lies on
   (:func:`convexnn.duality.dual_norm._ascend`).
3. Every value returned is **attained**: :math:`|\lambda^\top(\tilde Xu)_+|/\|u_\pi\|`
   recomputed in float64 at the returned u (a lower bound of s).  Nothing here is a
   proof; :mod:`convexnn.duality.branch_bound` gives one at low rank.

Every random step draws from the caller's Generator, the work is counted in starts and
steps (never seconds), and torch runs on the threads the caller set, so the same input
gives the same candidates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.lazy import torch_module as _torch
from ..core.threads import limit_torch
from .cell_search import cell_maxima, climb
from .dual_norm import _ascend
from .pricing import best_bias

#: Entries (rows x samples) of one ascent batch: 2^22 floats, 16 MB in float32.
BATCH_ENTRIES = 1 << 22
#: Ascent points per sign that become candidates (the best; besides the polished cells).
KEEP_POINTS = 1024
#: Directions closer than this (max abs difference, unit norm) are one candidate: a
#: maximizer on the boundary of several cells is found from each of them.
SAME_DIRECTION = 1e-9


@dataclass(frozen=True)
class SearchBudget:
    """The work of one pricing search (counted, never timed).

    Attributes
    ----------
    starts : int
        Random Gaussian starts (each climbs for both signs).
    steps : int
        Steps of the annealed ascent.
    eta : tuple of float
        Step lengths (first, last) of the random starts' geometric schedule.
    warm_steps : int
        Steps of the warm starts' ascent.
    warm_eta : tuple of float
        Their step lengths (already near a maximum: small steps).
    halving : tuple of (int, float)
        (step, fraction kept) of the successive halving of the random starts.
    warm_copies : int
        Perturbed copies of each warm start (plus the start itself).
    warm_noise : float
        Relative size of those perturbations.
    polish : int
        Distinct cells per sign maximized exactly (the best points' cells).
    climb : int
        Cells per sign (the best after polishing) that climb into neighbouring cells.
    climb_rounds : int
        Moves of that climb at most (:func:`climb`).
    """

    starts: int = 4096
    steps: int = 100
    eta: tuple[float, float] = (0.3, 1e-3)
    warm_steps: int = 40
    warm_eta: tuple[float, float] = (0.03, 1e-3)
    halving: tuple[tuple[int, float], ...] = ((30, 0.5), (60, 0.5))
    warm_copies: int = 1
    warm_noise: float = 0.1
    polish: int = 64
    climb: int = 8
    climb_rounds: int = 20

    def scaled(self, factor: float) -> SearchBudget:
        """The same budget with ``factor`` times the random starts."""
        from dataclasses import replace

        return replace(self, starts=max(1, int(round(self.starts * factor))))


@dataclass
class Candidates:
    r"""Directions found by :func:`search`, by decreasing value, one per distinct cell.

    Attributes
    ----------
    values : ndarray (m,)
        Attained :math:`|\lambda^\top(\tilde Xu)_+| / \|u_\pi\|`.
    U : ndarray (m, d')
        The directions, :math:`\|u_\pi\| = 1`.
    signs : ndarray (m,)
        :math:`\mathrm{sign}\,\lambda^\top(\tilde Xu)_+` (+1 or -1).
    starts : int
        Starts climbed (random and warm, each sign counted once per start).
    ascent_steps : int
        Start-steps of the ascent (the work; successive halving makes it less than
        starts x steps).
    cone_solves : int
        Cells maximized exactly.
    """

    values: np.ndarray
    U: np.ndarray
    signs: np.ndarray
    starts: int = 0
    ascent_steps: int = 0
    cone_solves: int = 0

    @property
    def best(self) -> float:
        """The largest value found (0 when nothing was found)."""
        return float(self.values[0]) if self.values.size else 0.0


def attained_values(Xt: np.ndarray, lam: np.ndarray, U: np.ndarray, pen: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    r"""(values, signs): :math:`|\lambda^\top(\tilde Xu)_+| / \|u_\pi\|` and the sign of
    :math:`\lambda^\top(\tilde Xu)_+` for each row u of U (value 0 where
    :math:`u_\pi = 0`), in float64."""
    signed = np.maximum(U @ Xt.T, 0.0) @ lam
    norms = np.linalg.norm(U[:, pen], axis=1)
    vals = np.where(norms > 0, np.abs(signed) / np.where(norms > 0, norms, 1.0), 0.0)
    return vals, np.where(signed >= 0, 1.0, -1.0)


def anneal(Xt: np.ndarray, lam_s: np.ndarray, U0: np.ndarray, *, steps: int,
           eta: tuple[float, float], pen: np.ndarray,
           halving: tuple[tuple[int, float], ...] = ()) -> tuple[np.ndarray, np.ndarray, int]:
    r"""The annealed ascent of :math:`\lambda_s^\top(\tilde Xu)_+/\|u_\pi\|` (module
    docstring, step 1) from each row of ``U0``, in float32 batches.

    Returns (values, points, work): the best value seen per start (float32 estimate;
    ``-inf`` for a start dropped before its first evaluation never happens: every start
    is evaluated at step 0), the point where it was seen (:math:`\|u_\pi\| = 1`), and
    the number of start-steps taken.  A free coordinate (``~pen``) moves with the
    gradient but is not normalized.
    """
    torch = _torch()
    n = Xt.shape[0]
    X = torch.as_tensor(Xt, dtype=torch.float32)
    lam = torch.as_tensor(lam_s, dtype=torch.float32)
    L = lam[:, None] * X
    pen_t = torch.as_tensor(pen)
    rows = max(1, BATCH_ENTRIES // max(n, 1))
    best = np.empty(U0.shape[0], dtype=np.float64)
    bestU = np.empty_like(U0)
    work = 0
    with limit_torch(1, n_samples=n):  # small problems: one thread (see search)
        for lo in range(0, U0.shape[0], rows):
            b, Ub, w = _anneal_batch(torch, X, lam, L, pen_t,
                                     torch.as_tensor(U0[lo:lo + rows], dtype=torch.float32),
                                     steps, eta, dict(halving))
            best[lo:lo + rows], bestU[lo:lo + rows] = b, Ub
            work += w
    return best, bestU, work


def _anneal_batch(torch, X, lam, L, pen, U, steps, eta, halving):
    """One batch of :func:`anneal` (float32 tensors in, float64 arrays out)."""
    U = U / U[:, pen].norm(dim=1, keepdim=True).clamp_min(1e-30)
    best = torch.full((U.shape[0],), -float("inf"))
    bestU = U.clone()
    idx = torch.arange(U.shape[0])
    work = 0
    for t in range(steps):
        step = eta[0] * (eta[1] / eta[0]) ** (t / max(steps - 1, 1))
        Z = U @ X.T
        on = (Z > 0).to(Z.dtype)
        val = (on * Z) @ lam
        work += U.shape[0]
        better = val > best[idx]
        best[idx[better]] = val[better]
        bestU[idx[better]] = U[better]
        if t in halving and U.shape[0] > 1:  # successive halving: keep the best fraction
            keep = torch.topk(val, max(1, int(U.shape[0] * halving[t])), sorted=False).indices
            keep = torch.sort(keep).values  # the batch order stays the starts' order
            U, idx, on = U[keep], idx[keep], on[keep]
        G = on @ L
        Gp = torch.where(pen, G, torch.zeros_like(G))
        Gp = Gp - (Gp * U).sum(dim=1, keepdim=True) * torch.where(pen, U, torch.zeros_like(U))
        G = torch.where(pen, Gp, G)
        U = U + step * G / Gp.norm(dim=1, keepdim=True).clamp_min(1e-30)
        U = U / U[:, pen].norm(dim=1, keepdim=True).clamp_min(1e-30)
    return best.double().numpy(), bestU.double().numpy(), work


def _starts(rng: np.random.Generator, dp: int, budget: SearchBudget, warm: np.ndarray | None,
            warm_signs: np.ndarray | None, pen: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(random starts, warm starts, their signs): Gaussian rows, and each warm row with
    ``warm_copies`` perturbed copies (noise relative to the row's penalized norm); a warm
    row without a sign is tried for both."""
    R = rng.standard_normal((budget.starts, dp))
    if warm is None or not warm.shape[0]:
        return R, np.zeros((0, dp)), np.zeros(0)
    W = np.asarray(warm, dtype=np.float64)
    sg = np.zeros(W.shape[0]) if warm_signs is None else np.asarray(warm_signs, dtype=float)
    both = sg == 0  # tried for both signs: a second copy climbs for -1
    W = np.vstack([W, W[both]])
    sg = np.concatenate([np.where(both, 1.0, sg), -np.ones(int(both.sum()))])
    scale = np.linalg.norm(W[:, pen], axis=1, keepdims=True)
    ok = scale[:, 0] > 0
    W, sg, scale = W[ok], sg[ok], scale[ok]
    copies = [W] + [W + budget.warm_noise * scale * rng.standard_normal(W.shape)
                    for _ in range(budget.warm_copies)]
    return R, np.vstack(copies), np.tile(sg, budget.warm_copies + 1)


def _free_polish(Xt: np.ndarray, lam_s: np.ndarray, U: np.ndarray, pen: np.ndarray) -> np.ndarray:
    """A free bias (the last coordinate) set to its exact best value for each row
    (:func:`convexnn.duality.pricing.best_bias`)."""
    U = U.copy()
    _, b = best_bias(U[:, pen] @ Xt[:, pen].T, lam_s)
    U[:, ~pen] = b[:, None]
    return U


def _first_distinct(D: np.ndarray) -> np.ndarray:
    """Indices of the first column of each distinct column of D, increasing."""
    if not D.shape[1]:
        return np.zeros(0, dtype=int)
    _, first = np.unique(np.packbits(D, axis=0), axis=1, return_index=True)
    return np.sort(first)


def _cells(Xt: np.ndarray, U: np.ndarray, vals: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The cells 1[X~u >= 0] of the best points, distinct, at most k: (D (n, k'), rows of
    U they came from), by decreasing value."""
    order = np.argsort(-vals, kind="stable")[: 8 * k]
    D = (Xt @ U[order].T) >= 0
    keep = _first_distinct(D)[:k]  # first seen = best value
    return D[:, keep], order[keep]


def search(Xt: np.ndarray, lam: np.ndarray, *, rng: np.random.Generator,
           free: np.ndarray | None = None, budget: SearchBudget = SearchBudget(),
           warm: np.ndarray | None = None, warm_signs: np.ndarray | None = None) -> Candidates:
    r"""Directions with large :math:`|\lambda^\top(\tilde Xu)_+|/\|u_\pi\|` (module
    docstring): annealed ascent from ``budget.starts`` Gaussian starts and from ``warm``
    (rows of directions, e.g. the master's neurons and earlier violators), exact maxima
    over the best distinct cells, and a climb into neighbouring cells from the best few.

    Parameters
    ----------
    Xt : ndarray (n, d')
        Lifted data :math:`\tilde X`; a free coordinate must be the last one.
    lam : ndarray (n,)
        Dual point.
    rng : numpy Generator
        Source of every random start.
    free : ndarray of bool (d',), optional
        Unpenalized coordinates (a free hidden bias).
    budget : SearchBudget
    warm : ndarray (m, d'), optional
        Warm starts.
    warm_signs : ndarray (m,), optional
        The sign each warm start climbs for (+1, -1; 0 or None: both).

    Returns
    -------
    Candidates
        One direction per distinct cell, by decreasing attained value.

    Notes
    -----
    Below :data:`convexnn.core.threads.SMALL_SAMPLES` samples torch runs on one thread
    inside (:func:`convexnn.core.threads.limit_torch`): on 2 shared cores at load 6 a
    search of 256 starts over 18 samples took 0.2-0.3 s on one thread, 4 s on two.
    """
    Xt = np.asarray(Xt, dtype=np.float64)
    lam = np.asarray(lam, dtype=np.float64)
    with limit_torch(1, n_samples=Xt.shape[0]):
        return _search(Xt, lam, rng, free, budget, warm, warm_signs)


def _search(Xt, lam, rng, free, budget, warm, warm_signs) -> Candidates:
    """The body of :func:`search` (validated arrays)."""
    dp = Xt.shape[1]
    fm = free if free is not None and free.any() else None
    pen = np.ones(dp, bool) if fm is None else ~fm
    R, W, Wsg = _starts(rng, dp, budget, warm, warm_signs, pen)
    pts, work, solves = [], 0, 0
    for sign in (1.0, -1.0):
        lam_s = sign * lam
        v, U, w = anneal(Xt, lam_s, R, steps=budget.steps, eta=budget.eta, pen=pen,
                         halving=budget.halving)
        work += w
        Ws = W[Wsg == sign]
        if Ws.shape[0]:
            vw, Uw, w = anneal(Xt, lam_s, Ws, steps=budget.warm_steps, eta=budget.warm_eta,
                               pen=pen)
            v, U, work = np.concatenate([v, vw]), np.vstack([U, Uw]), work + w
        if fm is not None:
            U = _free_polish(Xt, lam_s, U, pen)
        v = attained_values(Xt, lam_s, U, pen)[0]
        pts.append(U[np.argsort(-v, kind="stable")[: KEEP_POINTS]])
        cell_U, n_solved = _polish(Xt, lam_s, U, v, fm, pen, budget)
        pts.append(cell_U)
        solves += n_solved
    return _collect(Xt, lam, np.vstack(pts), pen, R.shape[0] + W.shape[0], work, solves)


def _polish(Xt, lam_s, U, v, fm, pen, budget) -> tuple[np.ndarray, int]:
    """Exact maxima over the best distinct cells for sign ``lam_s``, and the climb from
    the best ``budget.climb`` of them: (points, cells solved)."""
    if budget.polish <= 0 or not U.shape[0]:
        return np.zeros((0, Xt.shape[1])), 0
    D, _ = _cells(Xt, U, v, budget.polish)
    P = cell_maxima(Xt, lam_s, D, fm)
    signed = np.maximum(P @ Xt.T, 0.0) @ lam_s  # ||u_pi|| = 1 or u = 0
    top = np.argsort(-signed, kind="stable")[: budget.climb]
    top = top[signed[top] > 0]
    if fm is not None:  # free bias: the sequential climb of the certificate's search
        climbed = [_ascend(Xt, lam_s, D[:, i].copy(), 1, P[i], fm, pen)[1] for i in top]
        return np.vstack([P[signed > 0]] + [u[None, :] for u in climbed]), D.shape[1]
    Uc, solves = climb(Xt, lam_s, D[:, top], P[top], rounds=budget.climb_rounds)
    return np.vstack([P[signed > 0], Uc]), D.shape[1] + solves


def _collect(Xt, lam, P, pen, starts, work, solves) -> Candidates:
    """Candidates from the points P: attained values, one per distinct cell (the best)."""
    if not P.shape[0]:
        z = np.zeros(0)
        return Candidates(z, np.zeros((0, Xt.shape[1])), z, starts, work, solves)
    vals, signs = attained_values(Xt, lam, P, pen)
    norms = np.linalg.norm(P[:, pen], axis=1)
    ok = (norms > 0) & (vals > 0)
    P, vals, signs = P[ok] / norms[ok, None], vals[ok], signs[ok]
    order = np.argsort(-vals, kind="stable")
    P, vals, signs = P[order], vals[order], signs[order]
    keep = _first_distinct((Xt @ P.T) >= 0)
    _, first = np.unique(np.round(P[keep] / SAME_DIRECTION), axis=0, return_index=True)
    keep = keep[np.sort(first)]
    return Candidates(vals[keep], P[keep], signs[keep], starts, work, solves)


__all__ = ["Candidates", "SearchBudget", "anneal", "attained_values", "search"]
