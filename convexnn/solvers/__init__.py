"""Solvers of the convex programs: the registry (:mod:`~convexnn.solvers.registry`:
``SOLVERS``, :func:`choose_solver`), convexnn's working-set interior-point method
(:mod:`~convexnn.solvers.working_set`), the CVXPY adapters (:mod:`~convexnn.solvers.cvxpy_backend`)
and group FISTA (:mod:`~convexnn.solvers.group_fista`).

Names load on first use, so that importing one solver module imports no other.
"""

from __future__ import annotations

from importlib import import_module

_EXPORTS = {
    "SOLVERS": "registry", "choose_solver": "registry", "solve_auto": "registry",
    "solve_cvxpy": "cvxpy_backend", "solve_problem": "cvxpy_backend",
    "mosek_license": "cvxpy_backend",
    "solve_working_set": "working_set", "WorkingSetSolver": "working_set",
    "MemoryBudgetError": "working_set",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'convexnn.solvers' has no attribute {name!r}")


def __dir__():
    return __all__
