"""Input checks that turn bad input into clear errors at the public boundary."""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Integral, Real
from typing import Any

import numpy as np


def check_choice(name: str, value: Any, options: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``options``, else raise a ValueError naming it."""
    options = tuple(options)
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {options}; got {value!r}")
    return value


def check_positive(name: str, value: Any, *, allow_zero: bool = False) -> float:
    """Return ``float(value)`` for a finite real > 0 (>= 0 with ``allow_zero``)."""
    if isinstance(value, bool) or not isinstance(value, Real | np.floating | np.integer):
        raise TypeError(f"{name} must be a real number; got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}; got {value!r}")
    return value


def check_int(name: str, value: Any, *, minimum: int = 1) -> int:
    """Return ``int(value)`` for an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer; got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}")
    return int(value)


def check_array(name: str, a: Any, *, ndim: int | tuple[int, ...]) -> np.ndarray:
    """Convert to a finite float64 array of the given dimension(s)."""
    try:
        arr = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must be a numeric array; got {type(a).__name__}") from e
    ndims = (ndim,) if isinstance(ndim, int) else ndim
    if arr.ndim not in ndims:
        raise ValueError(f"{name} must be {' or '.join(map(str, ndims))}-D; got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape})")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s)")
    return arr


def check_X_y(X: Any, y: Any, *, multi_output: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Validate data: X (n, d) finite, y (n,) (or (n, c) when ``multi_output``)."""
    X = check_array("X", X, ndim=2)
    y = check_array("y", y, ndim=(1, 2))
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 2 and not multi_output:
        raise ValueError(f"y must be 1-D for a scalar-output model; got shape {y.shape}")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X and y have different numbers of samples: {X.shape[0]} != {y.shape[0]}")
    return X, y


def check_patterns_array(D: Any, n: int) -> np.ndarray:
    """Validate a user-given (n, P) boolean pattern matrix."""
    arr = np.asarray(D)
    if arr.ndim != 2 or arr.shape[0] != n:
        raise ValueError(f"patterns must be a boolean array of shape (n={n}, P); got shape {arr.shape}")
    if arr.shape[1] == 0:
        raise ValueError("patterns has no columns (P = 0)")
    if arr.dtype != np.bool_:
        if not np.all(np.isin(arr, (0, 1))):
            raise ValueError("patterns must contain only 0/1 (or booleans)")
        arr = arr.astype(bool)
    return arr
