"""Dense matrix products through scipy's BLAS.

numpy's and scipy's wheels each bundle their own OpenBLAS, each with its own thread pool.
The working-set solver's large products (syrk, Cholesky) run through scipy's; a product
of "multithreaded" size sent to numpy's in between wakes the other pool, whose threads then
spin against the first one's on the same cores (measured on 2 cores: a 0.6 ms numpy
evaluation took 11 ms inside a solve).  The hot paths therefore use this one BLAS.
"""

from __future__ import annotations

import numpy as np


def matmul(a: np.ndarray, b: np.ndarray, *, trans_a: bool = False,
           trans_b: bool = False) -> np.ndarray:
    r""":math:`\mathrm{op}(a)\,\mathrm{op}(b)` for 2-D float64 arrays (op: optional transpose),
    Fortran-ordered, by scipy's ``dgemm``; other dtypes fall back to numpy."""
    if a.dtype != np.float64 or b.dtype != np.float64 or a.ndim != 2 or b.ndim != 2:
        return (a.T if trans_a else a) @ (b.T if trans_b else b)
    from scipy.linalg.blas import dgemm

    if 0 in a.shape or 0 in b.shape:
        return (a.T if trans_a else a) @ (b.T if trans_b else b)
    return dgemm(1.0, a, b, trans_a=int(trans_a), trans_b=int(trans_b))
