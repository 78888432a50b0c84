r"""What :func:`convexnn.fit` returns, for every program kind: :class:`FitResult`.

A fit solved a convex program over a set of columns (activation patterns, neuron
directions, or sub-network groups), re-evaluated the answer in numpy, recovered a network
whose non-convex objective equals the convex one, and (by default) certified it.  The
fields and the summary are the same whatever the kind; the program (``result.program``)
says which kind it was (``program.describe()``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


def rel_diff(a: float, b: float) -> float:
    r""":math:`|a - b| / \max(1, |b|)`: the package's one relative difference."""
    return abs(a - b) / max(1.0, abs(b))


@dataclass
class FitResult:
    """What :func:`convexnn.fit` returns.

    Attributes
    ----------
    objective : float
        The convex optimum over the program's columns, recomputed in numpy.
    status : str
        The solve's status (:mod:`convexnn.core.solution`): "optimal" (solved to tolerance,
        and for a generated program the pricing found no violated constraint),
        "inaccurate" (a numpy re-check failed) or "iteration_limit" (a budget ended
        first).  What is proven about the *global* optimum is the certificate's word.
    network : Network or ParallelNetwork
        The recovered network.
    recovered_objective : float
        The network's non-convex objective (equals ``objective`` at an optimum).
    program
        The convex program (its ``describe()`` names the kind, data and columns).
    solution
        The program's solution (a :class:`~convexnn.core.solution.SolveRecord`).
    solver : str
        The solver asked for ("auto" resolved by the kind).
    constraint_violation : float
        Relative violation of the program's cone constraints, recomputed.
    exhaustive : bool
        Whether the columns are every cell (group) there is: then ``objective`` is the
        global optimum for every width at least the network's.
    timings : dict of str to float
        Seconds per phase, and "total".
    seed : int or None
    certificate : Certificate or None
        The dual certificate of ``network`` (``certify=True``).
    generation : GenerationReport or None
        The column generation's rounds, when the columns were generated.
    messages : list of str
        Notes from the re-checks, budgets and solvers.
    classes_ : ndarray or None
        Class labels of the outputs (cross-entropy).
    """

    objective: float
    status: str
    network: Any
    recovered_objective: float
    program: Any
    solution: Any
    solver: str
    constraint_violation: float
    exhaustive: bool
    timings: dict[str, float]
    seed: Any = None
    certificate: Any = None
    generation: Any = None
    messages: list[str] = field(default_factory=list)
    classes_: np.ndarray | None = None
    #: the validated request (:class:`~convexnn.core.spec.FitSpec`)
    spec: Any = field(default=None, repr=False)

    # ---- views ------------------------------------------------------------------------
    @property
    def n_active(self) -> int:
        """Number of active neurons (sub-networks for a parallel network)."""
        return self.network.width

    @property
    def beta(self) -> float:
        return self.program.beta

    @property
    def problem(self) -> Any:
        """The compiled ``cvxpy.Problem`` where a CVXPY solver ran, else None."""
        return getattr(self.program, "_problem", None)

    @property
    def patterns(self) -> np.ndarray:
        """The activation patterns of the program (n, P) (two-layer programs)."""
        return self.program.D

    @property
    def gates(self) -> np.ndarray | None:
        """The gates of a gated program's patterns (None for ReLU)."""
        pset = getattr(self.program, "patterns", None)
        return None if pset is None else pset.gates

    @property
    def groups(self) -> Any:
        """The sub-network groups of a three-layer program."""
        return self.program.groups

    def predict(self, X: Any) -> np.ndarray:
        """The recovered network's outputs at X."""
        return self.network.predict(X)

    def predict_labels(self, X: Any) -> np.ndarray:
        """Class labels (``classes_``) of the largest output at X (cross-entropy fits)."""
        if self.classes_ is None:
            raise ValueError("this fit has no classes_ (not a cross-entropy fit)")
        return self.classes_[np.argmax(self.network.predict(X), axis=1)]

    # ---- words --------------------------------------------------------------------------
    def __repr__(self) -> str:  # a few lines (the generated one prints every array)
        from .reprs import fit_result

        return fit_result(self)

    def summary(self) -> str:
        """A report in plain words: the model, the answer and what is proven about it; the
        solver's and the certificate's details follow under "details"."""
        p = self.program.describe()
        lines = [f"{p['model'][0].upper()}{p['model'][1:]} network ({p['loss']} loss"
                 f"{p.get('variant', '')}), n={p['n']}, d={p['d']}, beta={p['beta']:g}",
                 f"  objective      : {self.recovered_objective:.10g} (training loss + weight "
                 f"decay of the recovered network, {self.n_active} active neurons)"]
        if self.certificate is not None:
            lines.append(f"  global optimum : {self.certificate.statement()}")
        lines.append(f"  solved         : {self._scope(p)}")
        lines.append(f"  time           : {self.timings.get('total', float('nan')):.3g} s")
        return "\n".join(lines + ["details", *self._details(p)])

    def _scope(self, p: dict) -> str:
        """What the convex solve covered, in words."""
        cols = f"{p['columns']} {p['columns_name']}"
        if self.exhaustive:
            return f"exactly, over every one of the {cols} there are ({self.status})"
        if self.status == "iteration_limit":
            return (f"over {cols} ({p['source']}), stopped by a budget: an upper bound on the "
                    "global optimum")
        cert = self.certificate
        if cert is not None and cert.certified and not cert.over_gates:
            return (f"over {cols} ({p['source']}); the certificate proves they are enough: "
                    "this is the global optimum")
        only = f"over {cols} ({p['source']}): optimal over the {p['source']} {p['columns_name']} only"
        return only if cert is not None and cert.over_gates else \
            only + ", an upper bound on the global optimum"

    def _details(self, p: dict) -> list[str]:
        sol = self.solution
        switched = f" -> {sol.solver}" if sol.solver and sol.solver != self.solver else ""
        lines = [
            f"  convex objective : {self.objective:.10g} (network objective "
            f"{self.recovered_objective:.10g}, rel. diff "
            f"{rel_diff(self.recovered_objective, self.objective):.1e})",
            f"  active neurons   : {self.n_active} (n = {p['n']})",
            f"  solver / status  : {self.solver}{switched} / {self.status} ({sol.solver_status})",
        ]
        if self.generation is not None:
            lines.append(f"  generation       : {self.generation.summary_line()}")
        c = self.certificate
        if c is not None:
            lines.append(f"  certificate      : {c.verdict} ({c.method}); lower bound "
                         f"{c.lower_bound:.10g}, gap {c.gap:.3g} (rel {c.relative_gap:.2e}); "
                         f"s/beta found {c.s_found / c.beta:.6g}, proven <= {c.s / c.beta:.6g}")
        t = self.timings
        lines.append("  time [s]         : " + ", ".join(f"{k} {v:.3f}" for k, v in t.items()))
        lines += [f"  note             : {m}" for m in self.messages]
        return lines


__all__ = ["FitResult", "rel_diff"]
