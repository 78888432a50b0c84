r"""Parallel three-layer networks: the convex optimum (``fit(..., depth=3)``) against L-BFGS
runs of the same architecture and path penalty from many seeds; every run must end at or
above the optimum when the groups are exhaustive (THEORY E.1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class ParallelComparison:
    """Convex optimum against gradient runs of the same architecture."""

    optimum: float
    exhaustive: bool
    runs: list  # of convexnn.training.parallel.ParallelRun

    @property
    def best(self) -> float:
        return min(r.objective for r in self.runs)

    def table(self) -> str:
        lines = [f"convex optimum {self.optimum:.10g} ({'exact' if self.exhaustive else 'upper bound'})",
                 " seed   objective        (F - p*)/p*"]
        for r in sorted(self.runs, key=lambda r: r.objective):
            lines.append(f" {r.seed:4d}   {r.objective:.10g}   {(r.objective - self.optimum) / abs(self.optimum):+.2e}")
        return "\n".join(lines)

    __str__ = table


def compare_parallel(X: Any, y: Any, *, beta: float, path: str = "l2", m1: int = 2, K: int = 10,
                     seeds: Any = 10, result: Any = None, max_iter: int = 2000,
                     loss: Any = "squared") -> ParallelComparison:
    """Fit the convex program (unless ``result`` is given) and run L-BFGS from ``seeds``."""
    from ..api import fit
    from .parallel import train_parallel

    if result is None:
        result = fit(X, y, beta=beta, depth=3, path=path, m1=m1, loss=loss)
    seeds = range(seeds) if isinstance(seeds, int) else seeds
    runs = [train_parallel(X, y, beta=beta, path=path, K=K, m1=m1, seed=s, max_iter=max_iter,
                           loss=loss) for s in seeds]
    return ParallelComparison(result.objective, result.exhaustive, runs)


__all__ = ["ParallelComparison", "compare_parallel"]
