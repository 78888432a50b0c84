r"""Torch modules of the networks of convexnn, their conversions and their objective.

:class:`TwoLayerModule` and :class:`MLPModule` compute exactly the models of
:class:`convexnn.Network` and :class:`convexnn.DeepNetwork`; :func:`objective` is the
non-convex objective of THEORY section 0 as written,

.. math::  F(\theta) = \sum_{j=1}^n \ell(f_\theta(x_j); y_j)
           + \tfrac{\beta}{2}\,\|\theta_\pi\|_2^2,

over the penalized parameters :math:`\theta_\pi` only (:math:`W_1, W_2`, and :math:`b_1`
when the bias is regularized).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ..core.losses import Loss, get_loss
from ..core.validation import check_choice, check_int
from ..core.variant import BIASES, Variant

#: Relative size below which a neuron counts as inactive in the pattern count.
ACTIVE_RTOL = 1e-6


# ---- losses ---------------------------------------------------------------------------------
def loss_sum(loss: str | Loss, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""The summed loss :math:`\sum_j \ell(z_j; y_j)` in torch (the loss oracle's
    :meth:`~convexnn.core.losses.Loss.torch_value`, equal to ``Loss.value``): squared
    :math:`\tfrac12(z-y)^2`, logistic :math:`\log(1+e^{-yz})`, hinge :math:`\max(0, 1-yz)`,
    cross-entropy :math:`\mathrm{logsumexp}(z_j) - z_j^\top y_j`."""
    return get_loss(loss).torch_value(z, y)


# ---- modules --------------------------------------------------------------------------------
def _param(a: Any, dtype: torch.dtype) -> nn.Parameter:
    return nn.Parameter(torch.as_tensor(np.asarray(a, dtype=np.float64), dtype=dtype).clone())


