r"""Accelerated proximal gradient (FISTA with adaptive restart) for the vector-output
group programs, stopped by a certified duality gap.

The programs have the form

.. math::
    \min_{B, A}\ \ell(\Phi(B) + F A;\ Y) + \beta\,\Omega(B),

with a linear map :math:`\Phi`, free coefficients A on the free-term basis F (skip,
output constant) and a norm :math:`\Omega` that is a sum of group norms (row
:math:`\ell_2` norms for the neuron-generation master, nuclear norms of the per-pattern
blocks for the gated program).  Its dual is
:math:`\max_\Lambda -\ell^*(-\Lambda)` s.t. :math:`\Omega^\circ(\Phi^*\Lambda) \le \beta`,
:math:`F^\top\Lambda = 0`.  Every check takes :math:`\Lambda = -\nabla\ell(\hat Z)`, projects
it onto :math:`F^\top\Lambda = 0`, scales it by :math:`\min(1, \beta/\Omega^\circ(\Phi^*
\Lambda))` and evaluates :math:`-\ell^*(-\Lambda_s)`: a valid lower bound, so the reported
gap is a proof (Beck & Teboulle 2009; O'Donoghue & Candes 2015 for the restart).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..core.losses import Loss
from ..core.solution import ITERATION_LIMIT, OPTIMAL

#: Lipschitz constants of the loss gradients (squared: 1; softmax cross-entropy: 1/2).


@dataclass
class GroupOperator:
    """The linear map, its adjoint, the prox and the norms of one group program."""

    forward: Callable[[np.ndarray], np.ndarray]
    adjoint: Callable[[np.ndarray], np.ndarray]
    prox: Callable[[np.ndarray, float], np.ndarray]
    penalty: Callable[[np.ndarray], float]
    dual_norm: Callable[[np.ndarray], float]
    shape: tuple


@dataclass
class FistaResult:
    B: np.ndarray
    A: np.ndarray
    objective: float
    lower_bound: float
    gap: float
    relative_gap: float
    status: str
    iterations: int
    time: float
    dual: np.ndarray


def free_projector(F: np.ndarray | None) -> np.ndarray | None:
    """Orthonormal basis Q of range(F) (None without free terms)."""
    if F is None or F.shape[1] == 0:
        return None
    U, s, _ = np.linalg.svd(F, full_matrices=False)
    return U[:, s > 1e-10 * s[0]]


def dual_bound(loss: Loss, Z: np.ndarray, Y: np.ndarray, beta: float, Q: np.ndarray | None,
               dual_norm: Callable[[np.ndarray], float]) -> tuple[float, np.ndarray, float]:
    r"""(lower bound, projected :math:`\Lambda`, its dual norm s) from predictions Z:
    :math:`-\ell^*(-\min(1,\beta/s)\Lambda)`, :math:`\Lambda = (I - QQ^\top)(-\nabla\ell(Z))`."""
    lam = -loss.gradient(Z, Y)
    if Q is not None:
        lam = lam - Q @ (Q.T @ lam)
    s = float(dual_norm(lam))
    scale = 1.0 if s <= beta else beta / s
    return -loss.conjugate(-scale * lam, Y), lam, s


def _lipschitz(op: GroupOperator, F: np.ndarray | None, n_out: tuple, rng) -> float:
    """Largest eigenvalue of [Phi, F]^*[Phi, F] by power iteration (with a margin)."""
    B = rng.standard_normal(op.shape)
    A = None if F is None else rng.standard_normal((F.shape[1], n_out[1]))
    lam = 1.0
    for _ in range(60):
        Z = op.forward(B) + (0.0 if A is None else F @ A)
        B2, A2 = op.adjoint(Z), None if A is None else F.T @ Z
        nrm = np.sqrt(np.sum(B2 * B2) + (0.0 if A2 is None else np.sum(A2 * A2)))
        if nrm == 0:
            return 1.0
        lam = nrm / np.sqrt(np.sum(B * B) + (0.0 if A is None else np.sum(A * A)))
        B, A = B2 / nrm, None if A2 is None else A2 / nrm
    return 1.05 * lam


def fista(op: GroupOperator, F: np.ndarray | None, Y: np.ndarray, loss: Loss, beta: float, *,
          B0: np.ndarray | None = None, A0: np.ndarray | None = None, tol: float = 1e-8,
          max_iter: int = 50_000, check_every: int = 10, time_limit: float | None = None,
          seed: int = 0) -> FistaResult:
    r"""Minimize :math:`\ell(\Phi(B) + FA) + \beta\Omega(B)` until the certified relative gap
    :math:`(\text{obj} - \text{LB})/\max(1, |\text{obj}|) \le` ``tol``.

    Status "optimal" means the gap was certified; "iteration_limit" otherwise (the best
    lower bound found is still returned, and valid).
    """
    t0 = time.perf_counter()
    n, c = Y.shape
    q = 0 if F is None else F.shape[1]
    Q = free_projector(F)
    L = loss.lipschitz * _lipschitz(op, F, (n, c), np.random.default_rng(seed))
    step = 1.0 / max(L, 1e-300)
    B = np.zeros(op.shape) if B0 is None else B0.copy()
    A = np.zeros((q, c)) if A0 is None else A0.copy()

    def predict(B, A):
        Z = op.forward(B)
        return Z if F is None else Z + F @ A

    def objective(B, A):
        return loss.value(predict(B, A), Y) + beta * op.penalty(B)

    yB, yA, t = B.copy(), A.copy(), 1.0
    best_lower, lam = -np.inf, np.zeros_like(Y)
    status, it = ITERATION_LIMIT, 0
    obj = objective(B, A)
    if B0 is not None:  # a warm start may already be certified
        lower, lam_now, _ = dual_bound(loss, predict(B, A), Y, beta, Q,
                                       lambda M: op.dual_norm(op.adjoint(M)))
        best_lower, lam = lower, lam_now
        if obj - lower <= tol * max(1.0, abs(obj)):
            return FistaResult(B, A, float(obj), float(lower), float(obj - lower),
                               float((obj - lower) / max(1.0, abs(obj))), OPTIMAL, 0,
                               time.perf_counter() - t0, lam)
    for it in range(1, max_iter + 1):
        G = loss.gradient(predict(yB, yA), Y)
        Bn = op.prox(yB - step * op.adjoint(G), step * beta)
        An = yA if F is None else yA - step * (F.T @ G)
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        # adaptive (gradient) restart: momentum off when it points uphill
        if np.sum((yB - Bn) * (Bn - B)) + np.sum((yA - An) * (An - A)) > 0:
            t_new, yB, yA = 1.0, Bn.copy(), An.copy()
        else:
            w = (t - 1.0) / t_new
            yB, yA = Bn + w * (Bn - B), An + w * (An - A)
        B, A, t = Bn, An, t_new
        if it % check_every == 0 or it == max_iter:
            Z = predict(B, A)
            obj = loss.value(Z, Y) + beta * op.penalty(B)
            lower, lam_now, _ = dual_bound(loss, Z, Y, beta, Q, lambda M: op.dual_norm(op.adjoint(M)))
            if lower > best_lower:
                best_lower, lam = lower, lam_now
            if (obj - best_lower) <= tol * max(1.0, abs(obj)):
                status = OPTIMAL
                break
            if time_limit is not None and time.perf_counter() - t0 > time_limit:
                break
    obj = objective(B, A)
    gap = obj - best_lower
    return FistaResult(B, A, float(obj), float(best_lower), float(gap),
                       float(gap / max(1.0, abs(obj))), status, it, time.perf_counter() - t0, lam)


# ---- the two group structures ---------------------------------------------------------------
def row_group_operator(H: np.ndarray, c: int) -> GroupOperator:
    r"""Master of neuron generation: :math:`\Phi(G) = HG`, :math:`\Omega(G) = \sum_k\|g_k\|_2`
    (row norms), prox = row soft-threshold, dual norm :math:`\max_k \|h_k^\top\Lambda\|`."""

    def prox(G, t):
        nrm = np.linalg.norm(G, axis=1, keepdims=True)
        return G * np.clip(1.0 - t / np.maximum(nrm, 1e-300), 0.0, None)

    return GroupOperator(forward=lambda G: H @ G, adjoint=lambda M: H.T @ M, prox=prox,
                         penalty=lambda G: float(np.sum(np.linalg.norm(G, axis=1))),
                         dual_norm=lambda C: float(np.max(np.linalg.norm(C, axis=1), initial=0.0)),
                         shape=(H.shape[1], c))


def nuclear_group_operator(Xt: np.ndarray, D: np.ndarray, c: int) -> GroupOperator:
    r"""Gated vector program: :math:`\Phi(V) = \sum_i D_i\tilde XV_i`, :math:`\Omega(V) =
    \sum_i\|V_i\|_*`, prox = singular-value soft-threshold per block, dual norm
    :math:`\max_i\|\tilde X^\top D_i\Lambda\|_2`."""
    n, k = Xt.shape
    P = D.shape[1]
    Df = D.astype(np.float64)

    def forward(V):
        T = (Df @ V.reshape(P, k * c)).reshape(n, k, c)
        return np.einsum("nk,nkc->nc", Xt, T)

    def adjoint(M):
        return (Df.T @ (Xt[:, :, None] * M[:, None, :]).reshape(n, k * c)).reshape(P, k, c)

    def prox(V, t):
        U, s, Vt = np.linalg.svd(V, full_matrices=False)
        return np.einsum("pkr,pr,prc->pkc", U, np.clip(s - t, 0.0, None), Vt)

    def penalty(V):
        return float(np.sum(np.linalg.svd(V, compute_uv=False)))

    def dual_norm(C):
        return float(np.max(np.linalg.svd(C, compute_uv=False)[:, 0], initial=0.0))

    return GroupOperator(forward, adjoint, prox, penalty, dual_norm, (P, k, c))


__all__ = ["GroupOperator", "FistaResult", "fista", "dual_bound", "free_projector",
           "row_group_operator", "nuclear_group_operator"]


def _loss_hessian_blocks(loss: Loss, Z: np.ndarray) -> np.ndarray | None:
    r"""Per-row Hessians (n, c, c) of the loss in Z (None for the squared loss: identity)."""
    if loss.constant_hessian:  # the squared loss: identity blocks
        return None
    from ..core.losses import softmax

    S = softmax(Z)
    return S[:, :, None] * np.eye(Z.shape[1])[None] - S[:, :, None] * S[:, None, :]


def newton_polish(H: np.ndarray, F: np.ndarray | None, Y: np.ndarray, loss: Loss, beta: float,
                  G: np.ndarray, A: np.ndarray, *, max_iter: int = 30,
                  passes: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_newton_support` repeated, dropping groups that Newton drives towards zero
    (norm below 1e-6 of the largest) between passes (an active-set loop)."""
    for _ in range(passes):
        G, A = _newton_support(H, F, Y, loss, beta, G, A, max_iter=max_iter)
        nr = np.linalg.norm(G, axis=1)
        small = (nr > 0) & (nr < 1e-6 * max(float(nr.max(initial=0.0)), 1e-300))
        if not small.any():
            break
        G = G.copy()
        G[small] = 0.0
    return G, A


