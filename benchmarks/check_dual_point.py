r"""An independent referee for a dual point: how far above beta does it reach?

For a dual point :math:`\lambda` of the two-layer program (THEORY A.7) the constraint is

.. math::
    s(\lambda) = \max_{\|u\|_2 \le 1} |\lambda^\top(\tilde Xu)_+| \le \beta .

This script searches for large values of :math:`|\lambda^\top(\tilde Xu)_+|` *without any
of convexnn's pricing code* (it is the referee of :mod:`convexnn.duality.pricing_search`):

1. random Gaussian starts, for each sign :math:`\sigma`, climb by the fixed-point ascent
   :math:`u \leftarrow \tilde X^\top(\sigma\lambda\odot 1[\tilde Xu > 0]) / \|\cdot\|`
   (the best point seen per start is kept);
2. the exact maximum over each distinct cell reached,
   :math:`\max\{\sigma\lambda^\top D\tilde Xu : (2D - I)\tilde Xu \ge 0, \|u\| \le 1\}
   = \|\Pi_K(c)\|` with :math:`c = \sigma\tilde X^\top D\lambda`, by scipy's NNLS
   (:math:`\Pi_K(c) = c + A^\top\gamma`, :math:`\gamma = \arg\min_{\gamma\ge0}\|c +
   A^\top\gamma\|`, :math:`A = (2D - I)\tilde X`);
3. from the best cells, a hill climb over neighbouring cells: the rows tied at the cell's
   maximizer (:math:`\tilde x_j^\top u^\star = 0`) are flipped one at a time and all
   together; a neighbour contains :math:`u^\star`, so its maximum is at least as large.

Every value reported is *attained*: :math:`|\lambda^\top(\tilde Xu)_+| / \|u\|` recomputed at
the returned u, so the result is a lower bound of s whatever the roundoff.  Every
coordinate of u is penalized (``bias="none"`` or ``"regularized"``); a free hidden bias
is not supported.

Usage (fits the data set with the default ``fit`` and referees its dual point)::

    python benchmarks/check_dual_point.py diabetes --starts 20000 --seeds 0 1
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

#: Rows of one block of starts in the batched ascent (memory: block x n floats).
BLOCK = 2048


@dataclass
class RefereeResult:
    """The largest attained :math:`|\\lambda^\\top(\\tilde Xu)_+|/\\|u\\|` and where."""

    value: float
    u: np.ndarray
    sign: int
    #: best value after the ascent alone, after the exact cell maxima, after the climb
    ascent_value: float
    cell_value: float
    cells: int
    time: float


def attained(Xt: np.ndarray, lam: np.ndarray, u: np.ndarray) -> float:
    r""":math:`|\lambda^\top(\tilde Xu)_+| / \|u\|` (0 at u = 0)."""
    nrm = float(np.linalg.norm(u))
    return abs(float(lam @ np.maximum(Xt @ u, 0.0))) / nrm if nrm > 0 else 0.0


def _ascent(Xt, lam_s, U, steps):
    """Best (value, point) per row of U under the fixed-point ascent for lam_s."""
    L = lam_s[:, None] * Xt
    best = np.full(U.shape[0], -np.inf)
    bestU = U.copy()
    for lo in range(0, U.shape[0], BLOCK):
        V = U[lo:lo + BLOCK]
        for _ in range(steps + 1):
            V = V / np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-300)
            Z = V @ Xt.T
            on = (Z > 0).astype(np.float64)
            val = (on * Z) @ lam_s
            seg = slice(lo, lo + V.shape[0])
            imp = val > best[seg]
            best[seg][imp] = val[imp]
            bestU[seg][imp] = V[imp]
            G = on @ L
            ok = np.linalg.norm(G, axis=1) > 0
            V = np.where(ok[:, None], G, V)
    return best, bestU


def cell_max(Xt: np.ndarray, lam_s: np.ndarray, D: np.ndarray) -> tuple[float, np.ndarray]:
    r"""(attained value, u) of :math:`\max\{\lambda_s^\top D\tilde Xu : u\in K_D, \|u\|\le1\}`
    by NNLS for the projection onto :math:`K_D`; the value is recomputed at u as
    :math:`\lambda_s^\top(\tilde Xu)_+` (a lower bound of s even if u left the cell)."""
    A = (2.0 * D - 1.0)[:, None] * Xt
    c = Xt.T @ (D * lam_s)
    if not np.any(c):
        return 0.0, np.zeros(Xt.shape[1])
    gamma, _ = nnls(A.T, -c, maxiter=50 * A.shape[0])
    r = c + A.T @ gamma
    nrm = float(np.linalg.norm(r))
    if nrm == 0.0:
        return 0.0, np.zeros(Xt.shape[1])
    u = r / nrm
    return float(lam_s @ np.maximum(Xt @ u, 0.0)), u


def _climb(Xt, lam_s, D, val, u, rounds=30, tie=1e-7):
    """Hill climb over neighbouring cells from (D, val, u): flip the rows tied at u."""
    rown = np.linalg.norm(Xt, axis=1)
    for _ in range(rounds):
        tied = np.flatnonzero(np.abs(Xt @ u) <= tie * rown)
        if not tied.size:
            break
        flips = [[j] for j in tied] + ([list(tied)] if tied.size > 1 else [])
        best = (val, None, None)
        for f in flips:
            Dn = D.copy()
            Dn[f] = ~Dn[f]
            v, un = cell_max(Xt, lam_s, Dn)
            if v > best[0] * (1 + 1e-12) + 1e-15:
                best = (v, Dn, un)
        if best[1] is None:
            break
        val, D, u = best
    return val, u


def referee(Xt: np.ndarray, lam: np.ndarray, *, starts: int = 20_000, steps: int = 30,
            seed: int = 0, cells: int | None = 4000, climb: int = 64) -> RefereeResult:
    r"""Search :math:`\max_{\|u\|\le1}|\lambda^\top(\tilde Xu)_+|` from ``starts`` random
    Gaussian starts per sign (module docstring): the exact maxima of the ``cells`` distinct
    cells per sign with the best ascent values (None: every cell reached), then the
    ``climb`` best of those climb to neighbours.  Returns the best attained value (a
    lower bound of s)."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    U0 = rng.standard_normal((starts, Xt.shape[1]))
    best = (-np.inf, None, 1)
    asc_best = cell_best = -np.inf
    n_cells = 0
    for sign in (1, -1):
        lam_s = sign * lam
        vals, U = _ascent(Xt, lam_s, U0, steps)
        asc_best = max(asc_best, float(vals.max()))
        D = (U @ Xt.T) >= 0
        _, first = np.unique(np.packbits(D, axis=1), axis=0, return_index=True)
        first = first[np.argsort(-vals[first], kind="stable")][:cells]
        found = []
        for i in first:
            v, u = cell_max(Xt, lam_s, D[i])
            v0 = float(vals[i])
            if v0 > v:  # the ascent's own point is better (it may sit on a boundary)
                v, u = v0, U[i] / np.linalg.norm(U[i])
            found.append((v, i, u))
        n_cells += len(found)
        found.sort(key=lambda c: -c[0])
        cell_best = max(cell_best, found[0][0])
        for v, _, u in found[:climb]:
            v, u = _climb(Xt, lam_s, (Xt @ u) >= 0, v, u)
            a = attained(Xt, lam, u)
            if a > best[0]:
                best = (a, u, sign)
    return RefereeResult(best[0], best[1], best[2], asc_best, cell_best, n_cells,
                         time.perf_counter() - t0)