class TwoLayerModule(nn.Module):
    r"""Two-layer (gated) ReLU network :math:`f(X) = \sigma(XW_1^\top + b_1)W_2 + X s + c_0`.

    :math:`\sigma(Z) = (Z)_+` (ReLU) or :math:`1[XG^\top + g_0 \ge 0]\odot Z` (gated ReLU,
    gates :math:`G, g_0` fixed buffers).  The trainable parameters are ``W1``, ``W2``, and
    ``b1`` (``bias`` "regularized" or "free"), ``skip`` (free skip term) and ``c0`` (free
    output bias, always present with a free hidden bias as in the convex program).

    Parameters
    ----------
    W1 : array of shape (m, d)
    W2 : array of shape (m,) or (m, c)
    b1 : array of shape (m,), optional
        Hidden biases (zeros when absent); ignored with ``bias="none"``.
    skip : array of shape (d,) or (d, c), optional
        Trainable free skip term when given.
    c0 : float or array of shape (c,), optional
        Trainable free output bias when given (zero when ``bias="free"`` and absent).
    gates, gate_bias : arrays of shape (m, d) and (m,), optional
        Fixed gates of a gated ReLU network.
    bias : {"none", "regularized", "free"}, default="none"
    dtype : torch.dtype, default=torch.float64
    """

    def __init__(self, W1: Any, W2: Any, *, b1: Any = None, skip: Any = None, c0: Any = None,
                 gates: Any = None, gate_bias: Any = None, bias: str = "none",
                 dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        self.bias = check_choice("bias", bias, BIASES)
        self._variant = Variant(bias=bias)
        self.W1 = _param(W1, dtype)
        self.W2 = _param(W2, dtype)
        m, d = self.W1.shape
        if self._variant.has_bias:
            self.b1 = _param(np.zeros(m) if b1 is None else b1, dtype)
        else:
            self.register_parameter("b1", None)
        self.skip = None if skip is None else _param(skip, dtype)
        if c0 is None and self._variant.free_bias:
            c0 = np.zeros(self.W2.shape[1:])
        self.c0 = None if c0 is None else _param(c0, dtype)
        if gates is not None:
            self.register_buffer("gates", torch.as_tensor(np.asarray(gates, np.float64), dtype=dtype).clone())
            g0 = np.zeros(m) if gate_bias is None else np.asarray(gate_bias, np.float64)
            self.register_buffer("gate_bias", torch.as_tensor(g0, dtype=dtype).clone())
        else:
            self.gates = self.gate_bias = None

    @property
    def width(self) -> int:
        return self.W1.shape[0]

    def hidden_pre(self, X: torch.Tensor) -> torch.Tensor:
        r""":math:`Z = XW_1^\top + b_1`."""
        Z = X @ self.W1.T
        return Z if self.b1 is None else Z + self.b1

    def activation_mask(self, X: torch.Tensor) -> torch.Tensor:
        r"""Boolean (n, m) activation patterns :math:`1[Z \ge 0]` (of the gates if gated)."""
        with torch.no_grad():
            if self.gates is None:
                return self.hidden_pre(X) >= 0
            return X @ self.gates.T + self.gate_bias >= 0

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        Z = self.hidden_pre(X)
        H = torch.relu(Z) if self.gates is None else self.activation_mask(X).to(Z.dtype) * Z
        out = H @ self.W2
        if self.skip is not None:
            out = out + X @ self.skip
        if self.c0 is not None:
            out = out + self.c0
        return out

    def penalty(self) -> torch.Tensor:
        r""":math:`\tfrac12(\|W_1\|_F^2 + \|W_2\|_F^2\,[+\|b_1\|^2])` (free parts excluded)."""
        sq = torch.sum(self.W1**2) + torch.sum(self.W2**2)
        if self._variant.regularized_bias:
            sq = sq + torch.sum(self.b1**2)
        return 0.5 * sq

    def n_patterns(self, X: torch.Tensor) -> int:
        """Distinct non-empty activation patterns of the neurons with a non-negligible
        contribution :math:`\\|(w_j, b_j)\\|\\,\\|\\alpha_j\\| > 10^{-6}\\max_k(\\cdot)`."""
        with torch.no_grad():
            w = self.W1 if self.b1 is None else torch.cat([self.W1, self.b1[:, None]], 1)
            a = self.W2 if self.W2.ndim == 2 else self.W2[:, None]
            contrib = torch.linalg.norm(w, dim=1) * torch.linalg.norm(a, dim=1)
            top = float(contrib.max()) if contrib.numel() else 0.0
            if top == 0:
                return 0
            mask = self.activation_mask(X)[:, contrib > ACTIVE_RTOL * top]
            cols = mask.T[mask.any(dim=0)]
            return int(torch.unique(cols, dim=0).shape[0]) if cols.numel() else 0


class MLPModule(nn.Sequential):
    r"""An MLP :math:`W_L\sigma(\cdots\sigma(W_1x + b_1)\cdots) + b_L` as ``nn.Sequential``
    of ``nn.Linear`` and activation layers, with the :class:`DeepNetwork` conventions: a
    single output is squeezed to shape (n,), and :meth:`penalty` is
    :math:`\tfrac12\sum_l \|W_l\|_F^2\,[+\|b_l\|^2]`."""

    def __init__(self, *layers: nn.Module, regularize_bias: bool = False) -> None:
        super().__init__(*layers)
        self.regularize_bias = bool(regularize_bias)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        out = super().forward(X)
        return out[:, 0] if out.shape[1] == 1 else out

    def penalty(self) -> torch.Tensor:
        return sequential_penalty(self, self.regularize_bias)


def sequential_penalty(module: nn.Sequential, regularize_bias: bool = False) -> torch.Tensor:
    r""":math:`\tfrac12\sum_l(\|W_l\|_F^2 [+\|b_l\|^2])` over the ``nn.Linear`` layers."""
    terms = []
    for layer in module:
        if isinstance(layer, nn.Linear):
            terms.append(torch.sum(layer.weight**2))
            if regularize_bias and layer.bias is not None:
                terms.append(torch.sum(layer.bias**2))
    return 0.5 * torch.stack(terms).sum()


def module_penalty(module: nn.Module) -> torch.Tensor:
    """The weight-decay penalty ``module.penalty()`` (half the squared norm of the
    penalized parameters)."""
    if not hasattr(module, "penalty"):
        raise TypeError(f"cannot find the penalized parameters of a {type(module).__name__}; "
                        "give it a penalty() method returning (1/2)||theta_penalized||^2")
    return module.penalty()


# ---- initialisation -------------------------------------------------------------------------
def torch_seed(seed: Any, stream: int = 0) -> int:
    """A 63-bit torch seed from an int / None / numpy Generator, one per ``stream``."""
    if isinstance(seed, np.random.Generator):
        seed = int(seed.integers(2**63))
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int | np.integer)):
        raise TypeError(f"seed must be an int, a numpy Generator or None; got {type(seed).__name__}")
    ss = np.random.SeedSequence(None if seed is None else [int(seed), stream])
    return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))


