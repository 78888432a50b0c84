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

from typing import Any, Protocol, runtime_checkable

import numpy as np

from .losses import Loss
from .solution import ConvexSolution


@runtime_checkable
class BlockProgram(Protocol):
    """A convex program the working-set solver can solve and certify (see the module
    docstring).  :class:`~convexnn.two_layer.program.TwoLayerProgram` (C-ReLU and C-GReLU)
    implements it."""

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


__all__ = ["BlockProgram"]
