r"""What :func:`convexnn.fit` was asked, validated once: a :class:`FitSpec` and the data.

.. math::
    \min_\theta\ \sum_j \ell(f_\theta(x_j); y_j) + \tfrac{\beta}{2}\|\theta_\pi\|_2^2

for the network family the spec names (two layers, scalar or vector output; three-layer
parallel with path regularization; a two-layer CNN when ``conv`` names its convolutional
first layer).  :func:`make_spec` checks every argument and the data
at the public boundary and raises an error naming the argument; the program kinds, the
pipeline and the solvers downstream trust the spec (scikit-learn's "validate once").
Which program kind solves a spec is the registry's decision (:mod:`convexnn.kinds`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..exceptions import ConvexNNTypeError, ConvexNNValueError
from .conv import Conv
from .losses import Loss, encode_labels, get_loss
from .patterns import MAX_PATTERNS
from .validation import (
    check_array,
    check_choice,
    check_int,
    check_num_threads,
    check_positive,
    check_tol,
)
from .variant import DEFAULT_BIAS, Variant

#: Network depths :func:`convexnn.fit` builds programs for.
DEPTHS = (2, 3)
#: Path regularizers of the three-layer parallel networks (THEORY E.1).
PATHS = ("l1", "l2")


@dataclass(frozen=True)
class FitData:
    """Validated training data.

    Attributes
    ----------
    X : ndarray of shape (n, d), or (n, C, H, W) images for a CNN (``FitSpec.conv``)
    y : ndarray of shape (n,) or (n, c)
        Real targets, labels in {-1, +1} (logistic, hinge), a target matrix (vector
        output) or one-hot rows (cross-entropy).
    classes : ndarray or None
        The class labels of the one-hot columns (cross-entropy), else None.
    """

    X: np.ndarray
    y: np.ndarray
    classes: np.ndarray | None = None

    @property
    def n_samples(self) -> int:
        return self.X.shape[0]

    @property
    def n_outputs(self) -> int:
        return 1 if self.y.ndim == 1 else self.y.shape[1]


@dataclass(frozen=True)
class FitSpec:
    """Everything :func:`convexnn.fit` was asked (see its docstring for the meanings).

    ``options`` holds the solver options (unknown keywords are refused by the program kind,
    which knows its solvers); ``init`` the seed networks as a tuple; ``conv`` the
    convolutional first layer of a two-layer CNN (:class:`~convexnn.core.conv.Conv`), or
    None for a fully connected network.
    """

    variant: Variant
    loss: Loss
    beta: float
    n_outputs: int = 1
    depth: int = 2
    path: str = "l2"
    m1: int = 2
    patterns: Any = "auto"
    solver: str = "auto"
    tol: float | None = None
    seed: Any = None
    prune: bool = True
    certify: bool = True
    init: tuple = ()
    time_limit: float | None = None
    max_rounds: int | None = None
    max_patterns: int = MAX_PATTERNS
    verbose: bool = False
    progress: bool | None = None
    options: dict = field(default_factory=dict)
    conv: Conv | None = None

    @property
    def vector(self) -> bool:
        """Vector output: a target matrix or class labels under cross-entropy."""
        return self.n_outputs > 1 or self.loss.targets == "onehot"

    @property
    def recorded_seed(self) -> int | None:
        """The seed as the result records it (a Generator is not recorded)."""
        return self.seed if isinstance(self.seed, int | None) else None


def check_data(X: Any, y: Any, loss: Loss, conv: Conv | None = None) -> FitData:
    """X (n, d) and targets as the loss reads them: a 1-D vector (labels in {-1, +1} for
    logistic and hinge), an (n, c) matrix (vector output, squared loss), or class labels /
    one-hot rows (cross-entropy).  With ``conv``, X are signals (n, L) or images
    (n, H, W) / (n, C, H, W), kept as (n, C, H, W) (:meth:`Conv.images`)."""
    if conv is None:
        X = check_array("X", X, ndim=2)
    elif not isinstance(conv, Conv):
        raise ConvexNNTypeError(f"conv must be a convexnn.Conv (patch, stride, pooling); got "
                                f"{type(conv).__name__}")
    else:
        X = conv.images(X)
        conv.check_shape(X.shape[1:])
    classes = None
    if loss.targets == "onehot":
        Y, classes = encode_labels(y)
    elif np.ndim(y) == 2 and np.shape(y)[1] > 1:
        if loss.targets != "real":
            raise ConvexNNValueError(
                f"loss={loss.name!r} takes a 1-D label vector in {{-1, +1}}; y has shape "
                f"{np.shape(y)} -- for several classes use loss='cross_entropy'")
        Y = check_array("y", y, ndim=2)
    else:
        Y = check_array("y", y, ndim=(1, 2))
        Y = Y[:, 0] if Y.ndim == 2 else Y
        Y = loss.check_targets(Y)
    if X.shape[0] != Y.shape[0]:
        raise ConvexNNValueError(
            f"X and y have different numbers of samples: {X.shape[0]} != {Y.shape[0]}")
    return FitData(X, Y, classes)


def _check_init(init: Any) -> tuple:
    if init is None:
        return ()
    return tuple(init) if isinstance(init, list | tuple) else (init,)


#: The seed when none is given: every kind's random steps draw from it, so the same input
#: gives the same answer (pass another int or a numpy Generator for other draws).
DEFAULT_SEED = 0


def make_spec(X: Any, y: Any, *, beta: Any, model: str = "relu", loss: Any = "squared",
              depth: Any = 2, path: str = "l2", m1: Any = 2, patterns: Any = "auto",
              bias: str = DEFAULT_BIAS, skip: bool = False, output_bias: bool = False,
              solver: str = "auto", seed: Any = None, prune: bool = True,
              tol: Any = None, max_patterns: Any = MAX_PATTERNS, certify: bool = True,
              init: Any = None, time_limit: Any = None, max_rounds: Any = None,
              verbose: bool = False,
              progress: Any = None, conv: Any = None, **options) -> tuple[FitSpec, FitData]:
    """Validate :func:`convexnn.fit`'s arguments and data into (spec, data)."""
    loss_obj = get_loss(loss)
    beta = check_positive("beta", beta)
    if isinstance(depth, bool) or not isinstance(depth, int | np.integer):
        raise ConvexNNTypeError(f"depth must be an integer; got {type(depth).__name__}")
    if int(depth) not in DEPTHS:
        raise ConvexNNValueError(
            f"depth must be 2 (two-layer networks) or 3 (parallel three-layer networks with "
            f"path regularization); got {depth} (deep 1-D data: convexnn.deep_1d)")
    variant = Variant(model, bias, skip, output_bias)
    data = check_data(X, y, loss_obj, conv)
    if "num_threads" in options:
        options["num_threads"] = check_num_threads(options["num_threads"])
    spec = FitSpec(
        variant=variant, loss=loss_obj, beta=beta, n_outputs=data.n_outputs, depth=int(depth),
        path=check_choice("path", path, PATHS), m1=check_int("m1", m1), patterns=patterns,
        solver=solver if isinstance(solver, str) else check_choice("solver", solver, ()),
        tol=check_tol("tol", tol), seed=DEFAULT_SEED if seed is None else seed, prune=bool(prune), certify=bool(certify),
        init=_check_init(init),
        time_limit=None if time_limit is None else check_positive("time_limit", time_limit),
        max_rounds=None if max_rounds is None else check_int("max_rounds", max_rounds),
        max_patterns=check_int("max_patterns", max_patterns), verbose=bool(verbose),
        progress=None if progress is None else bool(progress), options=dict(options), conv=conv)
    return spec, data


__all__ = ["DEFAULT_SEED", "DEPTHS", "PATHS", "FitData", "FitSpec", "check_data", "make_spec"]
