r"""The two-layer pricing search's rules: how hard a round looks, and when nothing is found.

At a master's dual point :math:`\lambda` a round searches
:math:`\max_{\|u_\pi\|\le1}|\lambda^\top(\tilde Xu)_+|` with
:func:`convexnn.duality.pricing_search.search` (annealed ascent from :data:`ROUND_BUDGET`
random starts, from the master's neurons and from the last round's violators, exact cell
maxima, climbs into neighbouring cells).  When it finds nothing above
:math:`\beta(1 + \varepsilon)` a **confirming search** of :data:`CONFIRM_BUDGET` starts
looks again; only when that finds nothing either does the round report nothing (and the
loop stop).  Where branch and bound can prove (low rank, every coordinate penalized) there
is no confirming search: the proof decides, and the search's level is
:math:`\beta(1 + 10^{-6})`.  Every budget counts starts, never
seconds.  What the two searches covered is kept as a
:class:`~convexnn.duality.certificate.SearchRecord`: a statement about the search, not a
proof.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..duality.certificate import SearchRecord
from ..duality.pricing_search import Candidates, SearchBudget, search

#: The search of a round: random starts of the annealed ascent, plus the master's neurons
#: and the last round's violators as warm starts.
ROUND_BUDGET = SearchBudget(starts=2048)
#: The search that must also find nothing before a round reports nothing (the size of the
#: referee of ``benchmarks/check_dual_point.py``: 20,000 random starts).
CONFIRM_BUDGET = SearchBudget(starts=20480, polish=256, climb=32)
#: Where branch and bound cannot prove, the loop goes on while a search finds a value
#: above beta (1 + SEARCH_RTOL): smaller violations move the objective little (diabetes:
#: the last 15 rounds above 1.005 took 40.2101 to 40.1933) and the masters' accuracy
#: (relative gap 1e-5) blurs them.
SEARCH_RTOL = 5e-3
#: Where branch and bound proves (low rank, every coordinate penalized), the search's
#: level is its own: beta (1 + PROVE_RTOL).
PROVE_RTOL = 1e-6
#: In a round that goes on, every direction above beta (1 + ADD_RTOL) is a violator: the
#: best MAX_ADD of their cells join the program.
ADD_RTOL = 1e-6
MAX_ADD = 256
#: Up to SEARCH_SAMPLES samples the budgets above hold as written; above, the random
#: starts and MAX_ADD shrink by SEARCH_SAMPLES / n (an ascent step and a master both cost
#: in proportion to n; synthetic n = 10,000: a round's search of 2,048 starts took 46 s,
#: its master 16-34 s), down to MIN_STARTS starts (round, confirming) and MIN_ADD patterns.
SEARCH_SAMPLES = 512
MIN_STARTS = (256, 2048)
MIN_ADD = 32
#: Violators carried to the next round's search as warm starts.
WARM_KEEP = 256
#: Work budget of the whole loop: random and warm starts of all its searches.
MAX_SEARCH_STARTS = 1_000_000


@dataclass(frozen=True)
class Rule:
    """The search rule for one data set: the two budgets (no confirming search: None), the
    level a violation must pass for the loop to go on, and the patterns a round may add."""

    round_budget: SearchBudget
    confirm_budget: SearchBudget | None
    rtol: float
    max_add: int

    def level(self, beta: float) -> float:
        return beta * (1.0 + self.rtol)


def rule_for(n: int, *, provable: bool) -> Rule:
    """The :class:`Rule` for n samples (:data:`SEARCH_SAMPLES`); ``provable``: branch and
    bound can prove, so the search's level is :data:`PROVE_RTOL` and there is no
    confirming search."""
    f = min(1.0, SEARCH_SAMPLES / n)
    rb, cb = (b.scaled(f) if b.starts * f >= lo else b.scaled(lo / b.starts)
              for b, lo in zip((ROUND_BUDGET, CONFIRM_BUDGET), MIN_STARTS))
    return Rule(rb, None if provable else cb, PROVE_RTOL if provable else SEARCH_RTOL,
                max(MIN_ADD, int(MAX_ADD * f)))


@dataclass
class Searched:
    """A round's search: the candidates whose violators the round adds, the record of what
    was searched at this dual point, and the starts spent (random and warm)."""

    candidates: Candidates
    record: SearchRecord
    starts: int

    def violators(self, beta: float, rule: Rule) -> np.ndarray:
        """Mask of the candidates that are violators: above beta (1 + ADD_RTOL) when the
        search found one above the rule's level, else none."""
        c = self.candidates
        if c.best <= rule.level(beta):
            return np.zeros(c.values.shape, dtype=bool)
        return c.values > beta * (1 + ADD_RTOL)


def search_round(Xt: np.ndarray, lam: np.ndarray, *, beta: float, rule: Rule,
                 rng: np.random.Generator, free: np.ndarray | None, warm: np.ndarray,
                 warm_signs: np.ndarray) -> Searched:
    r"""The round's search, and the confirming search when it finds nothing above the
    rule's level (module docstring).  The record counts the random starts of both and the
    largest :math:`|\lambda^\top(\tilde Xu)_+|/\beta` either attained."""
    kw = dict(rng=rng, free=free, warm=warm, warm_signs=warm_signs)
    cand = search(Xt, lam, budget=rule.round_budget, **kw)
    starts, restarts, found = cand.starts, rule.round_budget.starts, cand.best
    if cand.best <= rule.level(beta) and rule.confirm_budget is not None:
        confirm = search(Xt, lam, budget=rule.confirm_budget, **kw)
        starts, restarts = starts + confirm.starts, restarts + rule.confirm_budget.starts
        found = max(found, confirm.best)
        if confirm.best > cand.best:
            cand = confirm
    record = SearchRecord(restarts=restarts, found=found / beta, level=1.0 + rule.rtol)
    return Searched(cand, record, starts)


__all__ = ["ADD_RTOL", "CONFIRM_BUDGET", "MAX_ADD", "MAX_SEARCH_STARTS", "MIN_ADD",
           "MIN_STARTS", "PROVE_RTOL", "ROUND_BUDGET", "Rule", "SEARCH_RTOL",
           "SEARCH_SAMPLES", "Searched", "WARM_KEEP", "rule_for", "search_round"]
