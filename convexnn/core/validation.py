"""Input checks that turn bad input into clear errors at the public boundary."""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Integral, Real
from typing import Any

import numpy as np

from ..exceptions import ConvexNNTypeError, ConvexNNValueError


def check_choice(name: str, value: Any, options: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``options``, else raise a ValueError naming it."""
    options = tuple(options)
    if not isinstance(value, str) or value not in options:
        raise ConvexNNValueError(f"{name} must be one of {options}; got {value!r}")
    return value


def check_positive(name: str, value: Any, *, allow_zero: bool = False) -> float:
    """Return ``float(value)`` for a finite real > 0 (>= 0 with ``allow_zero``)."""
    if isinstance(value, bool) or not isinstance(value, Real | np.floating | np.integer):
        raise ConvexNNTypeError(f"{name} must be a real number; got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ConvexNNValueError(f"{name} must be finite and {bound}; got {value!r}")
    return value


def check_int(name: str, value: Any, *, minimum: int = 1) -> int:
    """Return ``int(value)`` for an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ConvexNNTypeError(f"{name} must be an integer; got {type(value).__name__}")
    if value < minimum:
        raise ConvexNNValueError(f"{name} must be >= {minimum}; got {value}")
    return int(value)


def _non_numeric(name: str, a: Any) -> str:
    """Which columns of ``a`` are not numbers, in words (for the error message)."""
    cols = getattr(a, "columns", None)
    dtypes = getattr(a, "dtypes", None)
    if cols is not None and dtypes is not None:  # a pandas DataFrame
        bad = [f"{c!r} ({t})" for c, t in zip(cols, dtypes) if getattr(t, "kind", "O") not in "biuf"]
        if bad:
            return f"{name} has non-numeric column(s) {', '.join(bad[:5])}"
    arr = np.asarray(a, dtype=object)
    if arr.ndim == 2:
        for j in range(arr.shape[1]):
            for v in arr[:, j]:
                try:
                    float(v)
                except (TypeError, ValueError):
                    return (f"{name} column {j} holds non-numeric values such as {v!r} "
                            f"({type(v).__name__})")
    return f"{name} must be a numeric array; got {type(a).__name__} of dtype {np.asarray(a).dtype}"


def check_array(name: str, a: Any, *, ndim: int | tuple[int, ...]) -> np.ndarray:
    """Convert to a finite, writable float64 array of the given dimension(s) (a copy: the
    caller's data, e.g. a read-only pandas buffer, is never shared)."""
    if np.iscomplexobj(a):
        raise ConvexNNTypeError(f"{name} must be real; got complex values (dtype "
                                f"{np.asarray(a).dtype}); pass {name}.real or abs({name})")
    try:
        arr = np.array(a, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as e:
        raise ConvexNNTypeError(_non_numeric(name, a)) from e
    ndims = (ndim,) if isinstance(ndim, int) else ndim
    if arr.ndim not in ndims:
        raise ConvexNNValueError(f"{name} must be {' or '.join(map(str, ndims))}-D; got shape {arr.shape}")
    if arr.size == 0:
        raise ConvexNNValueError(f"{name} is empty (shape {arr.shape})")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ConvexNNValueError(f"{name} contains {bad} NaN or infinite value(s)")
    return arr


def check_tol(name: str, value: Any) -> float | None:
    """Return ``None`` or a finite float in (0, 1)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Real | np.floating | np.integer):
        raise ConvexNNTypeError(f"{name} must be a real number or None; got {type(value).__name__}")
    value = float(value)
    if not (np.isfinite(value) and 0 < value < 1):
        raise ConvexNNValueError(f"{name} must be a finite number in (0, 1), e.g. 1e-6, or None "
                                 f"for the solver's default; got {value!r}")
    return value


def check_options(where: str, options: dict, accepted: Iterable[str]) -> None:
    """Raise naming every key of ``options`` not in ``accepted`` (and listing those)."""
    accepted = tuple(accepted)
    unknown = [k for k in options if k not in accepted]
    if unknown:
        raise ConvexNNTypeError(
            f"{where} got unknown keyword argument(s) {', '.join(map(repr, unknown))}; "
            f"the solver options it accepts are {', '.join(accepted)}")


def check_num_threads(value: Any) -> int | str | None:
    """The working-set solver's ``num_threads``: a positive int, None or "auto"."""
    if value is None or (isinstance(value, str) and value == "auto"):
        return value
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ConvexNNValueError(
            f"num_threads must be a positive integer, None (no cap) or 'auto'; got {value!r}")
    return int(value)


def check_n_jobs(value: Any) -> int | None:
    """``n_jobs`` in joblib's convention: None, a positive count, or -1, -2, ... (all CPUs,
    all but one, ...); 0 is refused."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ConvexNNTypeError(f"n_jobs must be an integer or None; got {type(value).__name__}")
    if value == 0:
        raise ConvexNNValueError("n_jobs must be a positive number of workers, -1 for every "
                                 "CPU (-2 for all but one, ...) or None; got 0")
    return int(value)


def check_X_y(X: Any, y: Any, *, multi_output: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Validate data: X (n, d) finite, y (n,) (or (n, c) when ``multi_output``)."""
    X = check_array("X", X, ndim=2)
    y = check_array("y", y, ndim=(1, 2))
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 2 and not multi_output:
        raise ConvexNNValueError(f"y must be 1-D for a scalar-output model; got shape {y.shape}")
    if X.shape[0] != y.shape[0]:
        raise ConvexNNValueError(f"X and y have different numbers of samples: {X.shape[0]} != {y.shape[0]}")
    return X, y


def check_patterns_array(D: Any, n: int) -> np.ndarray:
    """Validate a user-given (n, P) boolean pattern matrix."""
    arr = np.asarray(D)
    if arr.ndim != 2 or arr.shape[0] != n:
        raise ConvexNNValueError(f"patterns must be a boolean array of shape (n={n}, P); got shape {arr.shape}")
    if arr.shape[1] == 0:
        raise ConvexNNValueError("patterns has no columns (P = 0)")
    if arr.dtype != np.bool_:
        if arr.dtype == object or not np.all(np.isin(arr, (0, 1))):
            raise ConvexNNValueError("patterns must contain only 0/1 (or booleans)")
        arr = arr.astype(bool)
    if not arr.any():
        raise ConvexNNValueError(
            f"patterns has no active entry (all {arr.shape[1]} columns are all-False): an "
            "all-off pattern gives a neuron that is zero on every sample; pass patterns with "
            "at least one True per column, an int to sample gates, or 'exact'")
    return arr
