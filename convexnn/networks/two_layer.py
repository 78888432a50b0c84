r"""Trained networks, whoever trained them: recovered from a convex solution, by torch, or loaded.

A two-layer :class:`Network` computes

.. math::  f(X) = \sigma(X W_1^\top + b_1)\, W_2 + X\,\mathrm{skip} + c_0,

with :math:`\sigma` the ReLU, or for a *gated* ReLU network with fixed gates
:math:`G`, :math:`\sigma(Z) = 1[X G^\top + g_0 \ge 0] \odot Z` (Mishkin et al. 2022).
Its non-convex training objective (THEORY section 0) is

.. math::  \ell(f(X); y) + \tfrac{\beta}{2}\big(\|W_1\|_F^2 + \|W_2\|_F^2
           \;[+\, \|b_1\|^2 \text{ if the bias is regularized}]\big),

the skip term and the output bias :math:`c_0` being free.  A :class:`DeepNetwork` is an
MLP of any depth for the deep-linear / spline / balancedness checks.
Models are saved as ``.npz`` (arrays) with a JSON header, never pickled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..core.losses import Loss, get_loss
from ..core.validation import check_array
from ..core.variant import Variant
from .files import FORMAT_VERSION, file_error, header_field, read_network_file

_FORMAT = "convexnn.Network/1"


def _as2d(a: np.ndarray) -> np.ndarray:
    return a[:, None] if a.ndim == 1 else a


@dataclass(frozen=True, eq=False)
class Network:
    r"""A two-layer (gated) ReLU network :math:`f(X) = \sigma(XW_1^\top + b_1)W_2 + X s + c_0`.

    Parameters
    ----------
    W1 : ndarray of shape (m, d)
        First-layer weights, one row per hidden neuron.
    b1 : ndarray of shape (m,), default=zeros
        Hidden biases.
    W2 : ndarray of shape (m,) or (m, c)
        Output weights (scalar or vector output).
    c0 : float or ndarray of shape (c,), default=0
        Free output bias.
    skip : ndarray of shape (d,) or (d, c), default=zeros
        Free linear (skip) term.
    gates : ndarray of shape (m, d) or None
        Fixed gate vectors of a gated ReLU network (``None`` for ReLU).
    gate_bias : ndarray of shape (m,) or None
        Gate offsets: neuron j is on where :math:`x^\top g_j + g_{0j} \ge 0`.
    regularize_bias : bool, default=False
        Whether ``b1`` is part of the weight-decay penalty.
    meta : dict, default={}
        Free-form JSON-serializable notes (e.g. from :meth:`from_torch`).
    training : dict, default={}
        The settings it was trained with, where known: ``model``, ``loss``, ``beta``,
        ``bias``, ``skip``, ``output_bias`` (filled by :func:`convexnn.fit`; saved and loaded).
    """

    W1: np.ndarray
    W2: np.ndarray
    b1: np.ndarray = None  # type: ignore[assignment]
    c0: Any = 0.0
    skip: np.ndarray = None  # type: ignore[assignment]
    gates: np.ndarray | None = None
    gate_bias: np.ndarray | None = None
    regularize_bias: bool = False
    meta: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        W1 = np.asarray(self.W1, dtype=np.float64)
        if W1.ndim != 2:
            raise ValueError(f"W1 must be 2-D (m, d); got shape {W1.shape}")
        m, d = W1.shape
        W2 = np.asarray(self.W2, dtype=np.float64)
        if W2.ndim not in (1, 2) or W2.shape[0] != m:
            raise ValueError(f"W2 must have shape ({m},) or ({m}, c); got {W2.shape}")
        c = 1 if W2.ndim == 1 else W2.shape[1]
        b1 = np.zeros(m) if self.b1 is None else np.asarray(self.b1, dtype=np.float64)
        if b1.shape != (m,):
            raise ValueError(f"b1 must have shape ({m},); got {b1.shape}")
        c0 = np.asarray(self.c0, dtype=np.float64)
        if W2.ndim == 1:
            if c0.size != 1:
                raise ValueError(f"c0 must be a scalar for scalar output; got shape {c0.shape}")
            c0 = float(c0.reshape(()))
        elif c0.ndim == 0:
            c0 = np.full(c, float(c0))
        elif c0.shape != (c,):
            raise ValueError(f"c0 must have shape ({c},); got {c0.shape}")
        skip_shape = (d,) if W2.ndim == 1 else (d, c)
        skip = np.zeros(skip_shape) if self.skip is None else np.asarray(self.skip, dtype=np.float64)
        if skip.shape != skip_shape:
            raise ValueError(f"skip must have shape {skip_shape}; got {skip.shape}")
        gates, gate_bias = self.gates, self.gate_bias
        if gates is not None:
            gates = np.asarray(gates, dtype=np.float64)
            if gates.shape != (m, d):
                raise ValueError(f"gates must have shape ({m}, {d}); got {gates.shape}")
            gate_bias = np.zeros(m) if gate_bias is None else np.asarray(gate_bias, np.float64)
            if gate_bias.shape != (m,):
                raise ValueError(f"gate_bias must have shape ({m},); got {gate_bias.shape}")
        elif gate_bias is not None:
            raise ValueError("gate_bias given without gates")
        for name, val in (("W1", W1), ("W2", W2), ("b1", b1), ("c0", c0), ("skip", skip)):
            if not np.all(np.isfinite(val)):
                raise ValueError(f"network parameter {name} contains NaN or inf")
        set_ = object.__setattr__
        set_(self, "W1", W1)
        set_(self, "W2", W2)
        set_(self, "b1", b1)
        set_(self, "c0", c0)
        set_(self, "skip", skip)
        set_(self, "gates", gates)
        set_(self, "gate_bias", gate_bias)
        set_(self, "regularize_bias", bool(self.regularize_bias))

    # ---- shape -------------------------------------------------------------------------
    @property
    def width(self) -> int:
        """Number of hidden neurons m."""
        return self.W1.shape[0]

    @property
    def input_dim(self) -> int:
        return self.W1.shape[1]

    @property
    def n_outputs(self) -> int:
        return 1 if self.W2.ndim == 1 else self.W2.shape[1]

    @property
    def activation(self) -> str:
        """"relu" or "gated"."""
        return "relu" if self.gates is None else "gated"

    @property
    def variant(self) -> Variant | None:
        """The :class:`~convexnn.core.variant.Variant` it was trained as: from ``training``
        (set by :func:`convexnn.fit`, saved and loaded with the network), else from
        ``meta`` (set by :meth:`from_torch`); None when neither records the hidden bias
        (then only ``regularize_bias`` is known, which cannot tell "none" from "free")."""
        for source in (self.training, self.meta):
            if "bias" in source:
                try:
                    return Variant(model=source.get("model", self.activation),
                                   bias=source["bias"], skip=bool(source.get("skip", False)),
                                   output_bias=bool(source.get("output_bias", False)))
                except ValueError:  # e.g. a gated module with a free bias: no program
                    return None
        return None

    # ---- forward -----------------------------------------------------------------------
    def _check_X(self, X: Any) -> np.ndarray:
        X = check_array("X", X, ndim=2)
        if X.shape[1] != self.input_dim:
            raise ValueError(f"X has {X.shape[1]} features; the network expects {self.input_dim}")
        return X

    def preactivations(self, X: Any) -> np.ndarray:
        r""":math:`Z = X W_1^\top + b_1`, shape (n, m)."""
        X = self._check_X(X)
        return X @ self.W1.T + self.b1

    def activation_patterns(self, X: Any) -> np.ndarray:
        r"""Boolean (n, m) matrix of :math:`1[x^\top w_j + b_j \ge 0]` (gates if gated)."""
        X = self._check_X(X)
        if self.gates is None:
            return X @ self.W1.T + self.b1 >= 0
        return X @ self.gates.T + self.gate_bias >= 0

    def lifted_directions(self, bias_column: bool) -> np.ndarray:
        r"""The neurons' directions on lifted data :math:`\tilde X = [X, 1]`:
        :math:`u_k = (w_k, b_k)` (the gates :math:`(g_k, g_{0k})` if gated), or :math:`w_k`
        alone without a bias column; neurons with :math:`u_k = 0` are left out.  Shape
        (m', d + 1) or (m', d); :math:`1[\tilde Xu_k \ge 0]` is neuron k's pattern."""
        G, b = (self.W1, self.b1) if self.gates is None else (self.gates, self.gate_bias)
        U = np.hstack([G, b[:, None]]) if bias_column else G
        return U[np.linalg.norm(U, axis=1) > 0]

    def hidden(self, X: Any) -> np.ndarray:
        r"""Hidden features :math:`\sigma(XW_1^\top + b_1)`, shape (n, m)."""
        X = self._check_X(X)
        Z = X @ self.W1.T + self.b1
        if self.gates is None:
            return np.maximum(Z, 0.0)
        return (X @ self.gates.T + self.gate_bias >= 0) * Z

    def predict(self, X: Any) -> np.ndarray:
        r""":math:`f(X) = \sigma(XW_1^\top + b_1) W_2 + X\,\mathrm{skip} + c_0`."""
        X = self._check_X(X)
        return self.hidden(X) @ self.W2 + X @ self.skip + self.c0

    __call__ = predict

    # ---- objective ---------------------------------------------------------------------
    def penalty(self) -> float:
        r""":math:`\tfrac12(\|W_1\|_F^2 + \|W_2\|_F^2 [+ \|b_1\|^2])` (times beta in the objective)."""
        sq = np.sum(self.W1**2) + np.sum(self.W2**2)
        if self.regularize_bias:
            sq += np.sum(self.b1**2)
        return 0.5 * float(sq)

    def path_norm(self) -> float:
        r""":math:`\sum_j \|u_j\|_2 \|\alpha_j\|_2`, :math:`u_j` = row j of :math:`W_1` (with its
        bias if regularized), :math:`\alpha_j` = row j of :math:`W_2`.  Equals
        :meth:`penalty` iff the network is balanced (THEORY H)."""
        return float(np.sum(self._in_norms() * self._out_norms()))

    def _in_norms(self) -> np.ndarray:
        sq = np.sum(self.W1**2, axis=1)
        if self.regularize_bias:
            sq = sq + self.b1**2
        return np.sqrt(sq)

    def _out_norms(self) -> np.ndarray:
        return np.linalg.norm(_as2d(self.W2), axis=1)

    def objective(self, X: Any, y: Any, *, beta: float, loss: str | Loss = "squared") -> float:
        r""":math:`\ell(f(X); y) + \beta \cdot` :meth:`penalty` (THEORY section 0)."""
        loss = get_loss(loss)
        y = np.asarray(y, dtype=np.float64)
        return loss.value(self.predict(X), y) + float(beta) * self.penalty()

    # ---- transformations ---------------------------------------------------------------
    def balance_error(self) -> float:
        r""":math:`\max_j |\|u_j\|^2 - \|\alpha_j\|^2| / \max_j \|u_j\|^2` (0 when balanced)."""
        a, b = self._in_norms() ** 2, self._out_norms() ** 2
        scale = max(float(np.max(a, initial=0.0)), np.finfo(float).tiny)
        return float(np.max(np.abs(a - b), initial=0.0) / scale)

    def rebalance(self) -> Network:
        r"""Rescale :math:`(u_j, \alpha_j) \to (t_j u_j, \alpha_j / t_j)`,
        :math:`t_j = (\|\alpha_j\| / \|u_j\|)^{1/2}`: same function, penalty = path norm.

        A free hidden bias scales with its weights, so the function is unchanged in every
        bias mode.
        """
        a, b = self._in_norms(), self._out_norms()
        live = (a > 0) & (b > 0)
        t = np.ones_like(a)
        t[live] = np.sqrt(b[live] / a[live])
        W2 = self.W2 / (t if self.W2.ndim == 1 else t[:, None])
        return replace(self, W1=self.W1 * t[:, None], b1=self.b1 * t, W2=W2)

    def drop_neurons(self, keep: np.ndarray) -> Network:
        """The sub-network of the neurons where ``keep`` (bool (m,) or indices) is true."""
        keep = np.asarray(keep)
        return replace(
            self,
            W1=self.W1[keep],
            b1=self.b1[keep],
            W2=self.W2[keep],
            gates=None if self.gates is None else self.gates[keep],
            gate_bias=None if self.gate_bias is None else self.gate_bias[keep],
        )

    def prune_zero(self, tol: float = 0.0) -> Network:
        """Drop neurons whose contribution :math:`\\|u_j\\|\\|\\alpha_j\\|` is <= tol * max."""
        # a neuron with zero weights but a nonzero bias still contributes through b1
        contrib = np.sqrt(np.sum(self.W1**2, 1) + self.b1**2) * self._out_norms()
        top = float(np.max(contrib, initial=0.0))
        return self.drop_neurons(contrib > tol * top if top > 0 else contrib > 0)

    # ---- torch -------------------------------------------------------------------------
    def to_torch(self, *, bias: str | None = None, skip: bool | None = None,
                 output_bias: bool | None = None, dtype: Any = None):
        r"""A torch module computing the same :math:`f` and objective (float64 by default).

        The trainable free parts (``bias`` "none" / "regularized" / "free", ``skip``,
        ``output_bias``) default to those recorded in ``meta`` by :meth:`from_torch`, else
        are inferred from the weights; gates stay fixed buffers.  See
        :func:`convexnn.training.network_to_module`.
        """
        import torch

        from ..training.modules import TwoLayerModule

        bias = self._trainable_bias(bias)
        v = self.variant
        nonzero_skip = bool(np.any(self.skip != 0))
        nonzero_c0 = bool(np.any(np.asarray(self.c0) != 0))
        skip = (v.skip if v is not None else nonzero_skip) if skip is None else bool(skip)
        output_bias = ((v.output_bias if v is not None else nonzero_c0) if output_bias is None
                       else bool(output_bias))
        if nonzero_skip and not skip:
            raise ValueError("skip=False but the network has a nonzero skip term")
        variant = Variant(bias=bias, skip=skip, output_bias=output_bias)
        if nonzero_c0 and not variant.has_free_constant:
            raise ValueError("output_bias=False but the network has a nonzero output bias c0")
        return TwoLayerModule(
            self.W1, self.W2, b1=self.b1 if variant.has_bias else None,
            skip=self.skip if skip else None,
            c0=self.c0 if variant.has_free_constant else None,
            gates=self.gates, gate_bias=self.gate_bias, bias=bias,
            dtype=torch.float64 if dtype is None else dtype)

    def _trainable_bias(self, bias: str | None) -> str:
        """The hidden-bias setting of the torch module: as given, else the recorded
        :attr:`variant`, else inferred (lossy: a free bias that is zero reads "none")."""
        if bias is None and self.variant is not None:
            bias = self.variant.bias
        if bias is None:
            return ("regularized" if self.regularize_bias
                    else "free" if np.any(self.b1 != 0) else "none")
        variant = Variant(bias=bias)
        if variant.regularized_bias != self.regularize_bias:
            raise ValueError(f"bias={bias!r} conflicts with the network's regularize_bias="
                             f"{self.regularize_bias}: the objectives would differ")
        if not variant.has_bias and np.any(self.b1 != 0):
            raise ValueError("bias='none' but the network has nonzero hidden biases b1")
        return bias

    @classmethod
    def coerce(cls, net: Any) -> Network:
        """``net`` as a Network: a Network as it is, a torch module converted
        (:meth:`from_torch`); anything else is refused by name (``init=`` arguments)."""
        if isinstance(net, cls):
            return net
        if type(net).__module__.split(".")[0] == "torch" or hasattr(net, "state_dict"):
            return cls.from_torch(net)
        raise TypeError("init must be a convexnn Network, a torch module or a list of "
                        f"them; got {type(net).__name__}")

    @classmethod
    def from_torch(cls, module: Any) -> Network:
        """The network of a :class:`convexnn.training.TwoLayerModule` (float64 copies); the
        trainable configuration is kept in ``meta`` so that :meth:`to_torch` round-trips it."""
        from ..training.modules import TwoLayerModule, to_numpy

        if not isinstance(module, TwoLayerModule):
            raise TypeError(f"module must be a TwoLayerModule; got {type(module).__name__} "
                            "(use DeepNetwork.from_torch for an MLP)")
        c0 = to_numpy(module.c0)
        if c0 is None:
            c0 = 0.0 if module.W2.ndim == 1 else np.zeros(module.W2.shape[1])
        elif c0.ndim == 0:
            c0 = float(c0)
        meta = {"bias": module.bias, "skip": module.skip is not None,
                "output_bias": module.c0 is not None}
        return cls(W1=to_numpy(module.W1), W2=to_numpy(module.W2), b1=to_numpy(module.b1),
                   c0=c0, skip=to_numpy(module.skip), gates=to_numpy(module.gates),
                   gate_bias=to_numpy(module.gate_bias),
                   regularize_bias=Variant(bias=module.bias).regularized_bias, meta=meta)

    # ---- persistence -------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Save as ``.npz`` (arrays plus a JSON header); never pickle."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(".npz")
        header = {"format": _FORMAT, "format_version": FORMAT_VERSION,
                  "regularize_bias": self.regularize_bias, "gated": self.gates is not None,
                  "meta": self.meta, "training": self.training}
        arrays = {"W1": self.W1, "b1": self.b1, "W2": self.W2, "c0": np.asarray(self.c0),
                  "skip": self.skip}
        if self.gates is not None:
            arrays.update(gates=self.gates, gate_bias=self.gate_bias)
        np.savez(path, header=np.asarray(json.dumps(header)), **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Network:
        """Load a network written by :meth:`save` (a damaged or foreign file raises
        :class:`~convexnn.exceptions.NetworkFileError` naming it)."""
        header, arrays = read_network_file(path, "Network", (_FORMAT,),
                                           ("W1", "b1", "W2", "c0", "skip"))
        gated = header_field(path, header, "gated", bool, False)
        extra = sorted(set(arrays) - {"W1", "b1", "W2", "c0", "skip", "gates", "gate_bias"})
        if extra or gated != ("gates" in arrays):
            raise file_error(path, f"its arrays {sorted(arrays)} do not match a "
                             f"{'gated ' if gated else ''}Network")
        c0 = arrays.pop("c0")
        settings = {"regularize_bias": header_field(path, header, "regularize_bias", bool),
                    "meta": header_field(path, header, "meta", dict, {}),
                    "training": header_field(path, header, "training", dict, {})}
        try:
            return cls(c0=c0 if c0.ndim else float(c0), **settings, **arrays)
        except (ValueError, TypeError) as e:
            raise file_error(path, f"its arrays are inconsistent ({e})") from None

    def __repr__(self) -> str:
        kind = "gated ReLU" if self.gates is not None else "ReLU"
        return (f"Network({kind}, width={self.width}, input_dim={self.input_dim}, "
                f"n_outputs={self.n_outputs}, regularize_bias={self.regularize_bias})")


__all__ = ["Network"]
