r"""The column-generation engine: one loop for every program kind (THEORY A.10, C, E.1).

Where the columns of a convex program (activation patterns, neuron directions, sub-network
groups) are too many to list, the program over a subset S gives an upper bound
:math:`p_S \ge p^\star`, and column generation grows S until no column is missing:

1. **Seed** S from the init networks and a short gradient run (every network whose
   columns are in S is a feasible point of the program over S, so :math:`p_S` is never
   worse than any of them).
2. **Master**: solve the program over S; its dual point :math:`\lambda = -\nabla\ell(\hat y)`.
3. **Pricing**: search the dual constraint (:math:`|\lambda^\top(\tilde Xu)_+| \le \beta`
   for two layers); columns that violate it join S.
4. **Descent**: local descent of the non-convex objective from the master's network and
   the violators; the columns of the network it reaches join S (the next master is at
   most its objective).
5. When neither adds a column, the kind's **exact pricing** (branch and bound, or an
   enumeration) either proves that no violated constraint exists -- the master is then
   the global optimum -- or adds the violators it finds.

The loop stops for a reason the report names: proven, nothing found by the search (the
kind's pricer decides how hard it looks, e.g. a confirming search before it reports
nothing), violations only on columns already in the program, stalled (the objective fell
by less than ``stall_rtol`` over ``stall_rounds`` rounds), ``max_rounds``, the pricer's own
work budget (e.g. search starts), or an explicit ``time_limit`` (checked between rounds).
Budgets count work, so the same input gives the same answer on any machine; seconds are
only a cap the user asks for.  A pricer may then ``finish`` the best master once
(re-solve it to full accuracy where its rounds solve the masters inexactly, or add the
columns of a last descent that went below it).  The kind's :class:`~convexnn.core.protocol.Pricer` does the work of each
step; this module never asks which kind it drives.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .core.protocol import Budget, Descended, Master, Priced

#: Why the loop stopped (``GenerationReport.stopped``), and whether the search converged.
STOPS = {
    "proven": "no violated constraint (proven by exact pricing)",
    "searched": "no violated constraint found by the pricing search (not a proof)",
    "no_new_columns": "violated constraints found only on columns already in the program "
                      "(the master's accuracy)",
    "stalled": "stalled",
    "max_rounds": "round budget",
    "work_budget": "the pricer's work budget",
    "time_limit": "time limit",
}
#: Stops at which the search had not converged (the fit's status is "iteration_limit").
UNFINISHED = ("max_rounds", "work_budget", "time_limit")


@dataclass
class GenerationReport:
    """What the column generation did (``FitResult.generation``)."""

    columns_name: str = "columns"
    rounds: int = 0
    stopped: str = ""
    reason: str = ""
    time: float = 0.0
    seed_objective: float = float("nan")
    budget: Budget | None = None
    history: list[dict] = field(default_factory=list)
    #: the exact pricing's evidence that the final master's dual point is feasible
    proof: Any = None
    #: seconds of the pricer's optional ``finish(best)`` step (0 when it has none)
    finish_time: float = 0.0
    #: the pricer's record of the final master's search (``Priced.search``) when the loop
    #: stopped on it ("searched"): what the certificate quotes when nothing is proven
    search: Any = None

    @property
    def converged(self) -> bool:
        """The loop ended for a reason other than a budget."""
        return self.stopped not in UNFINISHED

    def summary_line(self) -> str:
        last = self.history[-1] if self.history else {}
        return (f"{self.rounds} rounds, {last.get('columns', 0)} {self.columns_name} at the "
                f"end, stopped: {self.reason}, {self.time:.2f}s")


@dataclass
class Generated:
    """The engine's answer: the best master's program and solution, and the report."""

    program: Any
    solution: Any
    report: GenerationReport


def _stalled(history: list[dict], budget: Budget) -> bool:
    """The objective fell by less than ``stall_rtol`` (relative) over ``stall_rounds``."""
    k = budget.stall_rounds
    if not k or len(history) <= k:
        return False
    old, new = history[-1 - k]["objective"], history[-1]["objective"]
    return old - new <= budget.stall_rtol * max(1.0, abs(old))


def _stop(report: GenerationReport, code: str, detail: str = "") -> None:
    report.stopped = code
    report.reason = STOPS[code] + (f" ({detail})" if detail else "")


def _decide(pricer: Any, m: Master, priced: Priced, descended: Descended,
            report: GenerationReport, budget: Budget, *, last_is_best: bool) -> None:
    """After a round's pricing and descent: stop (``report.stopped`` set) or go on.

    A round that adds columns goes on unless the pricer's work budget is spent or the
    objective stalled (a stall ends only a search: exact pricing's violators go on).  A round that adds none asks the exact pricing (where the kind has
    one): proven stops, violators go on; otherwise the loop stops on the search (or on
    stale violators), and the search's record joins the report when this master is the
    one returned."""
    entry = report.history[-1]
    if not priced.added and not descended.added:
        proof = pricer.prove(m) if budget.prove else None
        if proof is not None:
            entry["exact_pricing"] = proof.outcome
            if proof.outcome == "proven":
                report.proof = proof.evidence
                _stop(report, "proven")
                return
            if proof.outcome == "violated" and proof.added:
                entry["new_pricing"] = proof.added
        if not entry["new_pricing"]:
            if priced.stale:
                _stop(report, "no_new_columns", priced.note)
            else:
                _stop(report, "searched", priced.note)
                report.search = priced.search if last_is_best else None
            return
    if priced.exhausted:
        _stop(report, "work_budget", priced.exhausted)
    elif not priced.exact and _stalled(report.history, budget):
        _stop(report, "stalled", f"less than {budget.stall_rtol:g} relative decrease over "
                                 f"{budget.stall_rounds} rounds")


def _line(entry: dict, name: str) -> str:
    return (f"round {entry['round']}: {entry['columns']} {name}, objective "
            f"{entry['objective']:.10g}, max s/beta {entry['max_violation']:.6f}, "
            f"+{entry['new_pricing']} priced, +{entry['new_descent']} descent, "
            f"{entry['time']:.2f}s")


def generate(pricer: Any, budget: Budget, *, progress: Any = None,
             verbose: bool = False) -> Generated:
    """Run the loop of the module docstring with ``pricer`` under ``budget``.

    ``progress`` is a :func:`convexnn.core.progress.bar`-like object (or None for none);
    ``verbose`` prints one line per round.  Returns the best master (the lowest objective;
    with exact masters, the last).
    """
    t0 = time.perf_counter()
    report = GenerationReport(columns_name=pricer.columns_name, budget=budget)
    pricer.start(report)
    best: Master | None = None
    for rnd in range(1, budget.max_rounds + 1):
        t_round = time.perf_counter()
        m = pricer.master()
        if best is None or m.objective <= best.objective + 1e-12 * max(1.0, abs(m.objective)):
            best = m
        entry = {"round": rnd, "columns": pricer.n_columns, "objective": m.objective}
        priced = pricer.price(m)
        descended = pricer.descend(m, priced)
        entry.update(max_violation=priced.found, new_pricing=priced.added,
                     new_descent=descended.added, descent_objective=descended.objective,
                     **priced.detail)
        report.rounds = rnd
        report.history.append(entry)
        _decide(pricer, m, priced, descended, report, budget, last_is_best=best is m)
        entry["time"] = time.perf_counter() - t0
        entry["round_time"] = time.perf_counter() - t_round
        if verbose:
            print(_line(entry, pricer.columns_name), flush=True)
        if progress is not None:
            progress.update(objective=m.objective, s_beta=priced.found, columns=entry["columns"])
        if report.stopped:
            break
        if budget.time_limit is not None and time.perf_counter() - t0 > budget.time_limit:
            _stop(report, "time_limit", f"{budget.time_limit:g}s")
            break
        pricer.advance(m)
    else:
        _stop(report, "max_rounds", f"{budget.max_rounds} rounds")
    finish = getattr(pricer, "finish", None)
    if finish is not None:  # a pricer whose rounds solve their masters inexactly
        t_finish = time.perf_counter()
        best = finish(best)
        report.finish_time = time.perf_counter() - t_finish
    report.time = time.perf_counter() - t0
    return Generated(best.program, best.solution, report)


__all__ = ["Budget", "GenerationReport", "Generated", "STOPS", "UNFINISHED", "generate"]
