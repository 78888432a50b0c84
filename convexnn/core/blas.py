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
    r""":math:`\mathrm{op}(a)\,\mathrm{op}(b)` for 2-D float64 arrays (op: optional transpose)
    by scipy's ``dgemm``, without copying the operands (the result is Fortran- or
    C-ordered); other dtypes fall back to numpy."""
    if a.dtype != np.float64 or b.dtype != np.float64 or a.ndim != 2 or b.ndim != 2:
        return (a.T if trans_a else a) @ (b.T if trans_b else b)
    from scipy.linalg.blas import dgemm

    if 0 in a.shape or 0 in b.shape:
        return (a.T if trans_a else a) @ (b.T if trans_b else b)
    # BLAS reads Fortran order; f2py copies any other operand first (a 442 x 200 mask: 60 us
    # of a 110 us product).  A C-ordered array is its transpose in Fortran order: with both
    # operands C-ordered the product is formed transposed, C^T = op(b)^T op(a)^T, from
    # those views (42 us, returned as a C-ordered view); otherwise a C-ordered operand is
    # passed transposed with its flag flipped.  No copy either way.
    if a.flags.c_contiguous and b.flags.c_contiguous and not (a.flags.f_contiguous
                                                              and b.flags.f_contiguous):
        return dgemm(1.0, b.T, a.T, trans_a=int(trans_b), trans_b=int(trans_a)).T
    a, trans_a = _fortran_operand(a, trans_a)
    b, trans_b = _fortran_operand(b, trans_b)
    return dgemm(1.0, a, b, trans_a=int(trans_a), trans_b=int(trans_b))


def _fortran_operand(x: np.ndarray, trans: bool) -> tuple[np.ndarray, bool]:
    """(x, trans) or the same operator as (x^T, not trans) when only x^T is Fortran-ordered."""
    if not x.flags.f_contiguous and x.flags.c_contiguous:
        return x.T, not trans
    return x, trans
