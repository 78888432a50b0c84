r"""A structured primal-dual interior-point method for a working set of blocks (torch).

For blocks b (pattern :math:`D_{i_b}`, sign :math:`\sigma_b`, working cone rows
:math:`A_b`, see :mod:`convexnn.solvers.blocks`) and free terms :math:`Fa` it solves

.. math::
    \min_{t, v, a}\ \ell\Big(\sum_b M_b v_b + F a\Big) + \beta\sum_b t_b
    \quad\text{s.t.}\quad (t_b, v_{b,\pi}) \in \mathcal Q,\quad A_b v_b \ge 0,

with :math:`\mathcal Q` the second-order cone.  The hinge loss is the LP
:math:`\min \mathbf 1^\top\xi` s.t. :math:`\xi \ge 0,\ \xi + y\circ\hat y \ge 1`; the
squared and logistic losses enter through their gradient and diagonal Hessian.

Method: Mehrotra predictor-corrector with Nesterov-Todd scaling (Vandenberghe, "The
CVXOPT linear and quadratic cone program solvers", 2010, sections 3-4), infeasible start.
The Newton system :math:`(\nabla^2 f + G^\top\Theta G)\Delta x = \rho` has the structure

.. math::
    \mathrm{blockdiag}(B_b) + \tilde M^\top H \tilde M,\qquad
    \tilde M = [M_1 \cdots M_m\ F],\ H \text{ diagonal } (n),

(loss Hessian plus the eliminated hinge variables), so it is solved through the
:math:`n\times n` matrix :math:`I + H^{1/2}\sum_b M_b (B_b^{-1})_{vv} M_b^\top H^{1/2}`
(Woodbury, with the free terms bordered), accumulated block-chunk by block-chunk without
forming :math:`\tilde M`; or, when the working set has fewer variables than samples,
through the :math:`d'm \times d'm` matrix :math:`\mathrm{blockdiag}(B) + M^\top HM`
(see :class:`KKTSolver`).

Stopping rule: relative primal and dual residuals (the dual one relative to the largest
term it is the difference of: its roundoff floor) and the complementarity gap
:math:`s^\top z / \max(1, |p|)` all below ``tol``.  The caller certifies the result with
the exact duality gap of the full program (:mod:`convexnn.solvers.working_set`).
"""

from __future__ import annotations

import math
import time

from ..core.lazy import torch_module as _torch
from .cone_rows import RowOps
from .ipm_step import (
    abs_max,
    add_directions,
    direction,
    dual_equation,
    gondzio_rhs,
    max_step,
    residuals,
    scalings,
    step_state,
)
from .kkt import KKTSolver
from .soc import jordan_product
from .subproblem import IPMResult, IPMState, Subproblem, complementarity

# One iteration's pieces live in convexnn.solvers.ipm_step (residuals, scalings,
# directions, steps), .kkt (Newton systems), .soc (cone algebra), .cone_rows and
# .subproblem (the data); this module is the loop.

#: Iterations before ``separate`` is first called (the starting point is a ridge
#: solution, not informative about which rows bind).  Measured (iterations with 2 / 3):
#: diabetes 21 / 20, breast cancer squared 35 / 31, logistic 28 / 28, 1-D exact 17 / 17;
#: from 0, 1, 6 or 8 diabetes takes 23, 24, 28, 32.
SEPARATE_FROM = 3


