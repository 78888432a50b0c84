r"""Convex losses of the prediction vector: value, gradient, conjugate and cvxpy form.

Every loss is a *sum* over samples (THEORY section 0):

.. math::  \ell(z; y) = \sum_{j=1}^n \ell_j(z_j),

so that the weight-decay penalty :math:`(\beta/2)\|\theta\|^2` of the network becomes
:math:`\beta \sum_i \|v_i\|_2` in the convex program with no extra factor.  A mean loss
:math:`(1/n)\sum_j \ell_j` with penalty :math:`\lambda \sum \|v_i\|` is the same problem
with :math:`\beta = n \lambda`.

The conjugate :math:`\ell^*(\mu) = \sup_z \mu^\top z - \ell(z)` gives the dual objective
:math:`-\ell^*(\mu)` used by certificates (THEORY A.6-A.8).

Each loss is an *oracle* (in the manner of skglm's datafits): value, gradient and Hessian
diagonal in numpy (:meth:`Loss.value`, :meth:`Loss.gradient`, :meth:`Loss.hessian_diag`)
and torch (:meth:`Loss.torch_value`, :meth:`Loss.torch_terms`), conjugate, the box of the
dual domain (:meth:`Loss.dual_box`), cvxpy expressions of the loss and of its dual
objective, and the structural facts the solvers branch on (``smooth``,
``constant_hessian``, ``epigraph_lp``, ``lipschitz``).  Solvers and certificates ask the
oracle, never the name.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from .lazy import torch_module as _torch
from .validation import check_array


class Loss:
    """A separable convex loss; subclasses implement the per-sample formulas."""

    name: ClassVar[str] = ""
    #: Labels the loss accepts: "real" or "pm1" (+-1 labels).
    targets: ClassVar[str] = "real"
    #: Differentiable everywhere (else dual points select a subgradient by stationarity).
    smooth: ClassVar[bool] = True
    #: Hessian independent of z (the interior-point Gram matrix is formed once).
    constant_hessian: ClassVar[bool] = False
    #: Taken by the interior-point method as the LP epigraph
    #: :math:`\xi \ge 0,\ \xi + y\circ z \ge 1` instead of through its Hessian.
    epigraph_lp: ClassVar[bool] = False
    #: Smoothness: the Lipschitz constant :math:`L` of each :math:`\ell_j'` (inf if none).
    lipschitz: ClassVar[float] = math.inf
    #: It applies to matrix predictions (vector output): squared and cross-entropy.
    multi_output: ClassVar[bool] = False

    def check_targets(self, y: np.ndarray) -> np.ndarray:
        """Validate targets for this loss; returns them as float64."""
        if self.targets == "pm1":
            values = np.unique(y)
            if not np.all(np.isin(values, (-1.0, 1.0))):
                shown = ", ".join(f"{v:g}" for v in values[:5])
                raise ValueError(
                    f"loss={self.name!r} needs labels in {{-1, +1}}; got values {{{shown}"
                    f"{', ...' if values.size > 5 else ''}}} (for 0/1 labels use y = 2*y - 1)"
                )
        return np.asarray(y, dtype=np.float64)

    def value(self, z: np.ndarray, y: np.ndarray) -> float:
        r""":math:`\sum_j \ell_j(z_j)`."""
        raise NotImplementedError

    def gradient(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        r"""A (sub)gradient :math:`\nabla_z \ell(z; y)`."""
        raise NotImplementedError

    def hessian_diag(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        r"""The diagonal :math:`\ell_j''(z_j)` (0 where the loss is piecewise linear)."""
        raise NotImplementedError

    def hessian_vector(self, z: np.ndarray, y: np.ndarray, v: np.ndarray) -> np.ndarray:
        r""":math:`\nabla^2_z\ell(z; y)\,v` (separable losses: the diagonal times v)."""
        return self.hessian_diag(z, y) * v

    def conjugate(self, mu: np.ndarray, y: np.ndarray) -> float:
        r""":math:`\ell^*(\mu) = \sup_z \mu^\top z - \ell(z; y)` (``inf`` outside its domain)."""
        raise NotImplementedError

    def dual_box(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r"""Bounds (lo, hi) on :math:`\lambda = -\mu` from :math:`\mathrm{dom}\,\ell^*`
        (THEORY A.8); the box contains 0.  Default: no bounds."""
        return np.full(y.shape, -np.inf), np.full(y.shape, np.inf)

    def cvxpy(self, z: Any, y: Any) -> Any:
        """The same loss as a cvxpy expression of the prediction ``z`` (DPP in ``y``)."""
        raise NotImplementedError

    def dual_cvxpy(self, lam: Any, y: np.ndarray) -> Any:
        r""":math:`-\ell^*(-\lambda)` as a concave cvxpy expression (the box
        :meth:`dual_box` is a separate constraint)."""
        raise NotImplementedError

    def torch_value(self, z: Any, y: Any) -> Any:
        r""":math:`\sum_j \ell_j(z_j)` as a differentiable torch scalar (equal to :meth:`value`)."""
        raise NotImplementedError

    def torch_terms(self, z: Any, y: Any) -> tuple[float, Any, Any]:
        r"""(value, gradient, Hessian diagonal) of the smooth part at z, torch tensors (the
        interior-point method's view; an ``epigraph_lp`` loss contributes zeros)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Squared(Loss):
    r"""Squared loss :math:`\tfrac12 \|z - y\|_2^2`; conjugate :math:`\mu^\top y + \tfrac12\|\mu\|^2`."""

    name = "squared"
    constant_hessian = True
    multi_output = True
    lipschitz = 1.0

    def value(self, z, y):
        r = z - y
        return 0.5 * float(np.sum(r * r))

    def gradient(self, z, y):
        return z - y

    def hessian_diag(self, z, y):
        return np.ones_like(np.asarray(z, dtype=np.float64))

    def torch_value(self, z, y):
        return 0.5 * _torch().sum((z - y) ** 2)

    def torch_terms(self, z, y):
        r = z - y
        return 0.5 * float(r @ r), r, _torch().ones_like(r)

    def dual_cvxpy(self, lam, y):
        import cvxpy as cp

        return lam @ y - 0.5 * cp.sum_squares(lam)

    def conjugate(self, mu, y):
        return float(np.sum(mu * y) + 0.5 * np.sum(mu * mu))

    def cvxpy(self, z, y):
        import cvxpy as cp

        return 0.5 * cp.sum_squares(z - y)


def _entropy(t: np.ndarray) -> np.ndarray:
    """H(t) = t log t + (1-t) log(1-t) on [0, 1] (0 log 0 = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(t > 0, t * np.log(np.where(t > 0, t, 1.0)), 0.0)
        b = np.where(t < 1, (1 - t) * np.log(np.where(t < 1, 1 - t, 1.0)), 0.0)
    return a + b


class Logistic(Loss):
    r"""Logistic loss :math:`\sum_j \log(1 + e^{-y_j z_j})`, labels :math:`\pm 1`.

    Conjugate: :math:`\ell^*(\mu) = \sum_j H(-y_j \mu_j)` with
    :math:`H(t) = t\log t + (1-t)\log(1-t)` on [0, 1], ``inf`` elsewhere (THEORY A.8).
    """

    name = "logistic"
    targets = "pm1"
    lipschitz = 0.25

    def value(self, z, y):
        return float(np.sum(np.logaddexp(0.0, -y * z)))

    def gradient(self, z, y):
        # d/dz log(1 + exp(-y z)) = -y * sigmoid(-y z)
        return -y * _sigmoid(-y * z)

    def hessian_diag(self, z, y):
        sig = _sigmoid(-y * z)  # y^2 = 1
        return sig * (1.0 - sig)

    def dual_box(self, y):
        return np.minimum(0.0, y), np.maximum(0.0, y)

    def dual_cvxpy(self, lam, y):
        import cvxpy as cp

        t = cp.multiply(y, lam)
        return cp.sum(cp.entr(t) + cp.entr(1 - t))

    def torch_value(self, z, y):
        # logaddexp: exact in the tails, where softplus switches to its linear branch
        torch = _torch()
        return torch.sum(torch.logaddexp(torch.zeros_like(z), -y * z))

    def torch_terms(self, z, y):
        torch = _torch()
        m = y * z
        sig = torch.sigmoid(-m)
        return float(torch.nn.functional.softplus(-m).sum()), -y * sig, sig * (1 - sig)

    def conjugate(self, mu, y):
        t = -y * mu
        if np.any(t < -1e-12) or np.any(t > 1 + 1e-12):
            return float("inf")
        return float(np.sum(_entropy(np.clip(t, 0.0, 1.0))))

    def cvxpy(self, z, y):
        import cvxpy as cp

        return cp.sum(cp.logistic(-cp.multiply(y, z)))


def _sigmoid(t: np.ndarray) -> np.ndarray:
    out = np.empty_like(t, dtype=np.float64)
    pos = t >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-t[pos]))
    e = np.exp(t[~pos])
    out[~pos] = e / (1.0 + e)
    return out


class Hinge(Loss):
    r"""Hinge loss :math:`\sum_j \max(0, 1 - y_j z_j)`, labels :math:`\pm 1`.

    Conjugate: :math:`\ell^*(\mu) = \sum_j y_j\mu_j` if every :math:`y_j\mu_j \in [-1, 0]`,
    else ``inf`` (THEORY A.8).
    """

    name = "hinge"
    targets = "pm1"
    smooth = False
    epigraph_lp = True

    def value(self, z, y):
        return float(np.sum(np.maximum(0.0, 1.0 - y * z)))

    def gradient(self, z, y):
        return np.where(y * z < 1.0, -y, 0.0)

    def hessian_diag(self, z, y):
        return np.zeros_like(np.asarray(z, dtype=np.float64))

    def dual_box(self, y):
        return np.minimum(0.0, y), np.maximum(0.0, y)

    def dual_cvxpy(self, lam, y):
        import cvxpy as cp

        return cp.sum(cp.multiply(y, lam))

    def torch_value(self, z, y):
        torch = _torch()
        return torch.sum(torch.relu(1.0 - y * z))

    def torch_terms(self, z, y):
        zero = _torch().zeros_like(z)
        return 0.0, zero, zero

    def conjugate(self, mu, y):
        t = y * mu
        if np.any(t < -1 - 1e-12) or np.any(t > 1e-12):
            return float("inf")
        return float(np.sum(t))

    def cvxpy(self, z, y):
        import cvxpy as cp

        return cp.sum(cp.pos(1 - cp.multiply(y, z)))


class CrossEntropy(Loss):
    r"""Softmax cross-entropy :math:`\sum_j \mathrm{logsumexp}(z_j) - z_j^\top y_j` of a
    prediction matrix Z (n, c) against one-hot rows :math:`y_j` (THEORY A.8).

    Conjugate: :math:`\ell^*(M) = \sum_j\sum_k p_{jk}\log p_{jk}` with
    :math:`P = M + Y`, if every row of P lies in the probability simplex, else ``inf``.
    """

    name = "cross_entropy"
    targets = "onehot"
    multi_output = True
    lipschitz = 0.5  # the softmax Jacobian diag(p) - pp^T has norm at most 1/2

    def check_targets(self, y: np.ndarray) -> np.ndarray:
        """One-hot (n, c) float matrix (labels are converted by :mod:`convexnn.vector.fit`)."""
        y = np.asarray(y, dtype=np.float64)
        if y.ndim != 2 or not (np.all(np.isin(y, (0.0, 1.0))) and np.all(y.sum(axis=1) == 1)):
            raise ValueError("loss='cross_entropy' needs one-hot targets of shape (n, c) "
                             "(fit converts a 1-D label vector)")
        return y

    def value(self, z, y):
        z = np.asarray(z, dtype=np.float64)
        top = z.max(axis=1, keepdims=True)
        lse = top[:, 0] + np.log(np.sum(np.exp(z - top), axis=1))
        return float(np.sum(lse) - np.sum(z * y))

    def gradient(self, z, y):
        return softmax(z) - y

    def hessian_diag(self, z, y):
        p = softmax(z)
        return p * (1.0 - p)

    def hessian_vector(self, z, y, v):
        r"""Row j: :math:`(\mathrm{diag}(p_j) - p_jp_j^\top)v_j`, :math:`p_j = \mathrm{softmax}(z_j)`."""
        p = softmax(z)
        pv = p * v
        return pv - p * pv.sum(axis=1, keepdims=True)

    def torch_value(self, z, y):
        torch = _torch()
        return torch.sum(torch.logsumexp(z, dim=1) - torch.sum(z * y, dim=1))

    def conjugate(self, mu, y):
        p = np.asarray(mu, dtype=np.float64) + y
        tol = 1e-12
        if np.any(p < -tol) or np.any(np.abs(p.sum(axis=1) - 1.0) > 1e-9):
            return float("inf")
        p = np.clip(p, 0.0, None)
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)))

    def cvxpy(self, z, y):
        import cvxpy as cp

        return cp.sum(cp.log_sum_exp(z, axis=1)) - cp.sum(cp.multiply(y, z))


def encode_labels(y: Any) -> tuple[np.ndarray, np.ndarray]:
    """(one-hot (n, c), classes) from a 1-D label vector (ints, strings, ...) or a one-hot
    matrix; at least two classes."""
    arr = np.asarray(y)
    if arr.ndim == 2:
        Y = check_array("y", arr, ndim=2)
        if not (np.all(np.isin(Y, (0.0, 1.0))) and np.all(Y.sum(axis=1) == 1)):
            raise ValueError("loss='cross_entropy' with a 2-D y needs one-hot rows (0/1, one 1 "
                             "per row); pass a 1-D label vector otherwise")
        classes = np.arange(Y.shape[1])
    elif arr.ndim == 1:
        if arr.size == 0:
            raise ValueError("y is empty")
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise ValueError("y contains NaN or infinite labels")
        if arr.dtype.kind not in "biuUSfO":
            raise TypeError(f"y labels must be integers or strings; got dtype {arr.dtype}")
        if arr.dtype.kind == "O" and any(v is None or (isinstance(v, float) and not np.isfinite(v))
                                         for v in arr):
            raise ValueError("y contains missing labels (None or NaN)")
        try:
            classes, idx = np.unique(arr, return_inverse=True)
        except TypeError as e:
            raise TypeError("y labels must be mutually comparable (all numbers or all strings)") from e
        Y = np.eye(classes.size)[idx.ravel()]
    else:
        raise ValueError(f"y must be a 1-D label vector or a one-hot matrix; got shape {arr.shape}")
    if Y.shape[1] < 2 or np.count_nonzero(Y.sum(axis=0)) < 2:
        raise ValueError(f"y has a single class ({classes[0]!r}); cross-entropy needs at least two")
    return Y, classes


def softmax(z: np.ndarray) -> np.ndarray:
    r"""Row-wise :math:`e^{z_{jk}}/\sum_l e^{z_{jl}}` (shifted for stability)."""
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


LOSSES: dict[str, type[Loss]] = {cls.name: cls for cls in (Squared, Logistic, Hinge, CrossEntropy)}


def get_loss(loss: str | Loss) -> Loss:
    """Return a Loss instance from its name (or pass an instance through)."""
    if isinstance(loss, Loss):
        return loss
    if not isinstance(loss, str) or loss not in LOSSES:
        raise ValueError(f"loss must be one of {tuple(LOSSES)}; got {loss!r}")
    return LOSSES[loss]()
