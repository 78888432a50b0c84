r"""Train the same networks by gradient methods in torch, with the explicit objective.

The torch modules here compute exactly the models of :class:`convexnn.Network` and
:class:`convexnn.DeepNetwork`, and :func:`train` minimizes the non-convex objective of
THEORY section 0 *as written*,

.. math::  F(\theta) = \sum_{j=1}^n \ell(f_\theta(x_j); y_j)
           + \tfrac{\beta}{2}\,\|\theta_\pi\|_2^2,

where :math:`\theta_\pi` are the penalized parameters only: :math:`W_1, W_2` (and
:math:`b_1` when the bias is regularized).  Free hidden biases, the skip term and the
output bias are not penalized; fixed gates are not trained.  The penalty is part of the
back-propagated objective for every optimizer ("coupled" weight decay).  Decoupled decay
(AdamW) is refused: its fixed point does not minimize :math:`F`, so its runs could not be
compared with the convex optimum.

A mini-batch :math:`B` (uniform without replacement, :math:`|B| = b`) uses

.. math::  F_B(\theta) = \frac{n}{b} \sum_{j\in B} \ell(f_\theta(x_j); y_j)
           + \tfrac{\beta}{2}\|\theta_\pi\|_2^2,
           \qquad \mathbb{E}_B[F_B] = F,

an unbiased estimate of the full objective (and of its gradient), so that every optimizer
targets the same :math:`F` whose minimum is the convex optimum (THEORY A.3).

This is the only module of convexnn that imports torch at import time.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ._threads import SMALL_SAMPLES
from ._validation import check_array, check_choice, check_int, check_positive, check_X_y
from .losses import Loss, get_loss
from .network import DeepNetwork, Network
from .programs.two_layer import BIASES, MODELS

OPTIMIZERS = ("gd", "sgd", "adam", "lbfgs")
#: Optimizers refused, with the reason shown to the user.
REFUSED_OPTIMIZERS = {
    "adamw": "AdamW applies decoupled weight decay (theta <- theta - lr*wd*theta outside the "
             "adaptive step); its fixed points do not minimize loss + (beta/2)||theta||^2, so "
             "its objective cannot be compared with the convex optimum. Use optimizer='adam': "
             "the penalty is then part of the back-propagated objective (THEORY section 0)",
}
#: Default learning rates of the scale-free optimizers.
DEFAULT_LR = {"adam": 1e-2, "lbfgs": 1.0}
#: Epoch count from which a progress bar is shown (unless ``quiet``).
PROGRESS_MIN_EPOCHS = 1000
#: Relative size below which a neuron counts as inactive in the pattern count.
ACTIVE_RTOL = 1e-6


# ---- losses ---------------------------------------------------------------------------------
#: Summed losses in torch, equal to ``Loss.value`` (logistic through ``logaddexp``: exact
#: in the tails, where ``softplus`` switches to its linear branch).
TORCH_LOSSES = {
    "squared": lambda z, y: 0.5 * torch.sum((z - y) ** 2),
    "logistic": lambda z, y: torch.sum(torch.logaddexp(torch.zeros_like(z), -y * z)),
    "hinge": lambda z, y: torch.sum(torch.relu(1.0 - y * z)),
    "cross_entropy": lambda z, y: torch.sum(torch.logsumexp(z, dim=1) - torch.sum(z * y, dim=1)),
}


def loss_sum(loss: str | Loss, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""The summed loss :math:`\sum_j \ell(z_j; y_j)` in torch: squared
    :math:`\tfrac12(z-y)^2`, logistic :math:`\log(1+e^{-yz})`, hinge :math:`\max(0, 1-yz)`."""
    return TORCH_LOSSES[check_choice("loss", get_loss(loss).name, TORCH_LOSSES)](z, y)


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
        self.W1 = _param(W1, dtype)
        self.W2 = _param(W2, dtype)
        m, d = self.W1.shape
        if bias != "none":
            self.b1 = _param(np.zeros(m) if b1 is None else b1, dtype)
        else:
            self.register_parameter("b1", None)
        self.skip = None if skip is None else _param(skip, dtype)
        if c0 is None and bias == "free":
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
        if self.bias == "regularized":
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


