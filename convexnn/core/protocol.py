r"""The block-program protocol: what the working-set solver consumes of a convex program.

A *block program* is a convex program of the form

.. math::
    \min_{v, a}\ \ell\Big(\sum_b M_b v_b + F a;\ y\Big) + \beta\sum_b \|v_{b,\pi}\|_2
    \quad\text{s.t.}\quad A_b v_b \ge 0,

with a linear map :math:`M_b` per block (and its adjoint), optional cone rows
:math:`A_b`, a group norm over the penalized coordinates :math:`\pi`, and free terms
:math:`F a`.  The solver follows cvxpy's reduction contract: :meth:`BlockProgram.block_set`
*applies* (the program as torch blocks), the interior-point method solves on a working set
of them, :meth:`BlockProgram.solution_from_blocks` *inverts* (block variables back to the
program's solution), and the certificate prices every block's dual constraint
:math:`\max_{u \in K_b,\|u_\pi\|\le 1}\lambda^\top M_bu \le \beta` with the loss oracle's dual
point.  See ``docs/architecture.md`` for how each program maps onto it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .losses import Loss
from .solution import ConvexSolution


@runtime_checkable
class BlockProgram(Protocol):
    """A convex program the working-set solver can solve and certify (see the module
    docstring).  :class:`~convexnn.two_layer.program.TwoLayerProgram` (C-ReLU and C-GReLU)
    and :class:`~convexnn.cnn.program.ConvProgram` (pooled blocks) implement it."""

    y: np.ndarray
    beta: float
    loss: Loss
    Xt: np.ndarray

    @property
    def n_samples(self) -> int: ...

    @property
    def n_patterns(self) -> int: ...

    @property
    def free_basis(self) -> np.ndarray | None:
        """F, the columns of the free terms (None without free terms)."""

    @property
    def has_cone_rows(self) -> bool:
        r"""Whether blocks carry cone rows :math:`A_bv_b \ge 0`."""

    def block_set(self, device: Any) -> Any:
        """Apply: every block as a :class:`~convexnn.solvers.blocks.BlockSet` (linear
        maps, adjoints, group-norm masks, cone rows)."""

    def solution_from_blocks(self, blocks: Any, v: Any, a: Any, Q: Any) -> ConvexSolution:
        """Invert: block variables and free coefficients as the program's solution."""

    def predict(self, sol: ConvexSolution) -> np.ndarray:
        """The prediction :math:`\\sum_b M_bv_b + Fa` in numpy."""

    def objective(self, sol: ConvexSolution) -> float:
        """The program's objective in numpy."""

    def constraint_violation(self, sol: ConvexSolution) -> float:
        """Relative violation of the cone rows (0 without them)."""

    def recover(self, sol: ConvexSolution, **options: Any) -> Any:
        """A network with the same objective."""



@runtime_checkable
class ConvexProgram(Protocol):
    """What the pipeline (:mod:`convexnn.pipeline`) asks of every program kind's program:
    evaluate a solution in numpy, recover a network with the same objective, describe
    itself."""

    y: np.ndarray
    beta: float
    loss: Loss

    @property
    def n_samples(self) -> int: ...

    def predict(self, sol: Any) -> np.ndarray:
        """The program's prediction at ``sol``."""

    def objective(self, sol: Any) -> float:
        """The convex objective at ``sol``, in numpy."""

    def constraint_violation(self, sol: Any) -> float:
        """Relative violation of the program's constraints (0 without any)."""

    def recover(self, sol: Any, *, prune: bool = True) -> Any:
        """The network of ``sol`` (same objective)."""

    def network_objective(self, net: Any) -> float:
        """The non-convex objective of a network on the program's data."""

    def describe(self) -> dict[str, Any]:
        """Keys "model", "loss", "variant" (text), "n", "d", "beta", "columns" (count),
        "columns_name" ("patterns", "neurons", "groups"), "source" (how the columns were
        made)."""