def _dual_point(res) -> np.ndarray:
    """lambda = -grad loss(y_hat) of a FitResult's master, projected on its free terms."""
    from convexnn.duality.dual_points import dual_box, project_dual

    prog = res.program
    pred = prog.predict(res.solution)
    lo, hi = dual_box(prog.loss, prog.y)
    return project_dual(-prog.loss.gradient(pred, prog.y), prog.free_basis, lo, hi)


def main() -> None:  # pragma: no cover - a script
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from bench_global import load

    import convexnn as cn

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("problem")
    ap.add_argument("--starts", type=int, default=20_000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--time-limit", type=float, default=None)
    args = ap.parse_args()
    X, y, loss, beta, note = load(args.problem, 10_000)
    t0 = time.perf_counter()
    res = cn.fit(X, y, beta=beta, loss=loss, bias="regularized", certify=False,
                 time_limit=args.time_limit)
    print(f"{args.problem} ({note}): fit {res.objective:.6f} in {time.perf_counter() - t0:.1f}s")
    Xt = np.hstack([X, np.ones((X.shape[0], 1))])
    lam = _dual_point(res)
    for s in args.seeds:
        r = referee(Xt, lam, starts=args.starts, seed=s)
        print(f"  referee seed {s}: s/beta = {r.value / beta:.6f} (ascent "
              f"{r.ascent_value / beta:.6f}, cells {r.cell_value / beta:.6f}, {r.cells} cells, "
              f"{r.time:.1f}s)")


if __name__ == "__main__":
    main()