# ---- conversions ----------------------------------------------------------------------------
def _infer_bias(net: Network, bias: str | None) -> str:
    if bias is None:
        bias = net.meta.get("bias")
    if bias is None:
        return "regularized" if net.regularize_bias else ("free" if np.any(net.b1 != 0) else "none")
    bias = check_choice("bias", bias, BIASES)
    if (bias == "regularized") != net.regularize_bias:
        raise ValueError(f"bias={bias!r} conflicts with the network's regularize_bias="
                         f"{net.regularize_bias}: the objectives would differ")
    if bias == "none" and np.any(net.b1 != 0):
        raise ValueError("bias='none' but the network has nonzero hidden biases b1")
    return bias


def network_to_module(net: Network, *, bias: str | None = None, skip: bool | None = None,
                      output_bias: bool | None = None,
                      dtype: torch.dtype = torch.float64) -> TwoLayerModule:
    """A :class:`TwoLayerModule` with the same predictions and objective as ``net``.

    ``bias``, ``skip``, ``output_bias`` choose the trainable free parts; by default they
    are read from ``net.meta`` (set by :func:`module_to_network`), else inferred:
    "regularized" when ``net.regularize_bias``, "free" when some ``b1 != 0``, else "none";
    a skip term / output bias when nonzero.  A free hidden bias brings a free output bias.
    """
    bias = _infer_bias(net, bias)
    nonzero_skip, nonzero_c0 = bool(np.any(net.skip != 0)), bool(np.any(np.asarray(net.c0) != 0))
    skip = net.meta.get("skip", nonzero_skip) if skip is None else bool(skip)
    output_bias = net.meta.get("output_bias", nonzero_c0) if output_bias is None else bool(output_bias)
    if nonzero_skip and not skip:
        raise ValueError("skip=False but the network has a nonzero skip term")
    if nonzero_c0 and not (output_bias or bias == "free"):
        raise ValueError("output_bias=False but the network has a nonzero output bias c0")
    return TwoLayerModule(
        net.W1, net.W2, b1=None if bias == "none" else net.b1,
        skip=net.skip if skip else None,
        c0=net.c0 if (output_bias or bias == "free") else None,
        gates=net.gates, gate_bias=net.gate_bias, bias=bias, dtype=dtype)