@runtime_checkable
class ProgramKind(Protocol):
    """One program kind (a subpackage: ``two_layer``, ``vector``, ``three_layer``, ``cnn``): what
    the registry (:mod:`convexnn.kinds`) and the pipeline need of it.  Nothing outside the
    kind's subpackage names it, except the registry."""

    name: str

    def accepts(self, spec: Any) -> bool:
        """Whether this kind solves ``spec`` (:class:`~convexnn.core.spec.FitSpec`)."""

    def check(self, spec: Any, data: Any) -> None:
        """Refuse what the kind does not support (clear errors naming the argument)."""

    def plan(self, spec: Any, data: Any) -> Any:
        """The work: a :class:`~convexnn.pipeline.Plan` (a program over fixed columns, or a
        pricer for the column-generation engine)."""

    def certify(self, result: Any) -> Any:
        """The certificate of a fit's recovered network."""


@runtime_checkable
class Pricer(Protocol):
    """A program kind's column oracle for the column-generation engine
    (:mod:`convexnn.generation`): patterns, neuron directions, or sub-network groups.

    Optional: ``finish(best) -> Master``, called once after the loop with the best master
    (a pricer whose rounds solve their masters inexactly re-solves the last one there; one
    whose last descent went below every master adds that network's columns)."""

    #: what a column is, in words ("patterns", "neurons", "groups")
    columns_name: str

    @property
    def n_columns(self) -> int: ...

    def start(self, report: Any) -> None:
        """Seed the columns (from the init networks and a short gradient run)."""

    def master(self) -> Any:
        """Solve the program over the current columns: a ``Master``."""

    def price(self, master: Any) -> Any:
        """Search the dual constraint at the master's dual point; add the violators:
        a ``Priced``."""

    def descend(self, master: Any, priced: Any) -> Any:
        """Local descent of the non-convex objective from the master's network and the
        violators; add the columns of the network it reaches: a ``Descended``."""

    def prove(self, master: Any) -> Any:
        """Exact pricing where the kind has one (a ``Proof``), else None."""

    def advance(self, master: Any) -> None:
        """The next round's columns: the master's active ones and the new ones."""


# ---- what a kind's pricer hands the engine (convexnn.generation) ----------------------
@dataclass(frozen=True)
class Budget:
    """The work the loop may do: rounds, the stall rule, and an optional time cap."""

    max_rounds: int
    stall_rounds: int = 3
    stall_rtol: float = 1e-4
    time_limit: float | None = None
    prove: bool = True


@dataclass
class Master:
    """A master program's answer: the program over the current columns, its solution and
    objective (recomputed in numpy), and whatever the pricer keeps of it (``state``)."""

    program: Any
    solution: Any
    objective: float
    state: Any = None


@dataclass
class Priced:
    """One pricing search: the largest constraint value found over beta, the columns
    added, and details for the report.

    ``note`` says what the search covered, in words (the stop's reason quotes it when the
    round adds nothing); ``search`` is the pricer's record of that search (e.g. a
    :class:`~convexnn.duality.certificate.SearchRecord`, which the certificate quotes);
    ``stale``: violated constraints were found, but only on columns already in the program
    (the master's accuracy); ``exhausted``: the pricer's own work budget (e.g. search
    starts) is spent, in words: the loop ends after this round; ``exact``: the pricing
    was exhaustive, so its violators prove the master is not optimal and the stall rule
    does not end the loop.
    """

    found: float
    added: int
    detail: dict = field(default_factory=dict)
    note: str = ""
    search: Any = None
    stale: bool = False
    exhausted: str = ""
    exact: bool = False


@dataclass
class Descended:
    """One descent: the objective reached and the columns added."""

    objective: float = float("nan")
    added: int = 0


@dataclass
class Proof:
    """Exact pricing's outcome: "proven" (no violated constraint), "violated" (``added``
    columns found), or "budget" (its work budget ended: no proof either way);
    ``evidence`` is what the certificate may reuse."""

    outcome: str
    added: int = 0
    evidence: Any = None


@dataclass
class Plan:
    """A kind's plan for a spec: a ``program`` over fixed columns with its ``solver``, or a
    ``pricer`` for the column-generation engine with its ``budget``; ``time``: seconds
    spent planning."""

    program: Any = None
    solver: Callable | None = None
    pricer: Any = None
    budget: Any = None
    time: float = 0.0


__all__ = ["BlockProgram", "Budget", "ConvexProgram", "Descended", "Master", "Plan", "Priced",
           "Pricer", "ProgramKind", "Proof"]
