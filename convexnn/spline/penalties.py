r"""Template-orthogonality penalties, as differentiable torch loss terms (THEORY G).

With :math:`A[x]` the per-input affine map of a classifier (rows: class templates),

* the exact per-example penalty is

  .. math::  P_T = \frac1n \sum_{i=1}^n \sum_{c \ne c'} \langle A[x_i]_{c}, A[x_i]_{c'}\rangle^2
             = \frac1n \sum_i \big\|A[x_i] A[x_i]^\top - \mathrm{diag}(A[x_i]A[x_i]^\top)\big\|_F^2,

  with :math:`A[x_i]` the input Jacobian from autograd (C backward passes, the graph kept
  so that :math:`P_T` can be back-propagated to the weights);
* the last-layer surrogate, used by the authors' code, is

  .. math::  P_W = \sum_{c \ne c'} \langle W_L[c,:], W_L[c',:]\rangle^2
             = \|W_L W_L^\top - \mathrm{diag}(W_L W_L^\top)\|_F^2.

Train with :math:`\mathrm{CE} + \lambda_{orth} P`.  The authors' TF ``ortho_loss2`` takes a
mean and puts the column mean of :math:`W \circ W` on the diagonal; we use the plain sum
(THEORY G; whether the paper penalizes :math:`A[x]` or :math:`W_L` is THEORY J.8).
torch is imported inside the functions only.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def off_diagonal_gram(A: Any) -> Any:
    r""":math:`\|A A^\top - \mathrm{diag}(A A^\top)\|_F^2` over the last two axes.

    Works on numpy arrays and torch tensors alike; a batch (n, C, D) gives shape (n,).
    """
    G = A @ A.swapaxes(-1, -2) if isinstance(A, np.ndarray) else A @ A.transpose(-1, -2)
    diag = G.diagonal(0, -2, -1) if not isinstance(A, np.ndarray) else np.diagonal(G, 0, -2, -1)
    return (G**2).sum((-2, -1)) - (diag**2).sum(-1)


def last_layer_penalty(model: Any) -> Any:
    r"""Last-layer surrogate :math:`P_W = \sum_{c \ne c'} \langle W_L[c], W_L[c']\rangle^2`.

    Parameters
    ----------
    model : torch.nn.Module, torch.Tensor or ndarray
        A module (its last ``nn.Linear`` is used) or the weight matrix :math:`W_L` of
        shape (C, D) (torch's ``nn.Linear.weight`` convention).

    Returns
    -------
    torch scalar tensor (differentiable), or float for a numpy array.
    """
    if isinstance(model, np.ndarray):
        if model.ndim != 2:
            raise ValueError(f"model must be a (C, D) weight matrix; got shape {model.shape}")
        return float(off_diagonal_gram(model))
    import torch

    if isinstance(model, torch.nn.Module):
        linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
        if not linears:
            raise TypeError(f"model: {type(model).__name__} has no nn.Linear layer")
        W = linears[-1].weight
    elif isinstance(model, torch.Tensor):
        W = model
    else:
        raise TypeError(f"model must be a torch module, tensor or ndarray; got {type(model).__name__}")
    if W.ndim != 2:
        raise ValueError(f"model must be a (C, D) weight matrix; got shape {tuple(W.shape)}")
    return off_diagonal_gram(W)


def input_jacobians(model: Any, X: Any, *, create_graph: bool = True) -> Any:
    r"""Per-example input Jacobians :math:`A[x_i] = \partial f(x_i) / \partial x`, (n, C, d).

    Row c is one backward pass of :math:`\sum_i f_c(x_i)`, which equals the per-example
    gradients because the examples do not interact (MLPs, CNNs; batch norm only in eval
    mode, which is checked).  Inputs of shape (n, C_in, H, W) give d = C_in H W (C order).
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch nn.Module; got {type(model).__name__}")
    nn = torch.nn
    norms = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)
    mixing = [type(m).__name__ for m in model.modules() if isinstance(m, norms) and m.training]
    if mixing:
        raise ValueError(f"model has {mixing[0]} in training mode, which couples the examples "
                         "of a batch; per-example templates need model.eval()")
    param = next(model.parameters(), None)
    like = {} if param is None else {"dtype": param.dtype, "device": param.device}
    X = torch.as_tensor(X, **like).detach().clone().requires_grad_(True)
    if X.ndim < 2:
        raise ValueError(f"X must be a batch (n, d) or (n, C, ...); got shape {tuple(X.shape)}")
    out = model(X)
    out = out[:, None] if out.ndim == 1 else out
    rows = [torch.autograd.grad(out[:, c].sum(), X, create_graph=create_graph)[0].reshape(len(X), -1)
            for c in range(out.shape[1])]
    return torch.stack(rows, dim=1)


def template_penalty(model: Any, X: Any) -> Any:
    r"""Exact template-orthogonality penalty
    :math:`P_T = \frac1n\sum_i \sum_{c \ne c'}\langle A[x_i]_c, A[x_i]_{c'}\rangle^2`.

    Parameters
    ----------
    model : torch.nn.Module
        A classifier with C outputs (e.g. an ``nn.Sequential`` MLP or CNN).
    X : torch.Tensor of shape (n, d) or (n, C_in, H, W)

    Returns
    -------
    torch scalar tensor, differentiable with respect to the model's parameters.
    """
    return off_diagonal_gram(input_jacobians(model, X)).mean()


__all__ = ["off_diagonal_gram", "last_layer_penalty", "input_jacobians", "template_penalty"]
