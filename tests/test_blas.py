"""convexnn.core.blas.matmul against numpy's product, for every operand layout and transpose
flag (the routine reorders the BLAS call by layout to avoid copies, so each combination
takes a different path)."""

import itertools

import numpy as np
import pytest

from convexnn.core.blas import matmul


@pytest.mark.parametrize("shape", [(5, 7), (7, 5), (1, 4), (4, 1), (3, 3)])
def test_matmul_equals_numpy_for_every_layout(shape):
    rng = np.random.default_rng(sum(shape))
    for ta, tb, oa, ob in itertools.product((False, True), (False, True), "CF", "CF"):
        a = np.asarray(rng.standard_normal(shape), order=oa)
        A = a.T if ta else a
        b = np.asarray(rng.standard_normal((3, A.shape[1]) if tb else (A.shape[1], 3)), order=ob)
        B = b.T if tb else b
        out = matmul(a, b, trans_a=ta, trans_b=tb)
        assert out.shape == (A.shape[0], 3)
        assert np.allclose(out, A @ B, rtol=1e-13, atol=1e-13)


def test_matmul_of_strided_views_and_other_dtypes():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((6, 8))[:, ::2]  # neither C- nor F-contiguous
    b = rng.standard_normal((4, 5))
    assert np.allclose(matmul(a, b), a @ b)
    ai = np.arange(12).reshape(3, 4)  # integers: numpy's product
    assert np.array_equal(matmul(ai, ai, trans_b=True), ai @ ai.T)
    assert matmul(np.zeros((0, 3)), np.ones((3, 2))).shape == (0, 2)
