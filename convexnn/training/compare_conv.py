r"""Two-layer ReLU CNNs: the convex program (``fit(..., conv=...)``) against torch L-BFGS
runs of the same CNN and penalty from many seeds (THEORY D).

Every run's network is a feasible point of the convex program over its own patterns, so
with every cell of the stacked patch matrix the convex optimum is at most every run; with
generated patterns the convex value is an upper bound on the optimum that the runs may in
principle beat, and the comparison shows whether they do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class ConvComparison:
    """The convex fit and the gradient runs (:class:`~convexnn.training.conv_train.ConvRun`)."""

    optimum: Any
    runs: list
    width: int

    @property
    def best(self) -> Any:
        """The run with the lowest objective."""
        return min(self.runs, key=lambda r: r.objective)

    @property
    def ratio(self) -> float:
        """Convex objective over the best run's (<= 1: the convex fit is at least as good)."""
        return self.optimum.objective / self.best.objective

    def table(self) -> str:
        opt = self.optimum
        cert = opt.certificate
        lb = f", lower bound {cert.lower_bound:.10g}" if cert is not None else ""
        lines = [f"convex fit {opt.objective:.10g} ({'exact' if opt.exhaustive else 'generated'} "
                 f"patterns: {opt.program.n_patterns}, {opt.network.width} filters{lb}, "
                 f"{opt.timings.get('total', float('nan')):.1f} s)",
                 f"L-BFGS runs of width {self.width}:",
                 " seed   objective          (F - p)/|p|   iterations  time[s]"]
        for r in sorted(self.runs, key=lambda r: r.objective):
            rel = (r.objective - opt.objective) / abs(opt.objective)
            lines.append(f" {r.seed:4d}   {r.objective:<17.10g}  {rel:+.2e}     {r.iterations:6d}"
                         f"   {r.time:7.2f}")
        return "\n".join(lines)

    __str__ = table


def compare_conv(X: Any, y: Any, *, beta: float, conv: Any, seeds: Any = 10,
                 width: int | None = None, result: Any = None, loss: Any = "squared",
                 bias: str = "regularized", output_bias: bool = False, max_iter: int = 2000,
                 **fit_options) -> ConvComparison:
    """Fit the convex CNN program (unless ``result`` is given) and run L-BFGS from
    ``seeds`` (an int: seeds 0..seeds-1) with ``width`` filters (default: twice the
    recovered network's, at least 16)."""
    from ..api import fit
    from .conv_train import train_conv

    if result is None:
        result = fit(X, y, beta=beta, conv=conv, loss=loss, bias=bias, output_bias=output_bias,
                     **fit_options)
    width = max(2 * result.network.width, 16) if width is None else int(width)
    seeds = range(seeds) if isinstance(seeds, int) else seeds
    runs = [train_conv(X, y, conv=conv, width=width, beta=beta, loss=loss, bias=bias,
                       output_bias=output_bias, seed=s, max_iter=max_iter) for s in seeds]
    return ConvComparison(result, runs, width)


__all__ = ["ConvComparison", "compare_conv"]