def random_module(d: int, width: int, *, model: str = "relu", bias: str = "none",
                  skip: bool = False, output_bias: bool = False, n_outputs: int | None = None,
                  gates: Any = None, gate_bias: Any = None, seed: Any = 0,
                  dtype: torch.dtype = torch.float64) -> TwoLayerModule:
    r"""A randomly initialised :class:`TwoLayerModule` (``nn.Linear``-style scale).

    :math:`W_1, b_1 \sim U(\pm 1/\sqrt{d'})` with :math:`d'` the fan-in (d+1 with a bias),
    :math:`W_2 \sim U(\pm 1/\sqrt m)`, skip and output bias zero.  A gated model needs
    ``gates`` (m, d) (and optionally ``gate_bias``); they are fixed, not drawn.
    """
    d, width = check_int("d", d), check_int("width", width)
    gated = Variant(model=model).gated
    if gated != (gates is not None):
        raise ValueError("model='gated' needs gates (m, d); model='relu' takes none")
    if gates is not None and np.shape(gates) != (width, d):
        raise ValueError(f"gates must have shape ({width}, {d}); got {np.shape(gates)}")
    g = torch.Generator().manual_seed(torch_seed(seed, 0))
    has_bias = Variant(bias=bias).has_bias
    fan_in = d + has_bias

    def uniform(shape, scale):
        return (2 * torch.rand(shape, generator=g, dtype=torch.float64) - 1) * scale

    W1 = uniform((width, d), fan_in**-0.5)
    b1 = uniform((width,), fan_in**-0.5) if has_bias else None
    W2 = uniform((width,) if n_outputs is None else (width, n_outputs), width**-0.5)
    out_shape = (d,) if n_outputs is None else (d, n_outputs)
    return TwoLayerModule(
        W1.numpy(), W2.numpy(), b1=None if b1 is None else b1.numpy(),
        skip=np.zeros(out_shape) if skip else None,
        c0=(0.0 if n_outputs is None else np.zeros(n_outputs)) if output_bias else None,
        gates=gates, gate_bias=gate_bias, bias=bias, dtype=dtype)


# ---- objective ------------------------------------------------------------------------------
def objective(module: nn.Module, X: torch.Tensor, y: torch.Tensor, *, beta: float,
              loss: str | Loss = "squared", n: int | None = None) -> torch.Tensor:
    r"""The (mini-batch) objective :math:`\frac{n}{|B|}\sum_{j\in B}\ell(f(x_j); y_j)
    + \beta\cdot\mathrm{penalty}`; with ``n=None`` (or n = |B|) the full objective
    :math:`F`, equal to ``Network.objective``."""
    scale = 1.0 if n is None or n == X.shape[0] else n / X.shape[0]
    return scale * loss_sum(loss, module(X), y) + beta * module_penalty(module)


def to_numpy(t: torch.Tensor | None) -> np.ndarray | None:
    """A float64 numpy copy of a tensor (None stays None)."""
    return None if t is None else t.detach().cpu().to(torch.float64).numpy().copy()


__all__ = ["TwoLayerModule", "MLPModule", "objective", "loss_sum", "random_module",
           "torch_seed", "module_penalty", "sequential_penalty", "to_numpy"]
