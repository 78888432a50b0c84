"""Objects that pickle without their transient parts (compiled solver state)."""

from __future__ import annotations


class Transient:
    """Mixin: the attributes named in ``_transient`` are pickled as None (a compiled cvxpy
    problem holds Clarabel's native solver, which cannot be pickled, and is rebuilt on
    demand); a shallow copy keeps them."""

    _transient: tuple[str, ...] = ()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for name in self._transient:
            if name in state:
                state[name] = None
        return state

    def __copy__(self):
        other = object.__new__(type(self))
        other.__dict__.update(self.__dict__)
        return other
