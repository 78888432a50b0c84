r"""The data of one interior-point solve: the working-set subproblem and its iterates.

.. math::
    \min_{t, v, a}\ \ell\Big(\sum_b M_b v_b + F a\Big) + \beta\sum_b t_b
    \quad\text{s.t.}\quad (t_b, v_{b,\pi}) \in \mathcal Q,\quad A_b v_b \ge 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.losses import Loss, get_loss
from .blocks import BlockSet


@dataclass
class Subproblem:
    """Data of the working-set program: blocks, targets, loss oracle, beta, free basis F
    (n, q).  ``loss`` may be given by name; it is stored as a :class:`~convexnn.core.losses.Loss`."""

    blocks: BlockSet
    y: object
    loss: Loss
    beta: float
    F: object = None  # torch (n, q) orthonormal, or None
    cache: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.loss = get_loss(self.loss)

    @property
    def q(self) -> int:
        return 0 if self.F is None else int(self.F.shape[1])

    @property
    def hinge(self) -> bool:
        r"""Whether the loss enters as the LP epigraph :math:`\xi \ge 0,\
        \xi + y\circ\hat y \ge 1` (the hinge, the one loss the method takes without a
        Hessian) instead of through its gradient and Hessian diagonal."""
        return self.loss.epigraph_lp

    def predict(self, v, a):
        yhat = self.blocks.predict(v)
        if self.F is not None:
            yhat = yhat + self.F @ a
        return yhat


@dataclass
class IPMState:
    """Iterate of :class:`InteriorPoint` (primal t, v, a, xi; slacks s_*, duals z_*)."""

    t: object
    v: object
    a: object
    xi: object
    s_soc: object
    z_soc: object
    s_lin: object
    z_lin: object
    s_h: object  # (2, n) hinge slacks, or None
    z_h: object


def complementarity(st: IPMState, rmask, hinge: bool) -> tuple[float, int]:
    r"""(:math:`s^\top z`, :math:`\nu`): the total complementarity of an iterate over its
    cones, working rows (``rmask``) and hinge pairs, and their number (degree);
    :math:`\mu = s^\top z/\nu`."""
    tot = float((st.s_soc * st.z_soc).sum()) + float((st.s_lin * st.z_lin * rmask).sum())
    nu = st.s_soc.shape[0] + int(rmask.sum())
    if hinge:
        tot += float((st.s_h * st.z_h).sum())
        nu += 2 * st.s_h.shape[1]
    return tot, max(nu, 1)


@dataclass
class IPMResult:
    state: IPMState
    status: str  # "optimal" | "iteration_limit" | "stalled" (numerical floor) | "failed"
    iterations: int
    primal: float
    gap: float
    pres: float
    dres: float
    time: float
    history: list = field(default_factory=list)
    rows_added: int = 0  # cone rows that joined during the solve (``separate``)

