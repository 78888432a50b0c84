r"""The variant of a two-layer network and its convex program: model, hidden bias, skip
term, output bias -- validated once, at the public boundary.

A variant fixes the lifted data and the free terms of the program (THEORY A.2):

.. math::
    \tilde X = \begin{cases} X & \text{bias} = \text{"none"}\\ [X, \mathbf 1] & \text{else}
    \end{cases},\qquad
    F = [X \text{ if skip},\ \mathbf 1 \text{ if a free constant}],

with the bias coordinate of :math:`\tilde X` outside the group norm (*free*) for
``bias="free"``; a free hidden bias implies a free output constant (the all-on pattern
carries one).  Inner code takes a :class:`Variant` and trusts it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .patterns import add_bias_column
from .validation import check_choice

#: Two-layer models: ReLU (C-ReLU program) and gated ReLU (C-GReLU).
MODELS = ("relu", "gated")
#: Hidden biases: none, inside the weight decay, or free.
BIASES = ("none", "regularized", "free")


@dataclass(frozen=True)
class Variant:
    """Model, hidden bias, skip term and output bias of a two-layer network.

    Parameters
    ----------
    model : {"relu", "gated"}, default="relu"
    bias : {"none", "regularized", "free"}, default="none"
    skip : bool, default=False
        A free linear term :math:`Xw_0`.
    output_bias : bool, default=False
        A free output constant; implied by (and stored as False under) ``bias="free"``.

    Raises
    ------
    ValueError
        For an unknown model or bias, and for the degenerate gated model with a free bias.
    """

    model: str = "relu"
    bias: str = "none"
    skip: bool = False
    output_bias: bool = False

    def __post_init__(self) -> None:
        check_choice("model", self.model, MODELS)
        check_choice("bias", self.bias, BIASES)
        if self.model == "gated" and self.bias == "free":
            raise ValueError(
                "model='gated' with bias='free' is degenerate: a gated neuron with zero weights "
                "and a free bias fits a constant on its gate's region at no cost, so the "
                "infimum is the unregularized loss and is not attained; use bias='regularized'")
        object.__setattr__(self, "skip", bool(self.skip))
        # with a free hidden bias the all-on pattern carries a free constant already
        object.__setattr__(self, "output_bias", bool(self.output_bias) and self.bias != "free")

    # ---- what the strings mean (the only place they are tested) -----------------------
    @property
    def gated(self) -> bool:
        """C-GReLU: fixed gates, no cone constraints (THEORY B)."""
        return self.model == "gated"

    @property
    def has_bias(self) -> bool:
        r"""Hidden biases exist: :math:`\tilde X = [X, 1]`."""
        return self.bias != "none"

    @property
    def free_bias(self) -> bool:
        """Hidden biases outside the weight decay (the lifted last coordinate is free)."""
        return self.bias == "free"

    @property
    def regularized_bias(self) -> bool:
        """Hidden biases inside the weight decay."""
        return self.bias == "regularized"

    @property
    def has_cone_rows(self) -> bool:
        r"""C-ReLU blocks carry the cone rows :math:`(2D_i - I)\tilde Xv_i \ge 0`."""
        return not self.gated

    @property
    def has_free_constant(self) -> bool:
        """A free output constant (explicit, or through a free hidden bias)."""
        return self.output_bias or self.free_bias

    def lift(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r"""(:math:`\tilde X`, free): the lifted data and the mask of its unpenalized
        coordinates (the bias column for ``bias="free"``)."""
        Xt = add_bias_column(X) if self.has_bias else X
        free = np.zeros(Xt.shape[1], bool)
        if self.free_bias:
            free[-1] = True
        return Xt, free

    def free_basis(self, X: np.ndarray) -> np.ndarray | None:
        r""":math:`F = [X \text{ if skip}, 1 \text{ if a free constant}]` (None if empty)."""
        cols = ([X] if self.skip else []) + ([np.ones((X.shape[0], 1))] if self.has_free_constant else [])
        return np.hstack(cols) if cols else None

    def split_free(self, a: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
        """(skip coefficients (d, ...), output constant (...)) from the free-term
        coefficients ``a`` of :meth:`free_basis` (zeros for absent terms)."""
        a = np.asarray(a, dtype=np.float64)
        tail = a.shape[1:]
        skip = a[:d] if self.skip else np.zeros((d, *tail))
        c0 = a[-1] if self.has_free_constant else np.zeros(tail)
        return skip, c0

    def settings(self) -> dict:
        """The variant as plain values (saved with a network, shown in summaries)."""
        return {"model": self.model, "bias": self.bias, "skip": self.skip,
                "output_bias": self.output_bias}


#: The hidden-bias default of every entry point (fit, estimators, command line): the biases
#: of a PyTorch ``nn.Linear`` trained with weight decay.  (A free bias is degenerate for
#: gated networks, and branch and bound proves optima only when every coordinate is
#: penalized.)
DEFAULT_BIAS = "regularized"


__all__ = ["BIASES", "DEFAULT_BIAS", "MODELS", "Variant"]
