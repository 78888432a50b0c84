r"""Training small torch classifiers (MLPs or CNNs) with a template-orthogonality penalty.

:func:`train_classifier` minimizes, by seeded mini-batch Adam,

.. math::  \frac{1}{|B|}\sum_{i \in B} \mathrm{CE}(f(x_i), y_i) + \lambda\, P,

with P one of the penalties of :mod:`~convexnn.spline.penalties` (THEORY G):

* ``"none"``: P = 0;
* ``"template"``: the exact per-example penalty
  :math:`P_T = \frac{1}{|B|}\sum_{i\in B}\sum_{c\ne c'}\langle A[x_i]_c, A[x_i]_{c'}\rangle^2`
  (C extra backward passes per step, differentiated through);
* ``"last_layer"``: the surrogate :math:`P_W = \sum_{c\ne c'}\langle W_L[c], W_L[c']\rangle^2`.

:func:`digits_cnn` builds the small CNN used by the examples on scikit-learn's 8 x 8 digits.
This module imports torch (``convexnn.spline`` loads it only on demand).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ..core.threads import limit_torch
from ..core.validation import check_choice, check_int, check_positive
from .penalties import last_layer_penalty, template_penalty

PENALTIES = ("none", "template", "last_layer")


@dataclass
class TrainLog:
    """What :func:`train_classifier` returns (the model is trained in place).

    Attributes
    ----------
    model : torch.nn.Module
    loss : list of float
        Mean cross-entropy of each epoch's mini-batches (without the penalty).
    penalty : list of float
        Mean penalty P of each epoch (0 for ``"none"``).
    """

    model: Any
    loss: list[float] = field(default_factory=list)
    penalty: list[float] = field(default_factory=list)


def digits_cnn(seed: int = 0, *, channels: tuple[int, int] = (8, 16), n_classes: int = 10,
               dtype: torch.dtype = torch.float64) -> nn.Sequential:
    r"""A small CNN for 1 x 8 x 8 images, initialised with ``torch.manual_seed(seed)``:

    conv 3x3 (pad 1) -> ReLU -> max pool 2 -> conv 3x3 (pad 1) -> ReLU -> max pool 2
    -> flatten -> linear (C_2 * 2 * 2 -> n_classes).
    """
    c1, c2 = channels
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(c2 * 4, n_classes)).to(dtype)
    torch.random.set_rng_state(gen_state)
    return model


def _penalty(model: nn.Module, Xb: torch.Tensor, penalty: str) -> torch.Tensor:
    if penalty == "template":
        return template_penalty(model, Xb)
    if penalty == "last_layer":
        return last_layer_penalty(model)
    return torch.zeros((), dtype=Xb.dtype)


def _epoch(model: nn.Module, opt: Any, Xt: torch.Tensor, yt: torch.Tensor, order: torch.Tensor,
           batch_size: int, penalty: str, lam: float, log: TrainLog) -> None:
    """One pass over the mini-batches of ``order``; appends the means to ``log``."""
    ce = nn.CrossEntropyLoss()
    losses, pens = [], []
    for start in range(0, len(Xt), batch_size):
        idx = order[start:start + batch_size]
        opt.zero_grad()
        loss = ce(model(Xt[idx]), yt[idx])
        pen = _penalty(model, Xt[idx], penalty) if penalty != "none" else None
        (loss if pen is None else loss + lam * pen).backward()
        opt.step()
        losses.append(loss.item())
        pens.append(0.0 if pen is None else pen.item())
    log.loss.append(float(np.mean(losses)))
    log.penalty.append(float(np.mean(pens)))


def train_classifier(model: nn.Module, X: Any, y: Any, *, penalty: str = "none",
                     lam: float = 0.0, epochs: int = 100, batch_size: int = 64,
                     lr: float = 1e-2, weight_decay: float = 0.0, seed: int = 0,
                     num_threads: int | None = 1) -> TrainLog:
    r"""Train ``model`` in place on :math:`\mathrm{CE} + \lambda P` by mini-batch Adam.

    Parameters
    ----------
    model : torch.nn.Module
        A classifier returning logits (n, C); no batch norm in training mode with
        ``penalty="template"`` (the examples of a batch would interact).
    X : array-like of shape (n, ...)
        Inputs in the model's layout (e.g. (n, 1, 8, 8)); converted to its dtype.
    y : array-like of int, shape (n,)
    penalty : {"none", "template", "last_layer"}, default="none"
    lam : float, default=0.0
        :math:`\lambda \ge 0`.
    epochs, batch_size : int
        Passes over the data and the mini-batch size (a seeded permutation per epoch).
    lr : float, default=1e-2
        Adam's step size.
    weight_decay : float, default=0.0
        Adam's (coupled) L2 term.
    seed : int, default=0
        Seed of the mini-batch order.
    num_threads : int or None, default=1
        torch threads while training (restored after); one is fastest for these small
        models, and much faster than two on shared cores.  None: torch's setting.

    Returns
    -------
    TrainLog
    """
    penalty = check_choice("penalty", penalty, PENALTIES)
    lam = check_positive("lam", lam, allow_zero=True)
    epochs, batch_size = check_int("epochs", epochs), check_int("batch_size", batch_size)
    param = next(model.parameters())
    Xt = torch.as_tensor(np.asarray(X), dtype=param.dtype)
    yt = torch.as_tensor(np.asarray(y), dtype=torch.long)
    if len(Xt) != len(yt):
        raise ValueError(f"X has {len(Xt)} samples and y has {len(yt)}")
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    log = TrainLog(model)
    model.train()
    with limit_torch(num_threads):
        for _ in range(epochs):
            _epoch(model, opt, Xt, yt, torch.randperm(len(Xt), generator=gen), batch_size,
                   penalty, lam, log)
    model.eval()
    return log


def accuracy(model: nn.Module, X: Any, y: Any) -> float:
    """Fraction of inputs whose argmax logit is the label."""
    param = next(model.parameters())
    with torch.no_grad():
        pred = model(torch.as_tensor(np.asarray(X), dtype=param.dtype)).argmax(1).numpy()
    return float(np.mean(pred == np.asarray(y)))





def digits_images(n_train: int = 500, seed: int = 0, *, classes: Any = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's 8 x 8 digits as (n, 1, 8, 8) images in [0, 1], split by a seeded
    stratified draw of ``n_train`` training images (the rest is the test set).

    Parameters
    ----------
    classes : sequence of int, optional
        Keep only these digits (labels renumbered 0..k-1 in the given order).

    Returns
    -------
    X_train, y_train, X_test, y_test
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    X, y = digits.images[:, None, :, :] / 16.0, digits.target
    if classes is not None:
        classes = list(classes)
        keep = np.isin(y, classes)
        X, y = X[keep], np.array([classes.index(v) for v in y[keep]])
    n_train = check_int("n_train", n_train)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, train_size=n_train, stratify=y, random_state=seed)
    return X_tr, y_tr, X_te, y_te
__all__ = ["PENALTIES", "TrainLog", "accuracy", "digits_cnn", "digits_images", "train_classifier"]
