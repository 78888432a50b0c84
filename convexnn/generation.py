r"""Pattern generation: the convex program over a pattern set that grows (THEORY A.10).

Where the arrangement cannot be enumerated, the convex program over a pattern subset S
gives :math:`p_S \ge p^\star`, and a fixed random S is far from the optimum on real data
(diabetes, 200 gates: 83 against 42 for L-BFGS).  Column generation closes the gap:

1. **Seed.**  S starts with the patterns of any ``init`` networks and of a short L-BFGS
   run of the non-convex network (:mod:`convexnn.two_layer.descent`); sampled gates only if these
   give none.
   Every network :math:`\theta` whose patterns are in S is a feasible point of the
   program over S with :math:`p_S \le F(\theta)` (THEORY A.10), so the answer is never
   worse than any of these networks.
2. **Master.**  Solve the program over S (the working-set solver by default) and recover
   the network.
3. **Pricing.**  With :math:`\lambda = -\nabla\ell(\hat y)` (projected onto the free-term
   constraints), search directions with :math:`|\lambda^\top(\tilde Xu)_+| > \beta`
   (:func:`convexnn.duality.pricing.price`, from random starts and from the current neurons);
   their patterns join S.
4. **Descent.**  L-BFGS on the non-convex objective from the recovered network plus the
   violating directions as small new neurons; the patterns of the network it reaches
   join S, so the next master is at most its objective.
5. S keeps the patterns of the recovered neurons (the master's optimum stays feasible:
   the objective never increases) and the new ones; repeat until pricing finds no
   violated constraint and descent no decrease, or the budget runs out.

The stopping test is heuristic; the proof of optimality (or the gap that remains) is
the certificate's job (:func:`convexnn.duality.certificates.certify_fit` with branch and bound,
:mod:`convexnn.duality.branch_bound`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .core.patterns import PatternSet, _rank_reduce, sample_patterns, unique_patterns
from .core.threads import small_problem_threads
from .duality.dual_norm import BB_MAX_RANK, BB_NODES
from .duality.dual_points import dual_box, project_dual
from .duality.pricing import price
from .networks.two_layer import Network
from .two_layer.descent import descend, from_blocks, random_start

#: Sampled gates in the starting set when the seed networks give no pattern (with a seed
#: network they only enlarge the first master: diabetes and breast cancer reached the
#: same master objective with and without 20 of them, 10% faster without).
SEED_SAMPLES = 20
#: Seed neurons whose weight |alpha_k| ||u_k|| is below this fraction of the largest stay
#: out of the first master (weight decay is shrinking them; breast cancer: 221 -> 172
#: patterns, the master 25% faster, its objective +4e-6 relative).
SEED_RTOL = 1e-2
#: Width and iterations of the seeding L-BFGS run (width min(n, SEED_WIDTH)).
SEED_WIDTH = 300
SEED_ITERATIONS = 500
#: Random starts of the pricing ascent per round (plus the current neurons).
PRICING_STARTS = 256
#: New patterns per round from pricing, at most.
MAX_ADD = 64
#: L-BFGS iterations of a descent round.
DESCENT_ITERATIONS = 500
#: Candidates of the exact cone pricing: the best ascent directions' cells, plus fresh
#: gates; facet ascents from the best few.
CONE_CANDIDATES = 128
CONE_SAMPLES = 128
CONE_ASCENTS = 8
#: Seconds the exact pricing gets at least, even when the generation's budget is spent
#: (its node budget binds first on an unloaded machine).
BB_MIN_TIME = 60.0
#: Without exact pricing (high rank, free bias), stop when the objective fell by less than
#: STALL_RTOL over STALL_ROUNDS rounds (pricing finds violations that barely help).
STALL_RTOL = 1e-4
STALL_ROUNDS = 3
#: Default budget (``time_limit=None``) where branch and bound can prove the optimum
#: (every coordinate penalized, rank <= BB_MAX_RANK): seconds.
PROVABLE_TIME = 20.0
#: Default budget where it cannot (high rank, free bias): this many times the seed's
#: L-BFGS run, i.e. about as long as two gradient-training runs of width 300 take (one
#: round at least: the master over the seed network's patterns, never worse than it).
#: More rounds need an explicit ``time_limit``.
SEED_RUNS_BUDGET = 4.0
#: A descent's network adds its patterns when it is below the master by this relative
#: margin: the masters are solved to a relative gap of 1e-5, and their values scatter by
#: ~1e-7 from round to round (diabetes bmi,s5: 115.2801157-115.2801232), so smaller
#: "improvements" are solver noise and would keep the loop going for ever.
DESCENT_RTOL = 1e-6
#: A violation counts when the value exceeds beta by this relative margin.
PRICE_RTOL = 1e-6


@dataclass
class GenerationReport:
    """What the pattern generation did (``FitResult.generation``)."""

    rounds: int = 0
    stopped: str = ""
    time: float = 0.0
    seed_objective: float = float("nan")
    #: the budget the loop ran under (seconds)
    time_limit: float = float("nan")
    history: list[dict] = field(default_factory=list)
    #: (lambda, s_bound, solution) when branch and bound proved that the final round's
    #: dual point satisfies max_u |lambda^T (X~u)_+| <= s_bound (the certificate reuses it)
    proof: tuple | None = None

    def summary_line(self) -> str:
        last = self.history[-1] if self.history else {}
        return (f"{self.rounds} rounds, {last.get('patterns', 0)} patterns at the end, "
                f"stopped: {self.stopped}, {self.time:.2f}s")


def network_patterns(net: Network, X: np.ndarray, Xt: np.ndarray) -> np.ndarray:
    r"""Patterns :math:`1[\tilde Xu_k \ge 0]` of a network's neurons (gates for a gated one)
    on lifted data, shape (n, m) (:meth:`convexnn.Network.lifted_directions`)."""
    return (Xt @ net.lifted_directions(Xt.shape[1] > X.shape[1]).T) >= 0


def _lambda(program, pred: np.ndarray) -> np.ndarray:
    loss, y = program.loss, program.y
    lo, hi = dual_box(loss, y)
    return project_dual(-loss.gradient(pred, y), program.free_basis, lo, hi)


def generate(make_program, *args, **kwargs):
    """Run the generation loop (module docstring) with the BLAS pools and torch at one
    thread for the small problems (:func:`_generate`)."""
    n = args[0].shape[0]
    with small_problem_threads(n):
        return _generate(make_program, *args, **kwargs)


def _generate(make_program, X: np.ndarray, y: np.ndarray, Xt: np.ndarray, *, beta: float,
             loss, free: np.ndarray, F: np.ndarray | None, solve,
             init_directions: np.ndarray | None, seed: Any, time_limit: float | None,
             max_rounds: int, verbose: bool = False):
    """Run the generation loop (module docstring).

    ``make_program(PatternSet) -> program`` builds the program over a pattern set and
    ``solve(program) -> ConvexSolution`` solves it.  Returns (program, solution,
    network, report) of the best round (the last one: the objective never increases).

    ``time_limit`` (seconds; None: :data:`PROVABLE_TIME` where branch and bound can prove
    the optimum, else :data:`SEED_RUNS_BUDGET` times the seed run) is checked *before*
    each round's pricing: a round whose pricing, descent and next master would end past
    it (estimated from the last round, or from the seed and master times in the first)
    is not started, and the last master's answer is returned.
    """
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    n, dp = Xt.shape
    pen = (~free).astype(float)
    report = GenerationReport()
    exact_pricing = not free.any() and _rank_reduce(Xt)[0].shape[1] <= BB_MAX_RANK
    # every pattern enters with a direction u of its cell (D = 1[X~u >= 0]): the program's
    # gates, from which the working-set solver picks each block's first cone rows
    parts = []
    if init_directions is not None and init_directions.size:
        parts.append(init_directions)
    # seed: a short L-BFGS run of the non-convex network
    width = int(min(n, SEED_WIDTH))
    U0, a0 = random_start(Xt, y, width, rng)
    seed_net = descend(Xt, y, beta=beta, loss=loss, pen=pen, F=F, U0=U0, alpha0=a0,
                       maxiter=SEED_ITERATIONS)
    report.seed_objective = seed_net.objective
    t_seed = time.perf_counter() - t0
    if time_limit is None:
        time_limit = PROVABLE_TIME if exact_pricing else SEED_RUNS_BUDGET * t_seed
        budget_note = ("default" if exact_pricing else
                       f"default: {SEED_RUNS_BUDGET:g} x the seed run's {t_seed:.2f}s")
    else:
        budget_note = "time_limit"
    report.time_limit = time_limit
    parts.append(seed_net.directions(SEED_RTOL))
    G = _dedup(Xt, np.vstack(parts))
    if not G.shape[0]:  # a dead seed (e.g. y = 0): start from sampled gates
        G = _dedup(Xt, sample_patterns(Xt, SEED_SAMPLES, seed=rng).gates)
    best = None
    for rnd in range(1, max_rounds + 1):
        t_round = time.perf_counter()
        S = (Xt @ G.T) >= 0
        program = make_program(PatternSet(S, G, exhaustive=False, method="generated"))
        sol = solve(program)
        obj = program.objective(sol)
        net = program.recover(sol)
        if best is None or obj <= best[3] + 1e-12 * max(1.0, abs(obj)):
            best = (program, sol, net, obj)
        # is there time for pricing, descent and another master?
        spent = time.perf_counter() - t0
        t_master = time.perf_counter() - t_round
        ahead = (report.history[-1]["round_time"] if report.history
                 else t_master + 2.0 * t_seed)
        if (rnd > 1 or not exact_pricing) and spent + ahead > time_limit:
            report.rounds = rnd
            report.stopped = (f"time budget ({time_limit:.3g}s, {budget_note}; another "
                              f"round would end near {spent + ahead:.3g}s)")
            report.history.append(dict(round=rnd, patterns=program.n_patterns,
                                       objective=obj, time=spent, round_time=t_master))
            if verbose:
                print(f"generation round {rnd}: P={program.n_patterns} objective="
                      f"{obj:.10g} {spent:.2f}s; stopped: {report.stopped}")
            break
        pred = program.predict(sol)
        lam = _lambda(program, pred)
        # pricing from random starts and from the current neurons (perturbed)
        blocks, _ = program._active_blocks(sol, 1e-6)
        Un, alpha_n = from_blocks(blocks, pen)
        starts = [rng.standard_normal((PRICING_STARTS, dp))]
        if Un.shape[0]:
            starts += [Un, Un + 0.1 * rng.standard_normal(Un.shape) * np.linalg.norm(Un, axis=1, keepdims=True)]
        starts = np.vstack(starts)
        vals, Ucand, signs = price(Xt, lam, starts, free=free if free.any() else None)
        cone_vals, cone_U, cone_s = cone_pricing(Xt, lam, Ucand[:CONE_CANDIDATES], S, free, rng)
        vals, Ucand, signs = _merge(vals, Ucand, signs, cone_vals, cone_U, cone_s)
        viol = vals > beta * (1 + PRICE_RTOL)
        new_p = _new_directions(Xt, _dedup(Xt, Ucand[viol][: 4 * MAX_ADD])[:MAX_ADD], S)
        # descent from the recovered network plus the violating directions
        Ud, ad = Un, alpha_n
        if viol.any():
            k = min(MAX_ADD // 4, int(viol.sum()))
            scale = 1e-3 * max(1.0, float(np.max(np.abs(alpha_n), initial=1.0)))
            Ud = np.vstack([Un, scale * Ucand[viol][:k]])
            ad = np.concatenate([alpha_n, scale * signs[viol][:k]])
        desc_obj = np.inf
        new_d = np.zeros((0, dp))
        if Ud.shape[0]:
            a_free = None
            if F is not None:
                a_free = np.linalg.lstsq(F, pred - _neuron_part(Xt, Ud, ad), rcond=None)[0]
            dnet = descend(Xt, y, beta=beta, loss=loss, pen=pen, F=F, U0=Ud, alpha0=ad,
                           a0=a_free, maxiter=DESCENT_ITERATIONS)
            desc_obj = dnet.objective
            if desc_obj < obj - DESCENT_RTOL * max(1.0, abs(obj)):
                new_d = _new_directions(Xt, dnet.directions(), S)
        keep = net.lifted_directions(dp > X.shape[1])
        entry = dict(round=rnd, patterns=program.n_patterns, objective=obj,
                     max_violation=float(vals[0] / beta) if vals.size else 0.0,
                     new_pricing=int(new_p.shape[0]), new_descent=int(new_d.shape[0]),
                     descent_objective=float(desc_obj), time=time.perf_counter() - t0,
                     round_time=time.perf_counter() - t_round)
        report.history.append(entry)
        if verbose:
            print(f"generation round {rnd}: P={program.n_patterns} objective={obj:.10g} "
                  f"max s/beta={entry['max_violation']:.6f} +{new_p.shape[0]} priced "
                  f"+{new_d.shape[0]} descent ({desc_obj:.10g}) {entry['time']:.2f}s")
        report.rounds = rnd
        if not new_p.shape[0] and not new_d.shape[0] and exact_pricing:
            # exact pricing: branch and bound proves no violation, or finds one
            from .duality.branch_bound import dual_norm_bb

            budget = max(BB_MIN_TIME, time_limit - (time.perf_counter() - t0))
            level = beta * (1 + PRICE_RTOL)
            _, val, u, _, complete, violated = dual_norm_bb(
                Xt, lam, floor=level, stop_above=level, time_limit=budget, max_nodes=BB_NODES)
            entry["branch_bound"] = "violated" if violated else "complete" if complete else "budget"
            if violated:
                new_p = _new_directions(Xt, u[None, :], S)
                if verbose:
                    print(f"  branch and bound: a direction at s/beta={val / beta:.8f}")
            elif complete:
                report.stopped = "no violated constraint (proven by branch and bound)"
                report.proof = (lam, level, sol)
                break
        if not new_p.shape[0] and not new_d.shape[0]:
            report.stopped = "no violated constraint found by the pricing search"
            break
        if not exact_pricing and _stalled(report.history):
            report.stopped = (f"stalled: less than {STALL_RTOL:g} relative decrease over "
                              f"{STALL_ROUNDS} rounds")
            break
        if time.perf_counter() - t0 > time_limit:
            report.stopped = f"time budget ({time_limit:.3g}s, {budget_note})"
            break
        G = _dedup(Xt, np.vstack([keep, new_p, new_d]))
    else:
        report.stopped = f"max_rounds ({max_rounds})"
    report.time = time.perf_counter() - t0
    program, sol, net, _ = best
    return program, sol, report


def cone_pricing(Xt: np.ndarray, lam: np.ndarray, U: np.ndarray, S: np.ndarray,
                 free: np.ndarray, rng: np.random.Generator):
    r"""Exact cone maxima over candidate cells, then local ascent across facets.

    The candidates are the cells of the directions ``U`` and of fresh Gaussian gates, minus
    the program's own patterns ``S``; each gets
    :math:`\max_{u\in K_D,\|u_\pi\|\le1}\pm\lambda^\top D\tilde Xu`
    (:func:`convexnn.duality.cones.pattern_supports`), and the best few climb into adjacent cells
    (:func:`convexnn.duality.dual_norm._ascend`, the certificate's pattern search).  Returns
    (values, directions, signs).
    """
    from .duality.cones import pattern_supports
    from .duality.dual_norm import _ascend

    fm = free if free.any() else None
    pen = ~free
    D = np.concatenate([(Xt @ U.T) >= 0, sample_patterns(Xt, CONE_SAMPLES, seed=rng).D], axis=1)
    D = _new_columns(_dedup_columns(D), S)
    if not D.shape[1]:
        return np.zeros(0), np.zeros((0, Xt.shape[1])), np.zeros(0)
    ps = pattern_supports(Xt, lam, D, free=fm, prune=False)
    flat = np.argsort(-ps.lower, axis=None)[:CONE_ASCENTS]
    vals, dirs, signs = [], [], []
    for f in flat:
        i, col = np.unravel_index(int(f), ps.lower.shape)
        if ps.lower[i, col] <= 0:
            continue
        sign = 1 if col == 0 else -1
        val, u = _ascend(Xt, lam, D[:, i].copy(), sign, ps.U[i, col], fm, pen)
        vals.append(val)
        dirs.append(u)
        signs.append(sign)
    # the cells' own maximizers too
    lo = ps.lower.ravel()
    good = np.flatnonzero(lo > 0)
    for f in good:
        i, col = divmod(int(f), 2)
        vals.append(lo[f])
        dirs.append(ps.U[i, col])
        signs.append(1 if col == 0 else -1)
    if not vals:
        return np.zeros(0), np.zeros((0, Xt.shape[1])), np.zeros(0)
    return np.array(vals), np.array(dirs), np.array(signs, dtype=float)


def _merge(v1, U1, s1, v2, U2, s2):
    vals = np.concatenate([v1, v2])
    U = np.vstack([U1, U2]) if U2.size else U1
    sg = np.concatenate([s1, s2])
    order = np.argsort(-vals, kind="stable")
    return vals[order], U[order], sg[order]


def _stalled(history: list[dict]) -> bool:
    """The objective fell by less than STALL_RTOL (relative) over the last STALL_ROUNDS."""
    if len(history) <= STALL_ROUNDS:
        return False
    old, new = history[-1 - STALL_ROUNDS]["objective"], history[-1]["objective"]
    return old - new <= STALL_RTOL * max(1.0, abs(old))


def _neuron_part(Xt, U, alpha):
    return np.maximum(Xt @ U.T, 0.0) @ alpha


def _dedup_columns(D: np.ndarray) -> np.ndarray:
    """Distinct columns of D that are not all off, in first-seen order."""
    D = D[:, D.any(axis=0)]
    return unique_patterns(D)[0] if D.shape[1] else D


def _dedup(Xt: np.ndarray, U: np.ndarray) -> np.ndarray:
    r"""Directions (rows of U) with distinct patterns :math:`1[\tilde Xu \ge 0]`, the first
    of each; directions whose pattern is all off are dropped."""
    D = (Xt @ U.T) >= 0
    keep = D.any(axis=0)
    return unique_patterns(D[:, keep], U[keep])[1] if keep.any() else U[:0]


def _new_columns(D: np.ndarray, S: np.ndarray) -> np.ndarray:
    """Columns of D not in S."""
    if not D.shape[1]:
        return D
    mask = _not_in(D, S)
    return _dedup_columns(D[:, mask]) if mask.any() else D[:, :0]


def _new_directions(Xt: np.ndarray, U: np.ndarray, S: np.ndarray) -> np.ndarray:
    """Rows of U whose patterns are not columns of S (distinct, none all off)."""
    if not U.shape[0]:
        return U
    mask = _not_in((Xt @ U.T) >= 0, S)
    return _dedup(Xt, U[mask]) if mask.any() else U[:0]


def _not_in(D: np.ndarray, S: np.ndarray) -> np.ndarray:
    have = {c.tobytes() for c in np.packbits(S, axis=0).T}
    return np.array([p.tobytes() not in have for p in np.packbits(D, axis=0).T])


__all__ = ["GenerationReport", "generate", "network_patterns"]
