"""Brute-force ground truth for small problems, independent of convexnn's own code: the
activation patterns by one LP per sign vector, and the convex programs written directly in
cvxpy (Pilanci & Ergen 2020; Mishkin et al. 2022)."""

from __future__ import annotations

import itertools

import cvxpy as cp
import numpy as np
from scipy.optimize import linprog


def lp_patterns(X: np.ndarray) -> np.ndarray:
    """Every pattern 1[Xu >= 0] of a full-dimensional cell (n, P): an LP per sign vector of
    the distinct nonzero rows (rows equal up to a positive or negative factor merged)."""
    norms = np.linalg.norm(X, axis=1)
    nz = norms > 1e-12
    U = X[nz] / norms[nz, None]
    reps: list[np.ndarray] = []
    rep_of, orient = np.zeros(len(U), int), np.zeros(len(U))
    for j, u in enumerate(U):
        for k, v in enumerate(reps):
            if np.allclose(u, v, atol=1e-9) or np.allclose(u, -v, atol=1e-9):
                rep_of[j], orient[j] = k, (1.0 if np.allclose(u, v, atol=1e-9) else -1.0)
                break
        else:
            rep_of[j], orient[j] = len(reps), 1.0
            reps.append(u)
    A = np.array(reps).reshape(len(reps), X.shape[1])
    cols = {}
    for s in itertools.product((1.0, -1.0), repeat=len(reps)):
        s = np.array(s)
        res = linprog(np.zeros(X.shape[1]), A_ub=-(s[:, None] * A), b_ub=-np.ones(len(s)),
                      bounds=[(None, None)] * X.shape[1], method="highs")
        if res.status == 0:
            D = np.ones(X.shape[0], bool)
            D[nz] = orient * s[rep_of] > 0
            cols[D.tobytes()] = D
    return np.array(list(cols.values())).T.reshape(X.shape[0], -1)


def loss_expr(z, y: np.ndarray, loss: str):
    if loss == "squared":
        return 0.5 * cp.sum_squares(z - y)
    if loss == "logistic":
        return cp.sum(cp.logistic(-cp.multiply(y, z)))
    return cp.sum(cp.pos(1 - cp.multiply(y, z)))


def loss_value(z: np.ndarray, y: np.ndarray, loss: str) -> float:
    if loss == "squared":
        return 0.5 * float(np.sum((z - y) ** 2))
    if loss == "logistic":
        return float(np.sum(np.logaddexp(0.0, -y * z)))
    return float(np.sum(np.maximum(0.0, 1 - y * z)))


def convex_optimum(X, y, *, beta, model, loss, bias, skip, output_bias) -> float | None:
    r"""The optimum of C-ReLU / C-GReLU over every pattern of :math:`\tilde X`:

    .. math:: \min \ell\Big(\sum_i D_i\tilde X(v_i - w_i) + Xs + c\Big)
              + \beta\sum_i (\|v_{i,\pi}\| + \|w_{i,\pi}\|),
              \quad (2D_i - I)\tilde X v_i \ge 0,\ (2D_i - I)\tilde X w_i \ge 0

    (gated: one unconstrained :math:`u_i` per pattern); :math:`\pi` drops a free bias.
    None when Clarabel cannot solve it accurately (e.g. logistic loss with a free constant
    and one label: the infimum 0 is not attained)."""
    n, d = X.shape
    Xt = X if bias == "none" else np.hstack([X, np.ones((n, 1))])
    D = lp_patterns(Xt)
    D = D[:, D.any(axis=0)]
    P, k = D.shape[1], Xt.shape[1]
    pen = slice(0, d) if bias == "free" else slice(0, k)
    z = 0
    cons, reg = [], 0
    if model == "relu":
        V, W = cp.Variable((k, P)), cp.Variable((k, P))
        for i in range(P):
            z = z + (Xt * D[:, i:i + 1]) @ (V[:, i] - W[:, i])
            S = (2.0 * D[:, i] - 1.0)[:, None] * Xt
            cons += [S @ V[:, i] >= 0, S @ W[:, i] >= 0]
            reg = reg + cp.norm(V[pen, i]) + cp.norm(W[pen, i])
    else:
        U = cp.Variable((k, P))
        for i in range(P):
            z = z + (Xt * D[:, i:i + 1]) @ U[:, i]
            reg = reg + cp.norm(U[pen, i])
    if skip:
        z = z + X @ cp.Variable(d)
    if output_bias or bias == "free":
        z = z + cp.Variable() * np.ones(n)
    prob = cp.Problem(cp.Minimize(loss_expr(z, y, loss) + beta * reg), cons)
    prob.solve(solver=cp.CLARABEL)
    return float(prob.value) if prob.status == "optimal" else None


def network_objective(net, X, y, *, beta, loss, bias) -> float:
    r""":math:`\ell(f(X); y) + \tfrac\beta2(\|W_1\|^2 + \|W_2\|^2 [+\|b_1\|^2])` from the
    arrays (not :meth:`Network.objective`)."""
    Z = X @ net.W1.T + net.b1
    H = np.maximum(Z, 0) if net.gates is None else (X @ net.gates.T + net.gate_bias >= 0) * Z
    f = H @ net.W2 + X @ net.skip + net.c0
    sq = np.sum(net.W1 ** 2) + np.sum(net.W2 ** 2) + (np.sum(net.b1 ** 2) if bias == "regularized" else 0)
    return loss_value(f, y, loss) + 0.5 * beta * float(sq)
