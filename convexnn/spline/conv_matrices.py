r"""Convolutions and poolings of small signals as explicit matrices (pure numpy, THEORY G).

A signal of shape :math:`(C, n_1, \dots, n_k)` is a flat vector in C order (torch's
``flatten``).  A sliding window with kernel :math:`(\kappa_1, \dots)`, stride s, padding
:math:`(p^-, p^+)` and dilation :math:`\delta` has, along each axis,

.. math::  n_{out} = \Big\lfloor \frac{n + p^- + p^+ - \delta(\kappa - 1) - 1}{s} \Big\rfloor + 1,
           \qquad \mathrm{pos}(i, a) = i\,s - p^- + a\,\delta,

and :func:`window_indices` lists, for every output position, the flat input index of each
kernel position (-1 where it falls in the padding).  From it:

* convolution, :math:`z_{o,i} = b_o + \sum_{c, a} w_{o,c,a}\, h_{c,\mathrm{pos}(i,a)}`
  (zero padding, groups): :func:`conv_matrix` returns the dense matrix W and bias;
* average pooling, :math:`z_{c,i} = \frac{1}{|w|}\sum_a h_{c,\mathrm{pos}(i,a)}`:
  :func:`avgpool_matrix`;
* max pooling, :math:`z_{c,i} = \max_a h_{c,\mathrm{pos}(i,a)}`: :func:`maxpool_windows`
  gives the window of every output unit (a MASO with R = window size).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _axis_positions(n: int, k: int, s: int, lo: int, hi: int, dil: int) -> np.ndarray:
    """pos(i, a) = i s - lo + a dil along one axis, shape (n_out, k), -1 when outside."""
    n_out = (n + lo + hi - dil * (k - 1) - 1) // s + 1
    if n_out < 1:
        raise ValueError(f"a window of size {k} (dilation {dil}) does not fit an axis of length "
                         f"{n} with padding ({lo}, {hi})")
    pos = np.arange(n_out)[:, None] * s - lo + np.arange(k)[None, :] * dil
    return np.where((pos >= 0) & (pos < n), pos, -1)


def window_indices(spatial: Sequence[int], kernel: Sequence[int], stride: Sequence[int],
                   padding: Sequence[tuple[int, int]], dilation: Sequence[int]
                   ) -> tuple[np.ndarray, tuple[int, ...]]:
    """Flat spatial input index of each kernel position of each output position.

    Returns ``idx`` of shape (P_out, K) (row-major output positions and kernel positions,
    -1 in the padding) and the output spatial shape.
    """
    flat = np.zeros((1, 1), dtype=np.int64)
    out_shape = []
    for n, k, s, (lo, hi), dil in zip(spatial, kernel, stride, padding, dilation, strict=True):
        pos = _axis_positions(n, k, s, lo, hi, dil)
        out_shape.append(pos.shape[0])
        # combine axes row-major: index = previous * n + pos, -1 if either is padding
        new = flat[:, None, :, None] * n + pos[None, :, None, :]
        bad = (flat[:, None, :, None] < 0) | (pos[None, :, None, :] < 0)
        flat = np.where(bad, -1, new).reshape(flat.shape[0] * pos.shape[0], -1)
    return flat, tuple(out_shape)


def conv_matrix(weight: np.ndarray, bias: np.ndarray | None, in_shape: Sequence[int], *,
                stride: Sequence[int], padding: Sequence[tuple[int, int]],
                dilation: Sequence[int], groups: int = 1
                ) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    r"""Dense matrix of a zero-padded convolution (torch's cross-correlation convention).

    .. math::  W[(o, i), (c, \mathrm{pos}(i, a))] = w_{o,\, c - g(o) C_g,\, a},
               \qquad b[(o, i)] = \mathrm{bias}_o,

    for c in the group :math:`g(o) = \lfloor o / (C_{out}/G) \rfloor` of output channel o.

    Parameters
    ----------
    weight : ndarray of shape (C_out, C_in / groups, \*kernel)
    bias : ndarray of shape (C_out,) or None
    in_shape : (C_in, \*spatial)

    Returns
    -------
    W : ndarray of shape (C_out * P_out, C_in * P_in)
    b : ndarray of shape (C_out * P_out,)
    out_shape : (C_out, \*spatial_out)
    """
    c_out, c_group = weight.shape[:2]
    kernel = weight.shape[2:]
    c_in, spatial = in_shape[0], tuple(in_shape[1:])
    if c_group * groups != c_in or c_out % groups:
        raise ValueError(f"weight of shape {weight.shape} with groups={groups} does not match "
                         f"{c_in} input channels")
    idx, out_spatial = window_indices(spatial, kernel, stride, padding, dilation)
    P, K, S = idx.shape[0], idx.shape[1], int(np.prod(spatial))
    o = np.arange(c_out)[:, None, None, None]
    c = np.arange(c_group)[None, :, None, None]
    p = np.arange(P)[None, None, :, None]
    a = np.arange(K)[None, None, None, :]
    c_glob = (o // (c_out // groups)) * c_group + c
    vals = weight.reshape(c_out, c_group, K)[o, c, a]
    rows, cols, vals, win = np.broadcast_arrays(o * P + p, c_glob * S + idx[None, None], vals,
                                                idx[None, None])
    keep = win >= 0
    W = np.zeros((c_out * P, c_in * S))
    W[rows[keep], cols[keep]] = vals[keep]          # one kernel tap per (row, column)
    b = np.zeros(c_out) if bias is None else np.asarray(bias, dtype=np.float64)
    return W, np.repeat(b, P), (c_out, *out_spatial)


def avgpool_matrix(in_shape: Sequence[int], *, kernel: Sequence[int], stride: Sequence[int],
                   padding: Sequence[tuple[int, int]], count_include_pad: bool = True,
                   divisor: int | None = None) -> tuple[np.ndarray, tuple[int, ...]]:
    r"""Matrix of channel-wise average pooling, :math:`z_{c,i} = \frac1{|w_i|}\sum_a h_{c,\mathrm{pos}(i,a)}`.

    :math:`|w_i|` is the kernel size (``count_include_pad``), the number of window entries
    inside the signal (otherwise), or ``divisor`` when given (torch's ``divisor_override``).
    Returns the matrix (C P_out, C P_in) and the output shape.
    """
    c_in, spatial = in_shape[0], tuple(in_shape[1:])
    idx, out_spatial = window_indices(spatial, kernel, stride, padding, (1,) * len(spatial))
    P, K, S = idx.shape[0], idx.shape[1], int(np.prod(spatial))
    valid = idx >= 0
    if divisor is not None:
        div = np.full(P, float(divisor))
    else:
        div = np.full(P, float(K)) if count_include_pad else valid.sum(1).astype(float)
    W = np.zeros((c_in, P, c_in, S))
    p, a = np.nonzero(valid)
    for ch in range(c_in):
        W[ch, p, ch, idx[p, a]] = 1.0 / div[p]
    return W.reshape(c_in * P, c_in * S), (c_in, *out_spatial)


def maxpool_windows(in_shape: Sequence[int], *, kernel: Sequence[int], stride: Sequence[int],
                    padding: Sequence[tuple[int, int]], dilation: Sequence[int]
                    ) -> tuple[np.ndarray, tuple[int, ...]]:
    """Windows of channel-wise max pooling: flat input indices, shape (C P_out, K), -1 in padding.

    Row (c, i) lists the inputs of output unit (c, i) in kernel order, so that the code
    of the unit (the argmax) is a kernel position in 0..K-1.  Returns it and the output shape.
    """
    c_in, spatial = in_shape[0], tuple(in_shape[1:])
    idx, out_spatial = window_indices(spatial, kernel, stride, padding, dilation)
    S = int(np.prod(spatial))
    offsets = (np.arange(c_in) * S)[:, None, None]
    windows = np.where(idx[None] >= 0, idx[None] + offsets, -1).reshape(-1, idx.shape[1])
    return windows, (c_in, *out_spatial)


__all__ = ["window_indices", "conv_matrix", "avgpool_matrix", "maxpool_windows"]
