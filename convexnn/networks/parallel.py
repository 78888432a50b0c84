r"""Parallel three-layer ReLU networks with path regularization (THEORY E.1).

A :class:`ParallelNetwork` with K sub-networks of first-layer width m1 computes

.. math::  f(X) = \sum_{k=1}^K \alpha_k\Big(\sum_{j=1}^{m_1}(X W_{kj} + b_{kj})_+\,c_{kj}\Big)_+ ,

and its training objective is :math:`\ell(f(X); y) + \beta R(\theta)` with the path norm

.. math::
    R_1 = \sum_k |\alpha_k| \sum_j \|v_{kj}\|_2|c_{kj}| \quad(\text{"l1"}),\qquad
    R_2 = \sum_k |\alpha_k| \Big(\sum_j \|v_{kj}\|_2^2 c_{kj}^2\Big)^{1/2}\quad(\text{"l2"}),

where :math:`v_{kj} = (W_{kj}, b_{kj})` when the first-layer biases are regularized
(``regularize_bias``, the default) and :math:`v_{kj} = W_{kj}` otherwise.  Both are
invariant to the ReLU rescalings :math:`(v_{kj}, c_{kj}) \to (tv_{kj}, c_{kj}/t)` and
:math:`(c_k, \alpha_k) \to (rc_k, \alpha_k/r)`.  With regularized biases the network is the
bias-free network :meth:`~ParallelNetwork.lifted` on :math:`\tilde X = [X, 1]` (weights
:math:`(W_{kj}, b_{kj})`), with the same predictions and the same path norm.  Saved as
``.npz`` with a JSON header.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.losses import Loss, get_loss
from ..core.validation import check_array, check_choice

_FORMAT = "convexnn.ParallelNetwork/1"
PATHS = ("l1", "l2")


@dataclass(frozen=True, eq=False)
class ParallelNetwork:
    r"""K parallel ReLU sub-networks :math:`\alpha_k(\sum_j (XW_{kj})_+ c_{kj})_+`.

    Parameters
    ----------
    W : ndarray of shape (K, m1, d)
        First-layer weights (unused neurons are zero).
    c : ndarray of shape (K, m1)
        Second-layer weights.
    alpha : ndarray of shape (K,)
        Output weights.
    path : {"l1", "l2"}
        Which path norm :meth:`penalty` computes.
    b : ndarray of shape (K, m1), optional
        First-layer biases (default zero).
    regularize_bias : bool, default=True
        Whether the biases are part of the path norm.
    """

    W: np.ndarray
    c: np.ndarray
    alpha: np.ndarray
    path: str = "l2"
    meta: dict = field(default_factory=dict)
    b: np.ndarray | None = None
    regularize_bias: bool = True

    def __post_init__(self) -> None:
        W = np.asarray(self.W, dtype=np.float64)
        if W.ndim != 3:
            raise ValueError(f"W must be 3-D (K, m1, d); got shape {W.shape}")
        if W.size:
            W = check_array("W", W, ndim=3)
        K, m1, _ = W.shape
        c = np.asarray(self.c, dtype=np.float64).reshape(K, m1)
        alpha = np.asarray(self.alpha, dtype=np.float64).reshape(K)
        if not (np.all(np.isfinite(c)) and np.all(np.isfinite(alpha))):
            raise ValueError("network parameters c and alpha must be finite")
        b = np.zeros((K, m1)) if self.b is None else np.asarray(self.b, dtype=np.float64).reshape(K, m1)
        if not np.all(np.isfinite(b)):
            raise ValueError("network biases b must be finite")
        check_choice("path", self.path, PATHS)
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "regularize_bias", bool(self.regularize_bias))
        object.__setattr__(self, "W", W)
        object.__setattr__(self, "c", c)
        object.__setattr__(self, "alpha", alpha)

    @property
    def n_subnetworks(self) -> int:
        return self.W.shape[0]

    @property
    def width(self) -> int:
        """First-layer width m1 of each sub-network."""
        return self.W.shape[1]

    @property
    def input_dim(self) -> int:
        return self.W.shape[2]

    def _check_X(self, X: Any) -> np.ndarray:
        X = check_array("X", X, ndim=2)
        if X.shape[1] != self.input_dim:
            raise ValueError(f"X has {X.shape[1]} features; the network expects {self.input_dim}")
        return X

    @property
    def has_bias(self) -> bool:
        """Whether any first-layer bias is nonzero."""
        return bool(np.any(self.b != 0))

    def subnetwork_hidden(self, X: Any) -> np.ndarray:
        r"""Second-layer pre-activations :math:`h_k = \sum_j (XW_{kj} + b_{kj})_+ c_{kj}`,
        shape (n, K)."""
        X = self._check_X(X)
        H1 = np.maximum(np.einsum("nd,kjd->nkj", X, self.W) + self.b, 0.0)
        return np.einsum("nkj,kj->nk", H1, self.c)

    def subnetwork_outputs(self, X: Any) -> np.ndarray:
        r"""Per-sub-network outputs :math:`\alpha_k (h_k)_+`, shape (n, K)."""
        return np.maximum(self.subnetwork_hidden(X), 0.0) * self.alpha

    def predict(self, X: Any) -> np.ndarray:
        """Network output f(X), shape (n,)."""
        return self.subnetwork_outputs(X).sum(axis=1)

    def subnetwork_path_norms(self, path: str | None = None) -> np.ndarray:
        """Path norm of every sub-network ("l1" or "l2"; default: the network's own)."""
        path = check_choice("path", path or self.path, PATHS)
        V = self.W if not self.regularize_bias else np.concatenate([self.W, self.b[..., None]], axis=2)
        prod = np.linalg.norm(V, axis=2) * np.abs(self.c)
        inner = prod.sum(axis=1) if path == "l1" else np.sqrt((prod**2).sum(axis=1))
        return np.abs(self.alpha) * inner

    def penalty(self, path: str | None = None) -> float:
        """The path norm R(theta) (see the module docstring)."""
        return float(self.subnetwork_path_norms(path).sum())

    def objective(self, X: Any, y: Any, *, beta: float, loss: str | Loss = "squared",
                  path: str | None = None) -> float:
        r""":math:`\ell(f(X); y) + \beta R(\theta)`."""
        loss = get_loss(loss)
        return float(loss.value(self.predict(X), np.asarray(y, np.float64)) + beta * self.penalty(path))

    def lifted(self) -> ParallelNetwork:
        r"""The bias-free network on :math:`\tilde X = [X, 1]` with first-layer weights
        :math:`(W_{kj}, b_{kj})`: the same predictions, and the same path norm when the
        biases are regularized."""
        if not self.regularize_bias and self.has_bias:
            raise ValueError("only a network with regularized biases is a bias-free network "
                             "on [X, 1] with the same path norm")
        return ParallelNetwork(W=np.concatenate([self.W, self.b[..., None]], axis=2), c=self.c,
                               alpha=self.alpha, path=self.path, meta=dict(self.meta))

    @classmethod
    def from_lifted(cls, net: ParallelNetwork) -> ParallelNetwork:
        """The inverse of :meth:`lifted`: the last input of ``net`` is the constant 1."""
        return cls(W=net.W[:, :, :-1], c=net.c, alpha=net.alpha, path=net.path,
                   meta=dict(net.meta), b=net.W[:, :, -1], regularize_bias=True)

    def to_torch(self, *, dtype: Any = None, bias: bool | None = None):
        """A :class:`convexnn.training.parallel_module.ParallelModule` with these weights;
        with trainable biases when ``bias`` (default: when the network has a nonzero one)."""
        from ..training.parallel_module import ParallelModule

        bias = self.has_bias if bias is None else bool(bias)
        return ParallelModule(self.W, self.c, self.alpha, path=self.path, dtype=dtype,
                              b=self.b if bias else None, regularize_bias=self.regularize_bias)

    @classmethod
    def from_torch(cls, module: Any) -> ParallelNetwork:
        """The network of a :class:`~convexnn.training.parallel_module.ParallelModule`."""
        from ..training.modules import to_numpy

        b = None if module.b is None else to_numpy(module.b)
        return cls(W=to_numpy(module.W), c=to_numpy(module.c), alpha=to_numpy(module.alpha),
                   path=module.path, b=b, regularize_bias=module.regularize_bias)

    def save(self, path: str | Path) -> Path:
        """Write ``path`` (.npz): the arrays plus a JSON header (no pickle)."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(".npz")
        header = json.dumps({"format": _FORMAT, "path": self.path, "meta": self.meta,
                             "regularize_bias": self.regularize_bias})
        np.savez(path, W=self.W, c=self.c, alpha=self.alpha, b=self.b, header=np.array(header))
        return path

    @classmethod
    def load(cls, path: str | Path) -> ParallelNetwork:
        """Read a network written by :meth:`save`."""
        with np.load(Path(path), allow_pickle=False) as f:
            header = json.loads(str(f["header"]))
            if header.get("format") != _FORMAT:
                raise ValueError(f"{path} is not a {_FORMAT} file (format {header.get('format')!r})")
            return cls(W=f["W"], c=f["c"], alpha=f["alpha"], path=header["path"],
                       meta=header.get("meta", {}), b=f["b"] if "b" in f.files else None,
                       regularize_bias=header.get("regularize_bias", True))

    def __repr__(self) -> str:
        K, m1, d = self.W.shape
        bias = f", bias={'regularized' if self.regularize_bias else 'free'}" if self.has_bias else ""
        return f"ParallelNetwork(K={K}, m1={m1}, d={d}, path={self.path!r}{bias})"


__all__ = ["ParallelNetwork", "PATHS"]
