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

"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ..core.losses import Loss, encode_labels, get_loss
from ..core.threads import limit_torch
from ..core.validation import check_array, check_choice, check_int, check_positive, check_X_y
from ..core.variant import Variant
from .convert import as_module, as_network
from .modules import MLPModule, TwoLayerModule, objective, torch_seed

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
        from ..core.reprs import train_result

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
    Xt, _ = Variant(bias=bias).lift(X)
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
        thread below :data:`convexnn.core.threads.SMALL_SAMPLES` samples (small tensors gain
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
    loss_obj = get_loss(loss)
    if loss_obj.targets == "onehot":  # labels -> one-hot (sorted classes)
        y = encode_labels(y)[0]
    X, y = check_X_y(X, y, multi_output=True)
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
    # one torch thread below SMALL_SAMPLES unless told otherwise (convexnn.core.threads)
    if num_threads is None:
        cap = limit_torch(1, n_samples=Xt.shape[0])
    else:
        cap = limit_torch(check_int("num_threads", num_threads))
    with cap:
        return _train_loop(module, Xt, yt, beta=beta, loss=loss_obj, optimizer=optimizer,
                           epochs=epochs, lr=lr, batch_size=batch_size, momentum=momentum,
                           seed=seed, optimum=optimum, log_every=log_every, tol=tol, quiet=quiet,
                           callback=callback)


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



__all__ = ["TrainResult", "train", "default_lr", "check_optimizer", "OPTIMIZERS"]