def _numpy(t: torch.Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach().cpu().to(torch.float64).numpy().copy()


def module_to_network(module: TwoLayerModule) -> Network:
    """The :class:`Network` of a :class:`TwoLayerModule` (float64 numpy copies).

    The trainable configuration is kept in ``meta`` so that :func:`network_to_module`
    round-trips it.
    """
    if not isinstance(module, TwoLayerModule):
        raise TypeError(f"module must be a TwoLayerModule; got {type(module).__name__} "
                        "(use DeepNetwork.from_torch for an MLP)")
    c0 = _numpy(module.c0)
    if c0 is None:
        c0 = 0.0 if module.W2.ndim == 1 else np.zeros(module.W2.shape[1])
    elif c0.ndim == 0:
        c0 = float(c0)
    meta = {"bias": module.bias, "skip": module.skip is not None,
            "output_bias": module.c0 is not None}
    return Network(W1=_numpy(module.W1), W2=_numpy(module.W2), b1=_numpy(module.b1), c0=c0,
                   skip=_numpy(module.skip), gates=_numpy(module.gates),
                   gate_bias=_numpy(module.gate_bias),
                   regularize_bias=module.bias == "regularized", meta=meta)


def _activation_layer(net: DeepNetwork) -> nn.Module:
    if net.activation == "relu":
        return nn.ReLU()
    if net.activation == "leaky_relu":
        return nn.LeakyReLU(net.negative_slope)
    return nn.Identity()


def deep_to_module(net: DeepNetwork, *, dtype: torch.dtype = torch.float64) -> MLPModule:
    """An :class:`MLPModule` with the same predictions and penalty as ``net``."""
    layers: list[nn.Module] = []
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        lin = nn.Linear(W.shape[1], W.shape[0], dtype=dtype)
        with torch.no_grad():
            lin.weight.copy_(torch.as_tensor(W, dtype=dtype))
            lin.bias.copy_(torch.as_tensor(b, dtype=dtype))
        layers.append(lin)
        if l < net.depth - 1:
            layers.append(_activation_layer(net))
    return MLPModule(*layers, regularize_bias=net.regularize_bias)


def module_to_deep(module: nn.Sequential) -> DeepNetwork:
    """A :class:`DeepNetwork` from an ``nn.Sequential`` of ``nn.Linear`` layers separated by
    one activation kind (``nn.ReLU``, ``nn.LeakyReLU`` or none / ``nn.Identity``)."""
    if not isinstance(module, nn.Sequential):
        raise TypeError(f"module must be an nn.Sequential; got {type(module).__name__}")
    Ws, bs, acts = [], [], set()
    for layer in module:
        if isinstance(layer, nn.Linear):
            Ws.append(_numpy(layer.weight))
            bs.append(np.zeros(layer.out_features) if layer.bias is None else _numpy(layer.bias))
        elif isinstance(layer, nn.ReLU):
            acts.add(("relu", 0.01))
        elif isinstance(layer, nn.LeakyReLU):
            acts.add(("leaky_relu", float(layer.negative_slope)))
        elif not isinstance(layer, nn.Identity):
            raise ValueError(f"unsupported layer {type(layer).__name__} in an MLP")
    if len(acts) > 1:
        raise ValueError(f"the MLP mixes activations {sorted(acts)}; DeepNetwork has one")
    activation, slope = acts.pop() if acts else ("linear", 0.01)
    return DeepNetwork(Ws, bs, activation=activation, negative_slope=slope,
                       regularize_bias=getattr(module, "regularize_bias", False))


def as_module(model: Any, *, bias: str | None = None, skip: bool | None = None,
              output_bias: bool | None = None, dtype: torch.dtype = torch.float64) -> nn.Module:
    """A deep copy of a torch module, or the module of a Network / DeepNetwork.  A plain
    ``nn.Sequential`` MLP becomes an :class:`MLPModule` (through :class:`DeepNetwork`:
    missing biases become zero, trainable, unpenalized ones)."""
    if isinstance(model, Network):
        return network_to_module(model, bias=bias, skip=skip, output_bias=output_bias, dtype=dtype)
    if isinstance(model, DeepNetwork):
        return deep_to_module(model, dtype=dtype)
    if isinstance(model, nn.Linear):  # a linear model: the one-layer Sequential
        model = nn.Sequential(model)
    if isinstance(model, nn.Sequential) and not isinstance(model, MLPModule):
        return deep_to_module(module_to_deep(model), dtype=dtype)
    if isinstance(model, nn.Module):
        return copy.deepcopy(model).to(dtype)  # the data are cast to dtype too
    raise TypeError(f"model must be a Network, DeepNetwork or torch module; got {type(model).__name__}")


def as_network(module: nn.Module) -> Network | DeepNetwork:
    """The numpy network of a trained module."""
    return module_to_network(module) if isinstance(module, TwoLayerModule) else module_to_deep(module)


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
    check_choice("model", model, MODELS)
    if (model == "gated") != (gates is not None):
        raise ValueError("model='gated' needs gates (m, d); model='relu' takes none")
    if gates is not None and np.shape(gates) != (width, d):
        raise ValueError(f"gates must have shape ({width}, {d}); got {np.shape(gates)}")
    g = torch.Generator().manual_seed(torch_seed(seed, 0))
    fan_in = d + (bias != "none")

    def uniform(shape, scale):
        return (2 * torch.rand(shape, generator=g, dtype=torch.float64) - 1) * scale

    W1 = uniform((width, d), fan_in**-0.5)
    b1 = uniform((width,), fan_in**-0.5) if bias != "none" else None
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


# ---- training -------------------------------------------------------------------------------
@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
    ----------
    network : Network, DeepNetwork or None
        The trained network (numpy, float64); None when training diverged, or for a
        custom module (with its own ``penalty()``) that has no numpy counterpart.
    module : torch.nn.Module
        The trained torch module.
    objective : float
        Final full objective :math:`F(\\theta)`.
    gap : float or None
        ``objective - optimum`` when ``optimum`` was given.
    history : dict of lists
        Per logged epoch: "epoch", "objective", "gap", "n_patterns", "time" (seconds of
        optimization so far), plus the keys returned by ``callback``.
    time : float
        Seconds spent in optimizer steps (logging, callbacks and the final gradient norm
        not counted, so that methods compare fairly).
    status : str
        "max_epochs", "converged" (gradient norm <= tol) or "diverged".
    grad_norm : float
        Final full-gradient norm.
    """

    network: Any
    module: nn.Module
    objective: float
    gap: float | None
    history: dict
    optimizer: str
    lr: float
    batch_size: int
    epochs: int
    seed: Any
    time: float
    status: str
    grad_norm: float
    messages: list = field(default_factory=list)

    def __repr__(self) -> str:  # one line (the generated one prints the history)
        from ._reprs import train_result

        return train_result(self)


def _input_dim(module: nn.Module) -> int | None:
    if isinstance(module, TwoLayerModule):
        return module.W1.shape[1]
    first = next((m for m in module.modules() if isinstance(m, nn.Linear)), None)
    return None if first is None else first.in_features


def default_lr(optimizer: str, X: np.ndarray, *, bias: str = "none") -> float:
    r"""Default step: 1e-2 (Adam), 1 (L-BFGS with line search); for GD/SGD on the *summed*
    objective :math:`0.3/\sigma_{\max}(\tilde X)^2`, a fraction of the inverse curvature
    of the squared loss of a linear model on :math:`\tilde X` (:math:`[X, 1]` with a bias),
    which scales as 1/n.  (Measured on random problems, n = 8..50, widths m* and 4m*:
    0.3 gave the smallest median gap after 1000 GD steps; 1.0 was unstable, 3.0 diverged.)"""
    if optimizer in DEFAULT_LR:
        return DEFAULT_LR[optimizer]
    Xt = X if bias == "none" else np.hstack([X, np.ones((X.shape[0], 1))])
    return 0.3 / max(float(np.linalg.norm(Xt, 2)) ** 2, 1e-12)


def check_optimizer(optimizer: Any) -> str:
    """Validate an optimizer name (AdamW is refused with its reason)."""
    if isinstance(optimizer, str) and optimizer.lower() in REFUSED_OPTIMIZERS:
        raise ValueError(f"optimizer={optimizer!r} is refused: {REFUSED_OPTIMIZERS[optimizer.lower()]}")
    return check_choice("optimizer", optimizer, OPTIMIZERS)


def _make_optimizer(name: str, params: list, lr: float, momentum: float):
    if name in ("gd", "sgd"):
        return torch.optim.SGD(params, lr=lr, momentum=momentum)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)  # weight_decay=0: the penalty is in F
    # one iteration per epoch; max_eval bounds the line search (max_eval - 1 evaluations),
    # torch's default max_iter*5//4 = 1 would leave it none
    return torch.optim.LBFGS(params, lr=lr, max_iter=1, max_eval=26, history_size=20,
                             line_search_fn="strong_wolfe", tolerance_grad=1e-14,
                             tolerance_change=1e-16)


def _full_gradient_norm(module, Xt, yt, beta, loss) -> float:
    params = [p for p in module.parameters() if p.requires_grad]
    F = objective(module, Xt, yt, beta=beta, loss=loss)
    grads = torch.autograd.grad(F, params, allow_unused=True)
    return float(torch.sqrt(sum(torch.sum(g**2) for g in grads if g is not None)))


def train(model: Any, X: Any, y: Any, *, beta: float, loss: str | Loss = "squared",
          optimizer: str = "adam", epochs: int = 1000, lr: float | None = None,
          batch_size: int | None = None, momentum: float = 0.0, seed: Any = 0,
          optimum: float | None = None, log_every: int = 1, tol: float | None = None,
          quiet: bool = False, num_threads: int | None = None, bias: str | None = None,
          skip: bool | None = None, output_bias: bool | None = None,
          dtype: torch.dtype = torch.float64, callback: Any = None) -> TrainResult:
    r"""Minimize :math:`F(\theta) = \sum_j \ell(f_\theta(x_j); y_j) + \tfrac{\beta}{2}
    \|\theta_\pi\|^2` by a gradient method, from ``model``'s weights.

    Parameters
    ----------
    model : Network, DeepNetwork or torch.nn.Module
        The starting point (copied, never modified): a random :func:`random_module`, or a
        recovered optimum (warm start).  A module needs a ``penalty()`` method (or is an
        ``nn.Sequential``).
    X : array-like of shape (n, d)
    y : array-like of shape (n,) or (n, c)
    beta : float
        Weight decay (>= 0), in the convention of THEORY section 0.
    loss : {"squared", "logistic", "hinge"}, default="squared"
    optimizer : {"gd", "sgd", "adam", "lbfgs"}, default="adam"
        "gd": full-batch gradient descent; "sgd": mini-batch SGD on :math:`F_B`
        (:math:`\mathbb E F_B = F`); "adam": Adam on :math:`F` or :math:`F_B` (coupled
        penalty); "lbfgs": full-batch L-BFGS with strong-Wolfe line search, one iteration
        per epoch.  "adamw" is refused (decoupled decay minimizes another objective).
    epochs : int, default=1000
        Passes over the data (iterations for the full-batch methods).
    lr : float, optional
        Step size, > 0; :func:`default_lr` when None.
    batch_size : int, optional
        Mini-batch size for "sgd" (default min(32, n // 4)) and "adam" (default n); "gd" and
        "lbfgs" are full batch.
    momentum : float, default=0
        Heavy-ball momentum of "gd"/"sgd", in [0, 1).
    seed : int, numpy Generator or None, default=0
        Seed of the mini-batch order (initialisation is seeded by :func:`random_module`).
    optimum : float, optional
        The convex optimum :math:`p^*`; the history then logs the gap :math:`F - p^*`.
    log_every : int, default=1
        Log the full objective every this many epochs (and at the last).
    tol : float, optional
        Stop when the full-gradient norm at a log point is <= tol.
    quiet : bool, default=False
        No progress bar (one is shown from 1000 epochs on, on a terminal).
    num_threads : int, optional
        torch intra-op threads during training (restored afterwards).  Default: one
        thread below :data:`convexnn._threads.SMALL_SAMPLES` samples (small tensors gain
        nothing from threads, and idle OpenMP threads spinning on a loaded machine made
        300 Adam epochs on n = 20 take 8.6 s against 0.8 s), else the caller's setting.
    bias, skip, output_bias : optional
        Trainable free parts of a :class:`Network` start (see :func:`network_to_module`).
    dtype : torch.dtype, default=torch.float64
    callback : callable, optional
        ``callback(epoch, module) -> dict or None``, called at every log point (under
        ``torch.no_grad``); the values of a returned dict are appended to the history
        under their keys (e.g. a test accuracy).

    Returns
    -------
    TrainResult
    """
    if getattr(loss, "name", loss) == "cross_entropy":  # labels -> one-hot (sorted classes)
        from .vector_fit import encode_labels

        y = encode_labels(y)[0]
    X, y = check_X_y(X, y, multi_output=True)
    loss_obj = get_loss(loss)
    check_choice("loss", loss_obj.name, TORCH_LOSSES)
    y = loss_obj.check_targets(y)
    beta = check_positive("beta", beta, allow_zero=True)
    optimizer = check_optimizer(optimizer)
    epochs = check_int("epochs", epochs)
    log_every = check_int("log_every", log_every)
    if lr is not None:
        lr = check_positive("lr", lr)
    n = X.shape[0]
    full_batch = optimizer in ("gd", "lbfgs")
    if batch_size is None:
        batch_size = min(32, max(1, n // 4)) if optimizer == "sgd" else n
    batch_size = check_int("batch_size", batch_size)
    if batch_size > n:
        raise ValueError(f"batch_size must be <= n = {n}; got {batch_size}")
    if full_batch and batch_size != n:
        raise ValueError(f"optimizer={optimizer!r} is full batch; got batch_size={batch_size} < n={n}"
                         " (use optimizer='sgd' or 'adam' for mini-batches)")
    momentum = check_positive("momentum", momentum, allow_zero=True)
    if momentum >= 1 or (momentum > 0 and optimizer not in ("gd", "sgd")):
        raise ValueError(f"momentum must be in [0, 1) and only with 'gd'/'sgd'; got {momentum!r}")
    if tol is not None:
        tol = check_positive("tol", tol)
    if optimum is not None:
        optimum = float(check_array("optimum", optimum, ndim=0))

    module = as_module(model, bias=bias, skip=skip, output_bias=output_bias, dtype=dtype)
    d_in = _input_dim(module)
    if d_in is not None and d_in != X.shape[1]:
        raise ValueError(f"X has {X.shape[1]} features; the model expects {d_in}")
    if lr is None:
        lr = default_lr(optimizer, X, bias=getattr(module, "bias", "none"))
    Xt, yt = torch.as_tensor(X, dtype=dtype), torch.as_tensor(y, dtype=dtype)
    with torch.no_grad():
        out = module(Xt)
    if tuple(out.shape) != tuple(yt.shape):
        raise ValueError(f"the model predicts shape {tuple(out.shape)}; y has shape {tuple(yt.shape)}")
    threads = torch.get_num_threads()
    if num_threads is None and Xt.shape[0] < SMALL_SAMPLES:
        num_threads = 1
    if num_threads is not None:
        torch.set_num_threads(check_int("num_threads", num_threads))
    try:
        return _train_loop(module, Xt, yt, beta=beta, loss=loss_obj, optimizer=optimizer,
                           epochs=epochs, lr=lr, batch_size=batch_size, momentum=momentum,
                           seed=seed, optimum=optimum, log_every=log_every, tol=tol, quiet=quiet,
                           callback=callback)
    finally:
        torch.set_num_threads(threads)


def _train_loop(module, Xt, yt, *, beta, loss, optimizer, epochs, lr, batch_size, momentum,
                seed, optimum, log_every, tol, quiet, callback) -> TrainResult:
    n = Xt.shape[0]
    params = [p for p in module.parameters() if p.requires_grad]
    opt = _make_optimizer(optimizer, params, lr, momentum)
    batches = torch.Generator().manual_seed(torch_seed(seed, 1))
    has_patterns = isinstance(module, TwoLayerModule)
    history: dict[str, list] = {"epoch": [], "objective": [], "gap": [], "n_patterns": [], "time": []}
    clock = 0.0  # seconds in optimizer steps; logging and callbacks are not counted

    def log(epoch: int) -> float:
        with torch.no_grad():
            F = float(objective(module, Xt, yt, beta=beta, loss=loss))
        history["epoch"].append(epoch)
        history["objective"].append(F)
        history["gap"].append(None if optimum is None else F - optimum)
        history["n_patterns"].append(module.n_patterns(Xt) if has_patterns else None)
        history["time"].append(clock)
        if callback is not None:
            with torch.no_grad():
                extra = callback(epoch, module)
            for key, value in (extra or {}).items():
                history.setdefault(key, []).append(value)
        return F

    def closure():
        opt.zero_grad()
        F = objective(module, Xt, yt, beta=beta, loss=loss)
        F.backward()
        return F

    from tqdm.auto import tqdm

    status = "max_epochs"
    F = log(0)
    bar = tqdm(range(1, epochs + 1), desc=optimizer, leave=False,
               disable=True if quiet or epochs < PROGRESS_MIN_EPOCHS else None)
    for epoch in bar:
        t0 = time.perf_counter()
        if batch_size == n:
            opt.step(closure)
        else:
            perm = torch.randperm(n, generator=batches)
            for start in range(0, n, batch_size):
                idx = perm[start:start + batch_size]
                opt.zero_grad()
                objective(module, Xt[idx], yt[idx], beta=beta, loss=loss, n=n).backward()
                opt.step()
        clock += time.perf_counter() - t0
        if epoch % log_every and epoch != epochs:
            continue
        F = log(epoch)
        if not np.isfinite(F):
            status = "diverged"
            break
        bar.set_postfix(objective=f"{F:.6g}", refresh=False)
        if tol is not None and _full_gradient_norm(module, Xt, yt, beta, loss) <= tol:
            status = "converged"
            break
    bar.close()
    grad_norm = _full_gradient_norm(module, Xt, yt, beta, loss) if np.isfinite(F) else float("nan")
    messages = [] if status != "diverged" else [f"objective became {F} at epoch {epoch}; lower lr"]
    network = None
    if status != "diverged" and (isinstance(module, TwoLayerModule | MLPModule)
                                 or isinstance(module, nn.Sequential)):
        network = as_network(module)  # a custom module (own penalty()) stays a module only
    return TrainResult(network=network, module=module, objective=F,
                       gap=None if optimum is None else F - optimum, history=history,
                       optimizer=optimizer, lr=lr, batch_size=batch_size,
                       epochs=history["epoch"][-1], seed=seed, time=clock, status=status,
                       grad_norm=grad_norm, messages=messages)


__all__ = ["TwoLayerModule", "MLPModule", "TrainResult", "train", "random_module", "objective",
           "loss_sum", "network_to_module", "module_to_network", "deep_to_module",
           "module_to_deep", "default_lr", "OPTIMIZERS"]
