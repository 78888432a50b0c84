r"""Group generation for the three-layer program beyond tiny n (THEORY E.1, A.10).

The exact program of :mod:`convexnn.three_layer.program` enumerates both pattern levels,
which is only possible for tiny n.  Here the program is solved over a growing set S of
groups :math:`g = (\tau, D_2)` (block list of m first-level (pattern, sign) pairs and a
second-level pattern), by column generation:

1. **Seed.**  S holds the groups of a few short L-BFGS runs of the non-convex parallel
   network and of random sub-networks.  Every network whose sub-networks map into S is a
   feasible point of the program over S with the same cost (the path norm), so the
   master optimum :math:`p_S` is at most the objective of each of these networks.
2. **Master.**  Solve the program over S (cvxpy + Clarabel) and recover the network;
   :math:`\lambda = -\nabla\ell(\hat y)`.
3. **Pricing.**  The dual constraint of group g and output sign :math:`\sigma` is

   .. math::
       \max\{\sigma\lambda^\top D_{2,g}h_g(z) : z \in C_g,\ \rho(z) \le 1\} \le \beta,

   i.e. (union over the groups) :math:`\sigma\lambda^\top(h)_+ \le \beta R` for every
   sub-network :math:`h = \sum_j c_j(Xw_j)_+`, :math:`R = \|(\|w_j\|c_j)_j\|_{1|2}`.
   It is searched by the fixed-point ascent of :mod:`convexnn.duality.pricing` lifted to two
   levels (:func:`ascend_subnetworks`): with :math:`\mu = \sigma\lambda\odot D_2`
   (:math:`D_2 = 1[h > 0]`),

   .. math::
       w_j \leftarrow \frac{X^\top(\mathrm{sign}(c_j)\,\mu\odot 1[Xw_j > 0])}{\|\cdot\|},
       \qquad c_j \leftarrow \mu^\top(Xw_j)_+ \ \ (\text{then } \rho(c) = 1),

   the maximizer of the linearization at the current pair of cells.  Any sub-network
   with value :math:`> \beta` is a violated constraint of its own group (it is a feasible
   point of it), which joins S; for the l2 path its group's exact maximum is then
   computed (:func:`convexnn.duality.cones.cone_support`).
4. **Descent.**  L-BFGS from the recovered network plus the violators as small new
   sub-networks; the groups of the network it reaches join S, so the next master is at
   most its objective.
5. Repeat until pricing finds no violation and descent no decrease, or a budget ends.

The result is optimal **over the generated groups only**.  The certificate gives a
*valid global* lower bound by a relaxation of the dual constraint (:func:`relaxed_dual_norm`):
for :math:`\sigma = +1` and :math:`h = P - N` (positive and negative second-layer weights),
:math:`\lambda^\top(h)_+ \le \min(p\,\nu(\lambda^+),\ p\,\nu(\lambda) + q\,\nu(\lambda^-))`
with :math:`\nu(\mu) = \max_{\|u\| \le 1}\mu^\top(Xu)_+` bounded from above by branch and
bound (:func:`convexnn.duality.branch_bound.maximize_relu`) and :math:`p + q \le 1` (l1 path, any
width) or :math:`\sqrt{m_1}` (l2 path, width :math:`\le m_1`).  Any :math:`t\lambda` with
:math:`t\,s \le \beta` is then dual feasible and :math:`-\ell^*(-t\lambda) \le p^\star`
(weak duality, THEORY E.1).  The relaxation is usually loose, so the bound rarely closes the
gap; it is reported as is.  On tiny data the exact groups can price exactly
(``exact_pricing``), which proves optimality.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.losses import Loss
from ..core.protocol import Descended, Master, Priced, Proof
from ..core.solution import ITERATION_LIMIT
from ..duality.cones import cone_support
from ..exceptions import PatternBudgetError, SolverError
from ..networks.parallel import ParallelNetwork
from .groups import Groups, cone_matrix, exact_groups, lifted_matrix
from .pricing import (  # noqa: F401  (re-exported)
    _combine,
    _normalize,
    ascend_subnetworks,
    best_scaled_dual,
    group_support,
    price_subnetworks,
    relaxed_certificate,
    relaxed_dual_norm,
    subnetwork_values,
)
from .program import ThreeLayerProgram, ThreeLayerSolution

#: L-BFGS runs of the seed, their width K and iterations.
SEED_RUNS = 3
SEED_WIDTH = 8
SEED_ITERATIONS = 300
#: Random sub-networks in the seed.
SEED_SAMPLES = 50
#: Random starts of the pricing ascent per round (plus the current sub-networks), steps.
PRICING_STARTS = 128
#: Two-layer pricing directions used to build starts; candidates refined by their cell.
TWO_LAYER_TOP = 8
CELL_CANDIDATES = 32
#: New groups per round from pricing, at most; violators passed to the descent.
MAX_ADD = 32
DESCENT_ADD = 8
DESCENT_ITERATIONS = 300
#: A violation counts when the value exceeds beta by this relative margin.
PRICE_RTOL = 1e-5
#: Above this many groups the master keeps only its active groups plus the new ones.
MAX_KEEP = 100
#: Exact pricing over enumerated groups is tried for n up to this (``exact_pricing="auto"``).
EXACT_PRICING_N = 10
#: Stop when the master objective fell by less than STALL_RTOL (relative) over STALL_ROUNDS.
STALL_RTOL = 1e-7
STALL_ROUNDS = 5
#: The last descent replaces the best master when lower by this relative margin (above the
#: masters' accuracy), and a re-solved master is kept when within it of the descent.
FINISH_RTOL = 1e-6
#: Clarabel tolerances of the master programs.
_MASTER_TOL = {"tol_gap_abs": 1e-8, "tol_gap_rel": 1e-8, "tol_feas": 1e-8}


class GroupSet:
    r"""A growing set of groups :math:`(\tau, D_2)` of block width m, deduplicated.

    First-level patterns are stored once; a block list shorter than m is padded by
    repeating its first block (a duplicate block changes nothing: its variable may be 0).
    """

    def __init__(self, n: int, m: int) -> None:
        self.n, self.m = n, m
        self._cols: list[np.ndarray] = []
        self._col_index: dict[bytes, int] = {}
        self._groups: dict[tuple, tuple[tuple[int, ...], tuple[int, ...], np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self._groups)

    def _column(self, d1: np.ndarray) -> int:
        key = np.packbits(d1).tobytes()
        if key not in self._col_index:
            self._col_index[key] = len(self._cols)
            self._cols.append(d1.copy())
        return self._col_index[key]

    def add(self, D1: np.ndarray, signs: np.ndarray, D2: np.ndarray) -> tuple | None:
        """Add the group of blocks ``D1`` (k, n) bool with ``signs`` (k,) and pattern ``D2``
        (n,); returns its key if it was new, else None.  Empty blocks are dropped."""
        keep = D1.any(axis=1)
        D1, signs = D1[keep], np.asarray(signs)[keep]
        if not D2.any() or not len(D1) or len(D1) > self.m:
            return None
        blocks = sorted((self._column(d), int(s)) for d, s in zip(D1, signs))
        blocks += [blocks[0]] * (self.m - len(blocks))
        key = (tuple(blocks), np.packbits(D2).tobytes())
        if key in self._groups:
            return None
        self._groups[key] = (tuple(b[0] for b in blocks), tuple(b[1] for b in blocks), D2.copy())
        return key

    def add_network(self, net: ParallelNetwork, X: np.ndarray) -> list[tuple]:
        r"""Add the group of every sub-network: :math:`D_{1} = 1[Xw_j \ge 0]` for its nonzero
        neurons, :math:`s_j = \mathrm{sign}(c_j)`, :math:`D_2 = 1[h > 0]` (the sub-network is
        then a feasible point of the group with :math:`\rho` = its path norm)."""
        pre = np.einsum("nd,kjd->kjn", X, net.W)
        h = np.einsum("kjn,kj->kn", np.maximum(pre, 0.0), net.c)
        new = []
        for k in range(net.n_subnetworks):
            on = (np.linalg.norm(net.W[k], axis=1) > 0) & (net.c[k] != 0)
            if net.alpha[k] == 0 or not on.any():
                continue
            key = self.add(pre[k, on] >= 0, np.sign(net.c[k, on]), h[k] > 0)
            if key is not None:
                new.append(key)
        return new

    def point(self, net: ParallelNetwork, X: np.ndarray) -> np.ndarray:
        r"""Add the groups of ``net`` and return a feasible Z (2G*m, d) of the program over
        :meth:`groups` whose objective is at most the network's: sub-network k puts
        :math:`z = |\alpha_k||c_{kj}|W_{kj}` into block j of its group with output sign
        :math:`\mathrm{sign}(\alpha_k)` (sub-networks of one group add up, which by the
        triangle inequality does not raise the penalty)."""
        self.add_network(net, X)
        index = {key: g for g, key in enumerate(self._groups)}
        G, d = len(index), X.shape[1]
        Z = np.zeros((2, G, self.m, d))
        pre = np.einsum("nd,kjd->kjn", X, net.W)
        h = np.einsum("kjn,kj->kn", np.maximum(pre, 0.0), net.c)
        for k in range(net.n_subnetworks):
            on = np.flatnonzero((np.linalg.norm(net.W[k], axis=1) > 0) & (net.c[k] != 0)
                                & (pre[k] >= 0).any(axis=1))
            if net.alpha[k] == 0 or not on.size or not (h[k] > 0).any():
                continue
            blocks = sorted((self._column(pre[k, j] >= 0), int(np.sign(net.c[k, j])), j) for j in on)
            pad = [blocks[0][:2]] * (self.m - len(blocks))
            key = (tuple(b[:2] for b in blocks) + tuple(pad), np.packbits(h[k] > 0).tobytes())
            side = 0 if net.alpha[k] > 0 else 1
            for pos, (_, _, j) in enumerate(blocks):
                Z[side, index[key], pos] += abs(net.alpha[k] * net.c[k, j]) * net.W[k, j]
        return Z.reshape(2 * G * self.m, d)

    def keys(self) -> list[tuple]:
        return list(self._groups)

    def restore(self, keys: list[tuple]) -> None:
        """Make the set exactly the groups ``keys`` (keys of this set, past or present: the
        first-level columns are never dropped)."""
        self._groups = {}
        for key in keys:
            blocks, d2 = key
            D2 = np.unpackbits(np.frombuffer(d2, dtype=np.uint8))[:self.n].astype(bool)
            self._groups[key] = (tuple(b[0] for b in blocks), tuple(b[1] for b in blocks), D2)

    def restrict(self, keys: list[tuple]) -> None:
        """Keep only the groups ``keys`` (first-level columns are kept)."""
        self._groups = {k: self._groups[k] for k in keys if k in self._groups}

    def groups(self) -> Groups:
        """The :class:`Groups` of the current set (in insertion order)."""
        vals = list(self._groups.values())
        D1 = np.array(self._cols).T if self._cols else np.zeros((self.n, 0), bool)
        return Groups(D1, np.array([v[0] for v in vals], dtype=int).reshape(-1, self.m),
                      np.array([v[1] for v in vals], dtype=int).reshape(-1, self.m),
                      np.array([v[2] for v in vals], dtype=bool).reshape(-1, self.n),
                      exhaustive=False, method="generated")


def pricing_starts(X: np.ndarray, lam: np.ndarray, net: ParallelNetwork, m1: int,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    r"""Starts of the two-level ascent, (W (S, m1, d), c (S, m1)):

    - random sub-networks, with mixed-sign and with positive c;
    - sub-networks built from the two-layer pricing directions u of :math:`\pm\lambda`
      (:func:`convexnn.duality.pricing.price`): m1 copies of one u (with c > 0 the value is
      :math:`\sqrt{m_1}\,\lambda^	op(Xu)_+` for the l2 path) and pairs of the best u;
    - the current sub-networks, as they are and perturbed.
    """
    from ..duality.pricing import price

    n, d = X.shape
    Wr = rng.standard_normal((PRICING_STARTS, m1, d))
    cr = rng.standard_normal((PRICING_STARTS, m1))
    starts_W, starts_c = [Wr, Wr], [cr, np.abs(cr)]
    _, U, _ = price(X, lam, rng.standard_normal((PRICING_STARTS, d)))
    U = U[:TWO_LAYER_TOP]
    starts_W.append(np.repeat(U[:, None, :], m1, axis=1))
    starts_c.append(np.ones((U.shape[0], m1)))
    if U.shape[0] >= 2 and m1 >= 2:
        k = U.shape[0]
        i, j = np.triu_indices(k, 1)
        Wp = np.repeat(U[i][:, None, :], m1, axis=1)
        Wp[:, 1] = U[j]
        starts_W.append(Wp)
        starts_c.append(np.ones((len(i), m1)))
    if net.n_subnetworks:
        pn = _pad(net, m1)
        starts_W += [pn.W, pn.W + 0.1 * rng.standard_normal(pn.W.shape)]
        starts_c += [pn.c, pn.c + 0.1 * rng.standard_normal(pn.c.shape)]
    return np.concatenate(starts_W), np.concatenate(starts_c)


def _cell_refine(X, lam, vals, W, c, sig):
    """Replace the best CELL_CANDIDATES candidates by their group's exact maximizer (l2
    path, :func:`group_support`) when it is larger; re-sort."""
    vals = vals.copy()
    W, c = W.copy(), c.copy()
    gs = GroupSet(X.shape[0], W.shape[1])
    for i in range(min(CELL_CANDIDATES, vals.size)):
        cand = ParallelNetwork(W=W[i:i + 1], c=c[i:i + 1], alpha=sig[i:i + 1])
        keys = gs.add_network(cand, X)
        if not keys:
            continue
        groups = gs.groups()
        g = groups.n_groups - 1
        M = lifted_matrix(X, groups.D1, groups.pattern[g], groups.sign[g])
        A = np.vstack([cone_matrix(X, groups.D1, groups.pattern[g]),
                       (2.0 * groups.D2[g] - 1.0)[:, None] * M])
        _, lo, u = cone_support(A, sig[i] * (M.T @ (groups.D2[g] * lam)))
        if lo > vals[i]:
            z = u.reshape(W.shape[1], -1)
            nz = np.linalg.norm(z, axis=1)
            vals[i] = lo
            W[i] = np.where(nz[:, None] > 0, z / np.where(nz > 0, nz, 1.0)[:, None], 0.0)
            c[i] = groups.sign[g] * nz  # ||(nz)|| <= 1: path norm <= 1
    order = np.argsort(-vals, kind="stable")
    return vals[order], W[order], c[order], sig[order]


def _pad(net: ParallelNetwork, m: int) -> ParallelNetwork:
    K, w, d = net.W.shape
    if w >= m:
        return net
    W = np.concatenate([net.W, np.zeros((K, m - w, d))], axis=1)
    c = np.concatenate([net.c, np.zeros((K, m - w))], axis=1)
    return ParallelNetwork(W=W, c=c, alpha=net.alpha, path=net.path)


def _append(net: ParallelNetwork, W: np.ndarray, c: np.ndarray, alpha: np.ndarray) -> ParallelNetwork:
    return ParallelNetwork(W=np.concatenate([net.W, W]), c=np.concatenate([net.c, c]),
                           alpha=np.concatenate([net.alpha, alpha]), path=net.path)


def exact_pricing_groups(X: np.ndarray, path: str, m1: int, exact_pricing: Any) -> Groups | None:
    if exact_pricing is False or path != "l2":
        return None
    if exact_pricing == "auto" and X.shape[0] > EXACT_PRICING_N:
        return None
    try:
        return exact_groups(X, path=path, m1=m1)
    except PatternBudgetError:
        if exact_pricing is True:
            raise
        return None


class GroupPricer:
    r"""Sub-network groups as the engine's columns (:mod:`convexnn.generation`; see the module
    docstring).

    Parameters
    ----------
    X, y : ndarray
    beta : float
    path : {"l1", "l2"}
    m1 : int
        First-layer width of the sub-networks (the block width of the groups).
    loss : Loss
    rng : numpy Generator
    exact : Groups or None
        Every group (tiny n): exact pricing over them once the search finds nothing.
    solve_master : callable
        ``solve_master(ThreeLayerProgram) -> ThreeLayerSolution``.
    init : tuple of ParallelNetwork
        Seed networks on X (their groups join the first master).
    lifted : bool
        X is [X, 1] (regularized first-layer biases): the masters' programs say so, so that
        their networks are recovered with biases.
    """

    columns_name = "groups"

    def __init__(self, X: np.ndarray, y: np.ndarray, *, beta: float, path: str, m1: int,
                 loss: Loss, rng: np.random.Generator, exact: Groups | None, solve_master: Any,
                 seed_runs: int = SEED_RUNS, init: tuple = (), lifted: bool = False) -> None:
        self.X, self.y, self.beta, self.path, self.m1 = X, y, beta, path, m1
        self.loss, self.rng, self.exact, self.solve_master = loss, rng, exact, solve_master
        self.seed_runs, self.init, self.lifted = seed_runs, tuple(init), lifted
        self.S = GroupSet(X.shape[0], m1)
        self._new: list = []
        self._last: Any = None  # the last descent's ParallelRun

    @property
    def n_columns(self) -> int:
        return len(self.S)

    def start(self, report) -> None:
        """Short L-BFGS runs of the parallel network and random sub-networks."""
        from ..training.parallel import train_parallel
        from .groups import sample_subnetworks

        seed_obj = np.inf
        for net in self.init:
            seed_obj = min(seed_obj, net.objective(self.X, self.y, beta=self.beta, loss=self.loss))
            self.S.add_network(net, self.X)
        for _ in range(self.seed_runs):
            run = train_parallel(self.X, self.y, beta=self.beta, path=self.path, K=SEED_WIDTH,
                                 m1=self.m1, loss=self.loss, seed=int(self.rng.integers(2**31)),
                                 max_iter=SEED_ITERATIONS)
            seed_obj = min(seed_obj, run.objective)
            self.S.add_network(run.network, self.X)
        report.seed_objective = float(seed_obj)
        for _ in range(10):  # random sub-networks (again while S is empty: h <= 0 is possible)
            P1, sg, D2 = sample_subnetworks(self.X, SEED_SAMPLES, self.m1, seed=self.rng)
            for a in range(SEED_SAMPLES):
                self.S.add(P1[a], sg[a], D2[a])
            if len(self.S):
                break
        if not len(self.S):
            raise ValueError("no sub-network with a nonzero output was found for this X")

    def master(self) -> Master:
        groups = self.S.groups()
        program = ThreeLayerProgram(self.X, self.y, self.beta, self.path, groups, self.loss,
                                    lifted=self.lifted)
        sol = self.solve_master(program)
        lam = -self.loss.gradient(program.predict(sol), self.y)
        norms = program.group_norms(sol.Z)
        active = np.flatnonzero(norms > 1e-7 * norms.max(initial=0.0)) % max(groups.n_groups, 1)
        net = program.recover(sol)
        return Master(program, sol, program.objective(sol),
                      state={"lam": lam, "net": net.lifted() if self.lifted else net,
                             "keys": self.S.keys(), "active": np.unique(active)})

    def price(self, m: Master) -> Priced:
        lam, net = m.state["lam"], m.state["net"]
        W0, c0 = pricing_starts(self.X, lam, net, self.m1, self.rng)
        vals, Wc, cc, sig = price_subnetworks(self.X, lam, W0, c0, path=self.path)
        if self.path == "l2":  # the exact maximum over the best candidates' groups
            vals, Wc, cc, sig = _cell_refine(self.X, lam, vals, Wc, cc, sig)
        viol = np.flatnonzero(vals > self.beta * (1 + PRICE_RTOL))
        new = []
        for i in viol:
            cand = ParallelNetwork(W=Wc[i:i + 1], c=cc[i:i + 1], alpha=sig[i:i + 1], path=self.path)
            new += self.S.add_network(cand, self.X)
            if len(new) >= MAX_ADD:
                break
        m.state["violators"] = (Wc[viol], cc[viol], sig[viol])
        self._new = list(new)
        return Priced(float(vals[0] / self.beta) if vals.size else 0.0, len(new))

    def descend(self, m: Master, priced: Priced) -> Descended:
        """L-BFGS from the recovered network plus the violators as small sub-networks."""
        from ..training.parallel import random_parallel, train_parallel

        net = m.state["net"]
        Wv, cv, sv = m.state["violators"]
        k = min(DESCENT_ADD, sv.size)
        init = (_pad(net, self.m1) if net.n_subnetworks else
                random_parallel(self.X.shape[1], 1, self.m1, path=self.path,
                                seed=self.rng.integers(2**31)))
        if k:
            scale = 1e-3 * max(1.0, float(np.abs(net.alpha).max(initial=1.0)))
            init = _append(init, Wv[:k], cv[:k], scale * sv[:k])
        desc = train_parallel(self.X, self.y, beta=self.beta, path=self.path, loss=self.loss,
                              init=init, max_iter=DESCENT_ITERATIONS)
        self._last = desc
        new = (self.S.add_network(desc.network, self.X)
               if desc.objective < m.objective * (1 - 1e-9) else [])
        self._new += new
        return Descended(float(desc.objective), len(new))

    def prove(self, m: Master) -> Proof | None:
        """The cone support of every enumerated group and sign (tiny n, l2 path)."""
        if self.exact is None:
            return None
        level = self.beta * (1 + PRICE_RTOL)
        found = _exact_violations(self.X, m.state["lam"], self.exact, level)
        new = []
        for g in found:
            key = self.S.add(self.exact.D1[:, self.exact.pattern[g]].T, self.exact.sign[g],
                             self.exact.D2[g])
            if key is not None:
                new.append(key)
        if not found:
            return Proof("proven", evidence=self.exact)
        self._new += new
        # violations only in groups of the master: solver tolerance, no new column
        return Proof("violated", len(new))

    def advance(self, m: Master) -> None:
        if len(self.S) > MAX_KEEP:
            keys = m.state["keys"]
            self.S.restrict([keys[g] for g in m.state["active"]] + self._new)
        self._new = []

    def finish(self, best: Master) -> Master:
        """The best master, or, when the last descent's network is lower, the master over
        the best master's active groups and that network's groups (at most both); if that
        solve fails or ends above the network, the network itself as a feasible point of
        the program over its groups (:meth:`GroupSet.point`, status "iteration_limit")."""
        last = self._last
        if last is None or not last.objective < best.objective * (1 - FINISH_RTOL):
            return best
        S = GroupSet(self.X.shape[0], self.m1)
        Z = S.point(last.network, self.X)
        point = ThreeLayerProgram(self.X, self.y, self.beta, self.path, S.groups(), self.loss,
                                  lifted=self.lifted)
        self.S.restore([best.state["keys"][g] for g in best.state["active"]])
        self.S.add_network(last.network, self.X)
        try:
            m = self.master()
            if m.objective <= last.objective * (1 + FINISH_RTOL):
                return m
        except SolverError:
            pass
        sol = ThreeLayerSolution(Z=Z, status=ITERATION_LIMIT, solver="descent", info={
            "limit_message": "the network of the last descent (L-BFGS) was lower than every "
                             "master: its objective is an upper bound, not a master optimum"})
        return Master(point, sol, point.objective(sol), state=best.state)

def _exact_violations(X: np.ndarray, lam: np.ndarray, groups: Groups, level: float) -> list[int]:
    """Enumerated groups with a feasible point above ``level`` for either output sign
    (the best first)."""
    found = []
    for g in range(groups.n_groups):
        for sigma in (1.0, -1.0):
            _, lo = group_support(X, lam, groups, g, sigma)
            if lo > level:
                found.append((lo, g))
                break
    found.sort(reverse=True)
    return [g for _, g in found[:MAX_ADD]]


__all__ = ["GroupPricer", "GroupSet", "exact_pricing_groups", "pricing_starts"]