# ---- the method -------------------------------------------------------------------------
class InteriorPoint:
    r"""Mehrotra predictor-corrector interior-point method for a :class:`Subproblem`.

    Parameters
    ----------
    tol : float, default=1e-9
        Relative tolerance on residuals and on the complementarity gap.
    max_iter : int, default=80
    step_fraction : float, default=0.99
        Fraction of the step to the boundary of the cones.
    regularization : float, default=1e-13
        Static regularization :math:`\delta` added to the block matrices (relative to
        their scale) and to the free-term block.
    refine : int, default=2
        Iterative-refinement steps on the unreduced dual equation of each direction.
    refine_reduced : int, default=2
        Iterative-refinement steps on the reduced (Woodbury) system, for the hinge loss
        (whose large Hessian entries make that form lose accuracy).
    correctors : int, default=3
        At most this many Gondzio centrality correctors per iteration (Colombo & Gondzio,
        Comput. Optim. Appl. 41, 2008), each accepted only if it lengthens the step by
        10% of ``corrector_step``.
    corrector_step : float, default=0.2
        Step-length increase the correctors aim for.
    verbose : bool, default=False
    """

    def __init__(self, tol: float = 1e-9, max_iter: int = 80, step_fraction: float = 0.99,
                 regularization: float = 1e-13, refine: int = 2,
                 correctors: int = 3, corrector_step: float = 0.2, refine_reduced: int = 2,
                 verbose: bool = False):
        self.refine_reduced = refine_reduced
        self.correctors = correctors
        self.corrector_step = corrector_step
        self.tol = tol
        self.max_iter = max_iter
        self.step_fraction = step_fraction
        self.regularization = regularization
        self.refine = refine
        self.verbose = verbose

    # -- initial point ----------------------------------------------------------------
    def initial_state(self, prob: Subproblem) -> IPMState:
        r"""CVXOPT-style start: with :math:`\Theta = I`, solve
        :math:`(\nabla^2 f + G^\top G)x = -\nabla f(0) - c + G^\top h` (a ridge problem),
        take :math:`s = Gx - h`, :math:`z = -s` (dual feasible for a quadratic loss) and
        shift both into the cones' interiors."""
        torch = _torch()
        blocks = prob.blocks
        m, d, n = blocks.m, blocks.dim, blocks.n
        dt_, dev = blocks.Xt.dtype, blocks.Xt.device
        A = RowOps.of(blocks)
        zeros_h = torch.zeros(2, n, dtype=dt_, device=dev) if prob.hinge else None
        st = IPMState(t=torch.zeros(m, dtype=dt_, device=dev), v=torch.zeros(m, d, dtype=dt_, device=dev),
                      a=torch.zeros(prob.q, dtype=dt_, device=dev),
                      xi=torch.zeros(n, dtype=dt_, device=dev) if prob.hinge else None,
                      s_soc=None, z_soc=None, s_lin=None, z_lin=None, s_h=zeros_h, z_h=zeros_h)
        yhat0 = torch.zeros(n, dtype=dt_, device=dev)
        _, grad, hess = prob.loss.torch_terms(yhat0, prob.y)
        Bs = torch.diag_embed(blocks.pen) + 1e-8 * torch.eye(d, dtype=dt_, device=dev)
        if A.width:
            Bs = Bs + A.gram(A.mask)
        H = hess.clone()
        if prob.hinge:
            H = H + 0.5
        kkt = KKTSolver(prob, torch.ones(m, dtype=dt_, device=dev),
                        torch.zeros(m, d, dtype=dt_, device=dev), Bs, H, 1e-8)
        # rhs = -grad f(0) - c + G^T h
        g = grad.clone()
        if prob.hinge:
            g = g - prob.y  # G^T h through the eliminated xi (h = 1 on the margin rows)
        rt = torch.full((m,), -prob.beta, dtype=dt_, device=dev)
        rv = -blocks.adjoint(g)
        ra = -(prob.F.T @ g) if prob.q else None
        t, v, a = kkt.solve(rt, rv, ra)
        s_soc = torch.cat([t[:, None], v * blocks.pen], 1)
        s_lin = (A.apply(v) if A.width else torch.zeros(m, 0, dtype=dt_, device=dev))
        st.t, st.v = t, v
        if prob.q:
            st.a = a
        parts = [("soc", s_soc), ("lin", s_lin)]
        if prob.hinge:
            yhat = prob.predict(v, st.a)
            xi = 0.5 * (1.0 - prob.y * yhat)  # minimizer of xi^2 + (xi + y yhat - 1)^2
            st.xi = xi
            parts.append(("h", torch.stack([xi, xi + prob.y * yhat - 1.0])))
        rm = blocks.rmask
        shifted = {}
        for sign in (1.0, -1.0):
            worst = -math.inf
            for name, s in parts:
                if name == "soc":
                    e = sign * s[:, 0] - s[:, 1:].norm(dim=1)
                    worst = max(worst, float((-e).max()) if e.numel() else -math.inf)
                elif name == "lin":
                    if s.numel() and bool(rm.any()):
                        worst = max(worst, float((-sign * s)[rm].max()))
                elif s.numel():
                    worst = max(worst, float((-sign * s).max()))
            shift = (1.0 + worst) if worst >= 0 else 0.0
            for name, s in parts:
                val = sign * s
                if name == "soc":
                    val = val.clone()
                    val[:, 0] += shift
                else:
                    val = val + shift
                    if name == "lin":
                        val = torch.where(rm, val, torch.ones_like(val))
                shifted[(sign, name)] = val
        st.s_soc, st.z_soc = shifted[(1.0, "soc")], shifted[(-1.0, "soc")]
        st.s_lin, st.z_lin = shifted[(1.0, "lin")], shifted[(-1.0, "lin")]
        if prob.hinge:
            st.s_h, st.z_h = shifted[(1.0, "h")], shifted[(-1.0, "h")]
        # duals on the scale of the dual problem: z_soc = (beta, 0) (so the t-residual
        # is 0), hinge multipliers 1/2, and centered row multipliers z = mu0 / s
        st.z_soc = torch.zeros_like(st.s_soc)
        st.z_soc[:, 0] = prob.beta
        mu0 = float((st.s_soc[:, 0] * prob.beta).mean()) if m else 1.0
        st.z_lin = torch.where(rm, mu0 / st.s_lin, torch.ones_like(st.s_lin))
        if prob.hinge:
            st.z_h = torch.full_like(st.s_h, 0.5)
            st.s_h = torch.maximum(st.s_h, torch.full_like(st.s_h, 2 * mu0))
        return st

    # -- rows that join during the method ---------------------------------------------
    def add_rows(self, prob: Subproblem, st: IPMState, b_idx, j_idx) -> tuple[IPMState, tuple]:
        r"""Append the cone rows (local block ``b_idx``, sample ``j_idx``) to the subproblem
        and the iterate.  A row :math:`a^\top v \ge 0` that v violates gets the slack
        :math:`s = \max(|a^\top v|, \sqrt\mu)` -- its primal residual
        :math:`a^\top v - s` is then reduced like every other (infeasible start) -- and
        the multiplier :math:`z = \mu / s`, which puts the new pair on the central path.

        Returns the new iterate and ``(b_idx, j_idx, slot)``, where the rows went."""
        torch = _torch()
        blocks = prob.blocks
        tot, nu = complementarity(st, prob.blocks.rmask, prob.hinge)
        mu = tot / nu
        b_idx, j_idx, slot = blocks.add_rows(b_idx, j_idx)
        s_lin, z_lin = st.s_lin, st.z_lin
        pad = blocks.rows.shape[1] - s_lin.shape[1]
        if pad > 0:  # the row table widened: pad the iterate (masked slots hold ones)
            ones = torch.ones(blocks.m, pad, dtype=s_lin.dtype, device=s_lin.device)
            s_lin, z_lin = torch.cat([s_lin, ones], 1), torch.cat([z_lin, ones], 1)
        else:
            s_lin, z_lin = s_lin.clone(), z_lin.clone()
        sg = 2.0 * blocks.D[j_idx, blocks.pat[b_idx]].to(blocks.Xt.dtype) - 1.0
        val = sg * (blocks.Xt[j_idx] * st.v[b_idx]).sum(1)
        s_new = torch.clamp(val.abs(), min=math.sqrt(max(mu, 1e-300)))
        s_lin[b_idx, slot] = s_new
        z_lin[b_idx, slot] = mu / s_new
        return (IPMState(t=st.t, v=st.v, a=st.a, xi=st.xi, s_soc=st.s_soc, z_soc=st.z_soc,
                         s_lin=s_lin, z_lin=z_lin, s_h=st.s_h, z_h=st.z_h), (b_idx, j_idx, slot))

    # -- one predictor-corrector step -----------------------------------------------------
    def _newton_step(self, prob: Subproblem, st: IPMState, A: RowOps, res: dict, sc: dict,
                     kkt: KKTSolver, tot: float, mu: float) -> tuple[dict, float, float]:
        r"""The search direction of one iteration and its largest step to the cones'
        boundary: Mehrotra's predictor-corrector (centering :math:`\sigma =
        (\mu_{aff}/\mu)^3`), Gondzio's correctors and iterative refinement, all on the one
        factorization ``kkt``.  Returns (direction, largest step, sigma)."""
        torch = _torch()
        # 1) affine (predictor) direction: the residuals with the complementarity
        #    right-hand side -lambda o lambda
        rc_soc = -jordan_product(sc["lam_soc"], sc["lam_soc"])
        rc_lin = -sc["lam_lin"] ** 2
        rc_h = -sc["lam_h"] ** 2 if prob.hinge else None
        da = direction(prob, st, A, res, sc, kkt, rc_soc, rc_lin, rc_h, self.refine_reduced)
        alpha = min(1.0, max_step(prob, sc, da))
        # 2) centering parameter sigma = (mu_aff / mu)^3
        aff = step_state(st, da, alpha)
        tot_aff, _ = complementarity(aff, prob.blocks.rmask, prob.hinge)
        sigma = min(1.0, max(0.0, tot_aff / tot)) ** 3
        # 3) combined direction with the second-order (Mehrotra) correction; the
        #    direction is linear in the right-hand sides, so it is the affine one plus
        #    the direction of the change (one solve, not two)
        e = torch.zeros_like(st.s_soc)
        e[:, 0] = 1.0
        c_soc = -jordan_product(da["dst_soc"], da["dzt_soc"]) + sigma * mu * e
        c_lin = (-da["dst_lin"] * da["dzt_lin"] + sigma * mu) * A.mask
        c_h = (-da["dst_h"] * da["dzt_h"] + sigma * mu) if prob.hinge else None
        dd = add_directions(da, direction(prob, st, A, None, sc, kkt, c_soc, c_lin, c_h, self.refine_reduced))
        amax = max_step(prob, sc, dd)
        # 4) Gondzio's multiple centrality correctors (they reuse the factorization)
        for _ in range(self.correctors):
            if amax >= 1.0:
                break
            target = min(1.0, amax + self.corrector_step)
            v_soc, v_lin, v_h = gondzio_rhs(sc, dd, target, sigma * mu, A.mask, prob.hinge)
            trial = add_directions(dd, direction(prob, st, A, None, sc, kkt, v_soc, v_lin, v_h, self.refine_reduced))
            a_new = max_step(prob, sc, trial)
            if a_new < amax + 0.1 * self.corrector_step:
                break
            dd, amax = trial, a_new
        # 5) iterative refinement on the unreduced dual equation
        #    grad^2 f dx - G^T dz = -r_d (the reduced solve loses the small residual
        #    against the large scaling terms; its correction has a small right side)
        last, rd_scale = math.inf, abs_max(res["rd_t"], res["rd_v"], res["rd_a"], res["rd_xi"])
        for _ in range(self.refine):
            err = dual_equation(prob, A, res, dd)
            e = abs_max(*err.values())
            if e <= 1e-3 * max(rd_scale, 1e-300) or not e < 0.5 * last:
                break
            last = e
            fix = dict(rd_t=err["rd_t"], rd_v=err["rd_v"], rd_a=err["rd_a"], rd_xi=err["rd_xi"])
            trial = add_directions(dd, direction(prob, st, A, fix, sc, kkt, None, None, None, self.refine_reduced))
            e_new = abs_max(*dual_equation(prob, A, res, trial).values())
            if not e_new < e:
                break  # the correction made it worse: keep the direction
            dd = trial
            amax = max_step(prob, sc, dd)
        return dd, amax, sigma

    # -- main loop --------------------------------------------------------------------
    def solve(self, prob: Subproblem, state: IPMState | None = None, *,
              time_limit: float = math.inf, separate=None) -> IPMResult:
        """Run the method from ``state`` (or :meth:`initial_state`); returns the best
        iterate (smallest of the relative gap and residuals) with its status.

        ``separate(v)``, when given, is called before every iteration after the first
        :data:`SEPARATE_FROM` and returns the (block, sample) pairs of cone rows that
        ``v`` violates and the blocks do not hold yet (or None); they join the
        subproblem at once (:meth:`add_rows`) instead of restarting the method."""
        torch = _torch()
        t0 = time.perf_counter()
        st = self.initial_state(prob) if state is None else state
        blocks = prob.blocks
        A = RowOps.of(blocks)
        history = []
        status, it = "iteration_limit", 0
        pres = dres = gap = math.inf
        pobj = math.nan
        best = None
        rows_added = 0
        for it in range(self.max_iter + 1):
            if separate is not None and it >= SEPARATE_FROM:
                found = separate(st.v)
                if found is not None and found[0].numel():
                    st, added = self.add_rows(prob, st, *found)
                    A = A.with_rows(blocks, *added)
                    rows_added += int(added[0].numel())
                    best = None  # the iterates before had fewer rows
            res = residuals(prob, st, A)
            pobj = res["pobj"]
            tot, nu = complementarity(st, prob.blocks.rmask, prob.hinge)
            if not (math.isfinite(pobj) and math.isfinite(tot)) or not bool(torch.isfinite(res["rd_v"]).all()):
                status = "failed" if best is None else "stalled"  # numerical breakdown
                break
            mu = tot / nu
            scale = max(1.0, abs(pobj))
            pres = abs_max(res["rp_soc"], res["rp_lin"], res["rp_h"]) / (1.0 + abs_max(st.t, st.v))
            dres = abs_max(res["rd_t"], res["rd_v"], res["rd_a"], res["rd_xi"]) / max(res["rd_scale"], 1e-300)
            gap = tot / scale
            history.append((pobj, mu, pres, dres))
            if self.verbose:
                print(f"  ipm {it:3d}  p={pobj:.10e}  gap={gap:.2e}  pres={pres:.2e}  dres={dres:.2e}"
                      f"  rows={int(blocks.rmask.sum())}")
            merit = max(gap, pres, dres)
            if best is None or merit < best[2]:
                best = (st, (pobj, gap, pres, dres), merit, it)
            if merit <= self.tol:
                status = "optimal"
                break
            if best[2] <= 1e-5 and (merit > 1e3 * best[2] or it - best[3] >= 5):
                status = "stalled"  # roundoff floor: the residuals grow again or stall
                break
            if it == self.max_iter or time.perf_counter() - t0 > time_limit:
                break
            (btt, bvt, Bs), H, sc = scalings(prob, st, A, res["hess"], self.regularization)
            try:
                kkt = KKTSolver(prob, btt, bvt, Bs, H, self.regularization)
            except RuntimeError as exc:  # lost positive definiteness: numerical breakdown
                if self.verbose:
                    print("  ipm: factorization failed:", str(exc)[:200])
                status = "stalled"
                break
            dd, amax, sigma = self._newton_step(prob, st, A, res, sc, kkt, tot, mu)
            alpha = min(1.0, self.step_fraction * amax)
            if self.verbose:
                print(f"        sigma={sigma:.2e} alpha={alpha:.3f} schur columns={kkt.kept}")
            st = step_state(st, dd, alpha)
        if best is not None and status != "optimal":
            st, (pobj, gap, pres, dres) = best[0], best[1]  # the best iterate seen
        return IPMResult(state=st, status=status, iterations=it, primal=pobj, gap=gap, pres=pres,
                         dres=dres, time=time.perf_counter() - t0, history=history,
                         rows_added=rows_added)

