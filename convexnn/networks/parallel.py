r"""Parallel three-layer ReLU networks with path regularization (THEORY E.1).

A :class:`ParallelNetwork` with K sub-networks of first-layer width m1 computes

.. math::  f(X) = \sum_{k=1}^K \alpha_k\Big(\sum_{j=1}^{m_1}(X W_{kj})_+\,c_{kj}\Big)_+ ,

and its training objective is :math:`\ell(f(X); y) + \beta R(\theta)` with the path norm

.. math::
    R_1 = \sum_k |\alpha_k| \sum_j \|W_{kj}\|_2|c_{kj}| \quad(\text{"l1"}),\qquad
    R_2 = \sum_k |\alpha_k| \Big(\sum_j \|W_{kj}\|_2^2 c_{kj}^2\Big)^{1/2}\quad(\text{"l2"}).

Both are invariant to the ReLU rescalings :math:`(W_{kj}, c_{kj}) \to (tW_{kj}, c_{kj}/t)`
and :math:`(c_k, \alpha_k) \to (rc_k, \alpha_k/r)`.  Saved as ``.npz`` with a JSON header.
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
    """

    W: np.ndarray
    c: np.ndarray
    alpha: np.ndarray
    path: str = "l2"
    meta: dict = field(default_factory=dict)

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
        check_choice("path", self.path, PATHS)
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

    def subnetwork_hidden(self, X: Any) -> np.ndarray:
        r"""Second-layer pre-activations :math:`h_k = \sum_j (XW_{kj})_+ c_{kj}`, shape (n, K)."""
        X = self._check_X(X)
        H1 = np.maximum(np.einsum("nd,kjd->nkj", X, self.W), 0.0)
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
        prod = np.linalg.norm(self.W, axis=2) * np.abs(self.c)
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

    def to_torch(self, *, dtype: Any = None):
        """A :class:`convexnn.training.parallel_module.ParallelModule` with these weights."""
        from ..training.parallel_module import ParallelModule

        return ParallelModule(self.W, self.c, self.alpha, path=self.path, dtype=dtype)

    @classmethod
    def from_torch(cls, module: Any) -> ParallelNetwork:
        """The network of a :class:`~convexnn.training.parallel_module.ParallelModule`."""
        from ..training.modules import to_numpy

        return cls(W=to_numpy(module.W), c=to_numpy(module.c), alpha=to_numpy(module.alpha),
                   path=module.path)

    def save(self, path: str | Path) -> Path:
        """Write ``path`` (.npz): the arrays plus a JSON header (no pickle)."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(".npz")
        header = json.dumps({"format": _FORMAT, "path": self.path, "meta": self.meta})
        np.savez(path, W=self.W, c=self.c, alpha=self.alpha, header=np.array(header))
        return path

    @classmethod
    def load(cls, path: str | Path) -> ParallelNetwork:
        """Read a network written by :meth:`save`."""
        with np.load(Path(path), allow_pickle=False) as f:
            header = json.loads(str(f["header"]))
            if header.get("format") != _FORMAT:
                raise ValueError(f"{path} is not a {_FORMAT} file (format {header.get('format')!r})")
            return cls(W=f["W"], c=f["c"], alpha=f["alpha"], path=header["path"],
                       meta=header.get("meta", {}))

    def __repr__(self) -> str:
        K, m1, d = self.W.shape
        return f"ParallelNetwork(K={K}, m1={m1}, d={d}, path={self.path!r})"


__all__ = ["ParallelNetwork", "PATHS"]
