r"""The convolutional first layer of a two-layer CNN (THEORY D): patches and pooling.

An image :math:`x \in \mathbb R^{C\times H\times W}` has K patches of size
:math:`h = C p_h p_w` (patch :math:`p_h\times p_w`, stride :math:`(s_h, s_w)`, no padding);
:math:`X_k \in \mathbb R^{n\times h}` stacks the k-th patch of every image, its features in
the order of a torch ``Conv2d`` weight (channel, row, column).  A two-layer ReLU CNN with
sum or mean pooling computes

.. math::
    f(x) = \sum_j \alpha_j\,\rho\sum_{k=1}^K (x_k^\top u_j + b_j)_+ + c_0,
    \qquad \rho = 1 \text{ (sum) or } 1/K \text{ (mean)},

so with the *stacked patch matrix* :math:`Z = \rho\,[\tilde X_1; \dots; \tilde X_K]`
(:math:`\tilde X_k = [X_k, 1]` with hidden biases) the network is a two-layer network on
the nK rows of Z whose outputs are summed over the patches of each image:
:math:`f = P(Zu)_+\alpha` with :math:`P = [I_n \cdots I_n]`.  :class:`Conv` describes the
layer and builds Z; it is what ``convexnn.fit(..., conv=Conv(...))`` takes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..exceptions import ConvexNNValueError
from .patterns import add_bias_column
from .validation import check_array, check_choice

#: Pooling of the patches' hidden features: their sum, or their mean.
POOLINGS = ("mean", "sum")


def _pair(name: str, value) -> tuple[int, int] | int:
    """An int >= 1 or a pair of them (validated)."""
    items = value if isinstance(value, tuple | list) else (value,)
    if len(items) not in (1, 2) or any(isinstance(v, bool) or not isinstance(v, int | np.integer)
                                        or v < 1 for v in items):
        raise ConvexNNValueError(f"{name} must be a positive int or a pair of them; got {value!r}")
    return int(items[0]) if len(items) == 1 else (int(items[0]), int(items[1]))


@dataclass(frozen=True)
class Conv:
    """A convolutional first layer: patch size, stride and pooling.

    Parameters
    ----------
    patch : int or (int, int)
        Patch (kernel) size :math:`(p_h, p_w)`; an int p is (p, p) for images and (1, p)
        for signals (inputs of height 1).
    stride : int or (int, int), default=1
    pooling : {"mean", "sum"}, default="mean"
        Mean or sum of the hidden features over the patches (global average pooling or
        sum pooling).

    Inputs are signals (n, L), images (n, H, W) or (n, C, H, W); no padding.
    """

    patch: int | tuple[int, int]
    stride: int | tuple[int, int] = 1
    pooling: str = "mean"

    def __post_init__(self) -> None:
        object.__setattr__(self, "patch", _pair("patch", self.patch))
        object.__setattr__(self, "stride", _pair("stride", self.stride))
        check_choice("pooling", self.pooling, POOLINGS)

    # ---- what the strings mean (the only place they are tested) -------------------------
    @property
    def mean(self) -> bool:
        """Mean pooling (each patch's feature weighted 1/K)."""
        return self.pooling == "mean"

    # ---- shapes -----------------------------------------------------------------------
    @staticmethod
    def images(X) -> np.ndarray:
        """X as a float array of shape (n, C, H, W): signals (n, L) are (n, 1, 1, L), images
        (n, H, W) are (n, 1, H, W)."""
        X = check_array("X", X, ndim=(2, 3, 4))
        if X.ndim == 2:
            return X[:, None, None, :]
        return X[:, None] if X.ndim == 3 else X

    def kernel(self, shape: tuple[int, ...]) -> tuple[int, int]:
        """(p_h, p_w) for images of shape (C, H, W): an int patch p is (1, p) when H = 1."""
        return self._resolve(self.patch, shape)

    def strides(self, shape: tuple[int, ...]) -> tuple[int, int]:
        """(s_h, s_w) for images of shape (C, H, W)."""
        return self._resolve(self.stride, shape)

    @staticmethod
    def _resolve(p, shape) -> tuple[int, int]:
        if isinstance(p, tuple):
            return p
        return (1, p) if shape[-2] == 1 else (p, p)

    def check_shape(self, shape: tuple[int, ...]) -> None:
        """Refuse a patch larger than the image (shape (C, H, W))."""
        (ph, pw), (H, W) = self.kernel(shape), shape[-2:]
        if ph > H or pw > W:
            raise ConvexNNValueError(f"patch {(ph, pw)} is larger than the images ({H} x {W})")

    def grid(self, shape: tuple[int, ...]) -> tuple[int, int]:
        """The output positions (rows, columns) of images of shape (C, H, W)."""
        (ph, pw), (sh, sw), (H, W) = self.kernel(shape), self.strides(shape), shape[-2:]
        return (H - ph) // sh + 1, (W - pw) // sw + 1

    def n_patches(self, shape: tuple[int, ...]) -> int:
        """K, the patches per image of shape (C, H, W)."""
        gh, gw = self.grid(shape)
        return gh * gw

    def patch_dim(self, shape: tuple[int, ...]) -> int:
        """h = C p_h p_w."""
        ph, pw = self.kernel(shape)
        return shape[-3] * ph * pw

    def weight(self, shape: tuple[int, ...]) -> float:
        r""":math:`\rho`: 1/K for mean pooling, 1 for sum."""
        return 1.0 / self.n_patches(shape) if self.mean else 1.0

    # ---- patches ------------------------------------------------------------------------
    def patches(self, X) -> np.ndarray:
        r"""The patches of every image, shape (n, K, h): patch k (row-major over the output
        positions) of image i is ``out[i, k]``, features ordered (channel, row, column)."""
        imgs = self.images(X)
        self.check_shape(imgs.shape[1:])
        (ph, pw), (sh, sw) = self.kernel(imgs.shape[1:]), self.strides(imgs.shape[1:])
        win = np.lib.stride_tricks.sliding_window_view(imgs, (ph, pw), axis=(2, 3))
        win = win[:, :, ::sh, ::sw]  # (n, C, gh, gw, ph, pw)
        n, C, gh, gw = win.shape[:4]
        return np.ascontiguousarray(win.transpose(0, 2, 3, 1, 4, 5)).reshape(n, gh * gw, C * ph * pw)

    def stacked(self, X, *, bias: bool) -> np.ndarray:
        r"""The stacked patch matrix :math:`Z = \rho[\tilde X_1; \dots; \tilde X_K]`, shape
        (nK, h'), row :math:`kn + j` = patch k of image j (with a bias column of ones when
        ``bias``)."""
        P = self.patches(X)
        n, K, h = P.shape
        Z = P.transpose(1, 0, 2).reshape(n * K, h)
        if bias:
            Z = add_bias_column(Z)
        return Z * (1.0 / K if self.mean else 1.0)

    def describe(self, shape: tuple[int, ...]) -> str:
        """E.g. "3x3 patches, stride 1, mean pooling over 36"."""
        (ph, pw), (sh, sw) = self.kernel(shape), self.strides(shape)
        stride = f"{sh}" if sh == sw else f"({sh}, {sw})"
        return f"{ph}x{pw} patches, stride {stride}, {self.pooling} pooling over {self.n_patches(shape)}"


__all__ = ["POOLINGS", "Conv"]