def _newton_support(H: np.ndarray, F: np.ndarray | None, Y: np.ndarray, loss: Loss, beta: float,
                    G: np.ndarray, A: np.ndarray, *, max_iter: int = 30) -> tuple[np.ndarray, np.ndarray]:
    r"""Damped Newton on the group lasso restricted to the support :math:`S = \{k: g_k\ne0\}`
    (groups below 1e-8 of the largest dropped), where :math:`\beta\|g_k\|` is smooth
    (Hessian :math:`\beta(I - \hat g\hat g^\top)/\|g\|`).  Returns the polished (G, A);
    the caller re-checks the certified gap (a wrong support costs time, never validity)."""
    n, c = Y.shape
    nrm0 = np.linalg.norm(G, axis=1)
    S = np.flatnonzero(nrm0 > 1e-8 * max(float(nrm0.max(initial=0.0)), 1e-300))
    q = 0 if F is None else F.shape[1]
    cols = np.hstack([H[:, S], F]) if q else H[:, S]  # (n, m)
    m = cols.shape[1]
    if m == 0:
        return G, A

    def obj(theta):
        T = theta.reshape(m, c)
        return (loss.value(cols @ T, Y)
                + beta * float(np.sum(np.linalg.norm(T[: S.size], axis=1))))

    theta = (np.vstack([G[S], A]) if q else G[S]).ravel()
    f = obj(theta)
    for _ in range(max_iter):
        T = theta.reshape(m, c)
        Z = cols @ T
        grad = cols.T @ loss.gradient(Z, Y)
        Gs = T[: S.size]
        nr = np.linalg.norm(Gs, axis=1)
        if np.any(nr == 0):
            break
        grad[: S.size] += beta * Gs / nr[:, None]
        W = _loss_hessian_blocks(loss, Z)
        if W is None:
            Hm = np.kron(cols.T @ cols, np.eye(c))
        else:
            Hm = np.einsum("ja,jb,jkl->akbl", cols, cols, W).reshape(m * c, m * c)
        ghat = Gs / nr[:, None]
        for k in range(S.size):
            Hm[k * c:(k + 1) * c, k * c:(k + 1) * c] += beta * (np.eye(c) - np.outer(ghat[k], ghat[k])) / nr[k]
        g = grad.ravel()
        try:
            step = -np.linalg.solve(Hm + 1e-12 * max(np.trace(Hm), 1e-300) / (m * c) * np.eye(m * c), g)
        except np.linalg.LinAlgError:
            break
        dec = -(g @ step)
        if not dec > 1e-15 * max(1.0, abs(f)):
            break
        eta, accepted = 1.0, False
        while eta > 1e-4:
            cand = theta + eta * step
            fc = obj(cand)
            if fc <= f - 1e-4 * eta * dec:
                accepted = True
                break
            eta *= 0.5
        if not accepted:
            break
        theta, f = cand, fc
    T = theta.reshape(m, c)
    Gn = np.zeros_like(G)
    Gn[S] = T[: S.size]
    return Gn, (T[S.size:] if q else A)
