r"""scikit-learn estimators around :func:`convexnn.fit`.

:class:`ConvexReLURegressor` and :class:`ConvexReLUClassifier` train a two-layer (gated)
ReLU network by its convex program,

.. math::
    \min_\theta\ \ell(f_\theta(X); y) + \tfrac{\beta}{2}\|\theta_\pi\|_2^2,\qquad
    f_\theta(X) = \sigma(XW_1^\top + b_1)W_2 + Xw_0 + c_0,

with the loss a **sum** over samples (THEORY section 0), and follow scikit-learn's
conventions: ``__init__`` only stores the parameters, ``fit`` validates them and the data
(:func:`sklearn.utils.validation.validate_data`), learned attributes end in ``_``,
``score`` is scikit-learn's (R^2, accuracy) and the certified objective is exposed apart
(``objective_``, ``certificate_``).  Fitted estimators save to ``.npz`` + JSON
(:meth:`save` / :meth:`load`, :mod:`convexnn.estimators.files`) and pickle without solver
state (``result_`` is dropped).
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ..core.validation import check_choice
from ..core.variant import BIASES, DEFAULT_BIAS, MODELS, Variant
from ..networks.two_layer import Network

CLASSIFIER_LOSSES = ("logistic", "hinge")
MULTI_CLASS = ("auto", "ovr", "multinomial")


def supports_cross_entropy() -> bool:
    """Whether :func:`convexnn.fit` has the vector-output ``loss="cross_entropy"``."""
    from ..core.losses import LOSSES

    return "cross_entropy" in LOSSES


def _seed(random_state: Any) -> int | None:
    """An int seed for :func:`convexnn.fit` from a scikit-learn ``random_state``."""
    if random_state is None or (isinstance(random_state, Integral)
                                and not isinstance(random_state, bool)):
        return None if random_state is None else int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def stack_networks(networks: list[Network]) -> Network:
    r"""One vector-output network whose output k is ``networks[k]``:
    :math:`W_1 = [W_1^{(1)}; \dots]`, :math:`W_2 = \mathrm{blockdiag}(W_2^{(k)})`.

    Its penalty is the sum of the penalties, so the objective of the stack under a loss
    summed over outputs is the sum of the one-vs-rest objectives.
    """
    d = networks[0].input_dim
    widths = [net.width for net in networks]
    W2 = np.zeros((sum(widths), len(networks)))
    start = 0
    for k, (net, m) in enumerate(zip(networks, widths)):
        W2[start:start + m, k] = net.W2
        start += m
    gated = networks[0].gates is not None
    return Network(
        W1=np.vstack([net.W1 for net in networks]).reshape(-1, d),
        b1=np.concatenate([net.b1 for net in networks]), W2=W2,
        c0=np.array([float(net.c0) for net in networks]),
        skip=np.stack([net.skip for net in networks], axis=1),
        gates=np.vstack([net.gates for net in networks]).reshape(-1, d) if gated else None,
        gate_bias=np.concatenate([net.gate_bias for net in networks]) if gated else None,
        regularize_bias=networks[0].regularize_bias, meta={"one_vs_rest": len(networks)})


class _ConvexReLUBase(BaseEstimator):
    """Parameters and plumbing shared by the regressor and the classifier."""

    def _fit_kwargs(self) -> dict:
        """Validated keyword arguments of :func:`convexnn.fit` (all but loss and beta)."""
        model = check_choice("model", self.model, MODELS)
        bias = check_choice("bias", self.bias, BIASES)
        Variant(model=model, bias=bias)  # refuses the degenerate gated + free bias
        for name in ("skip", "output_bias", "certify"):
            if not isinstance(getattr(self, name), bool | np.bool_):
                raise TypeError(f"{name} must be a bool; got {getattr(self, name)!r}")
        return dict(model=model, bias=bias, skip=bool(self.skip),
                    output_bias=bool(self.output_bias), patterns=self.patterns,
                    solver=self.solver, tol=self.tol, certify=bool(self.certify),
                    seed=_seed(self.random_state), verbose=bool(self.verbose))

    def _fit_one(self, X: np.ndarray, y: np.ndarray, loss: str, kwargs: dict):
        from ..api import fit

        # writable arrays: read-only inputs (memory maps) become torch tensors in the solver
        X, y = np.require(X, requirements="W"), np.require(y, requirements="W")
        return fit(X, y, beta=self.beta, loss=loss, **kwargs)

    def _decision(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.network_.predict(X)

    def __getstate__(self) -> dict:
        """Pickle without the solver state: ``result_`` (programs, compiled problems) is
        dropped; the network, certificate and objective are kept."""
        state = super().__getstate__()
        if "result_" in state:
            state = dict(state, result_=None)
        return state

    def save(self, path) -> Any:
        """Save the fitted estimator as ``.npz`` with a JSON header (never pickle);
        see :func:`convexnn.estimators.files.save_estimator`."""
        from .files import save_estimator

        return save_estimator(self, path)

    @classmethod
    def load(cls, path) -> Any:
        """Load an estimator written by :meth:`save` (``result_`` is None)."""
        from .files import load_estimator

        return load_estimator(path, expected=cls)


_PARAMS_DOC = """
    beta : float, default=1.0
        Weight decay (> 0) of the sum-of-losses objective; for a mean loss with penalty
        lambda use ``beta = n * lambda``.
    model : {"relu", "gated"}, default="relu"
        C-ReLU (cone constrained, exact for ReLU networks) or C-GReLU (gated ReLU).
    bias : {"none", "regularized", "free"}, default="regularized"
        Hidden biases (the default of every entry point: ``nn.Linear`` biases under weight
        decay; a free bias makes the gated program degenerate).
    skip : bool, default=False
        Free linear skip term :math:`Xw_0`.
    output_bias : bool, default=True
        Free output constant (implied by ``bias="free"``).
    patterns : "auto", "exact", int or bool array of shape (n, P), default="auto"
        Activation patterns, as in :func:`convexnn.fit`.
    solver : str, default="auto"
        As in :func:`convexnn.fit`.
    tol : float or None, default=None
        Solver tolerance (the solver's default when None).
    certify : bool, default=True
        Attach the dual certificate (``certificate_``).
    random_state : int, RandomState or None, default=None
        Seed of the pattern sampling (scikit-learn's name for :func:`convexnn.fit`'s
        ``seed``).
    verbose : bool, default=False
"""

_ATTRS_DOC = """
    network_ : Network
        The recovered network (vector output for a multi-class classifier).
    objective_ : float
        The convex optimum over the patterns, recomputed in numpy (the training
        objective, not a score).
    certificate_ : Certificate, list of Certificate or None
        The dual certificate(s) (None when ``certify=False``).
    certified_ : bool
        Whether every certificate proves global optimality.
    result_ : FitResult, list of FitResult or None
        What :func:`convexnn.fit` returned (None after unpickling or :meth:`load`).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X has string column names.
"""


def _certified(certificates: Any) -> bool:
    certs = certificates if isinstance(certificates, list) else [certificates]
    return all(c is not None and bool(c.certified) for c in certs)


class ConvexReLURegressor(RegressorMixin, _ConvexReLUBase):
    __doc__ = (r"""Two-layer (gated) ReLU regression through its convex program.

    Minimizes :math:`\tfrac12\|f_\theta(X) - y\|^2 + \tfrac{\beta}{2}\|\theta_\pi\|^2`
    through its convex program (:func:`convexnn.fit`, squared loss).  Whether the answer
    is the global optimum is the certificate's word: ``certified_`` is True only with a
    proof (``certificate_`` says what is proven otherwise).  ``score`` is the coefficient of
    determination R^2; the training objective is ``objective_``.

    Parameters
    ----------""" + _PARAMS_DOC + """
    Attributes
    ----------""" + _ATTRS_DOC + """
    Examples
    --------
    >>> import numpy as np
    >>> from convexnn import ConvexReLURegressor
    >>> X = np.linspace(-1, 1, 12)[:, None]; y = np.abs(X[:, 0])
    >>> est = ConvexReLURegressor(beta=1e-3).fit(X, y)
    >>> bool(est.certified_), est.score(X, y) > 0.99
    (True, True)
    """)

    def __init__(self, beta: float = 1.0, *, model: str = "relu", bias: str = DEFAULT_BIAS,
                 skip: bool = False, output_bias: bool = True, patterns: Any = "auto",
                 solver: str = "auto", tol: float | None = None, certify: bool = True,
                 random_state: Any = None, verbose: bool = False):
        self.beta = beta
        self.model = model
        self.bias = bias
        self.skip = skip
        self.output_bias = output_bias
        self.patterns = patterns
        self.solver = solver
        self.tol = tol
        self.certify = certify
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X: Any, y: Any) -> ConvexReLURegressor:
        """Solve the convex program on (X, y) and recover the network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True,
                             ensure_min_samples=2)
        result = self._fit_one(X, y, "squared", self._fit_kwargs())
        self.result_ = result
        self.network_ = result.network
        self.objective_ = float(result.objective)
        self.certificate_ = result.certificate
        self.certified_ = _certified(result.certificate)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Network predictions :math:`f(X)`, shape (n_samples,)."""
        return self._decision(X)

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        r"""Coefficient of determination :math:`R^2 = 1 - \sum(y - f)^2 / \sum(y - \bar y)^2`
        (scikit-learn's meaning; the training objective is ``objective_``)."""
        return super().score(X, y, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = False  # scalar-output program
        tags.input_tags.allow_nan = False
        return tags


class ConvexReLUClassifier(ClassifierMixin, _ConvexReLUBase):
    __doc__ = (r"""Two-layer (gated) ReLU classifier through its convex program.

    Whether the answer is the global optimum is the certificate's word: ``certified_`` is
    True only with a proof (``certificate_`` says what is proven otherwise).

    Binary: labels are mapped to :math:`y \in \{-1, +1\}` (``classes_[1]`` is +1) and the
    logistic loss :math:`\sum_j\log(1 + e^{-y_jf(x_j)})` (or the hinge loss) is minimized
    through :func:`convexnn.fit`.  Multi-class with the logistic loss and
    ``multi_class="auto"``: the vector-output softmax cross-entropy program
    (``fit(..., loss="cross_entropy")``), one network whose neurons all classes share.
    With the hinge loss or ``multi_class="ovr"``: **one-vs-rest**, one binary program per
    class, each certified on its own, stacked into one vector-output network
    (``network_``) whose objective is the sum of the per-class objectives.  One-vs-rest
    networks do not share neurons, so their sum is not the optimum of the shared-neuron
    multi-class problem.

    ``score`` is the accuracy; the training objective is ``objective_``.

    Parameters
    ----------""" + _PARAMS_DOC + """
    loss : {"logistic", "hinge"}, default="logistic"
        ``predict_proba`` exists for the logistic loss only.
    multi_class : {"auto", "ovr", "multinomial"}, default="auto"
        "auto": "multinomial" for the logistic loss, "ovr" for the hinge loss;
        "multinomial" needs the logistic loss.

    Attributes
    ----------""" + _ATTRS_DOC + """
    classes_ : ndarray of shape (n_classes,)
    multi_class_ : {"binary", "ovr", "multinomial"}
        The strategy used.
    """)

    def __init__(self, beta: float = 1.0, *, loss: str = "logistic", model: str = "relu",
                 bias: str = DEFAULT_BIAS, skip: bool = False, output_bias: bool = True,
                 patterns: Any = "auto", solver: str = "auto", tol: float | None = None,
                 certify: bool = True, multi_class: str = "auto", random_state: Any = None,
                 verbose: bool = False):
        self.beta = beta
        self.loss = loss
        self.model = model
        self.bias = bias
        self.skip = skip
        self.output_bias = output_bias
        self.patterns = patterns
        self.solver = solver
        self.tol = tol
        self.certify = certify
        self.multi_class = multi_class
        self.random_state = random_state
        self.verbose = verbose

    def _strategy(self, n_classes: int) -> str:
        """"binary", "ovr" or "multinomial" (the vector cross-entropy program)."""
        multi_class = check_choice("multi_class", self.multi_class, MULTI_CLASS)
        if n_classes == 2:
            return "binary"
        ce = self.loss == "logistic" and supports_cross_entropy()
        if multi_class == "multinomial" and not ce:
            raise ValueError("multi_class='multinomial' (softmax cross-entropy) needs "
                             f"loss='logistic'; got loss={self.loss!r}: use "
                             "multi_class='ovr' or loss='logistic'")
        return "multinomial" if multi_class != "ovr" and ce else "ovr"

    def fit(self, X: Any, y: Any) -> ConvexReLUClassifier:
        """Solve the convex program(s) on (X, y) and recover the network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels (any hashable values scikit-learn accepts).

        Returns
        -------
        self
        """
        X, y = validate_data(self, X, y, dtype=np.float64, ensure_min_samples=2)
        check_classification_targets(y)
        loss = check_choice("loss", self.loss, CLASSIFIER_LOSSES)
        self.classes_, codes = np.unique(y, return_inverse=True)
        K = len(self.classes_)
        if K < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes; "
                             f"got 1 class ({self.classes_[0]!r})")
        kwargs = self._fit_kwargs()
        strategy = self._strategy(K)
        if strategy == "multinomial":  # vector output, softmax cross-entropy
            results = self._fit_one(X, codes, "cross_entropy", kwargs)
            network = results.network
        elif strategy == "binary":
            results = self._fit_one(X, np.where(codes == 1, 1.0, -1.0), loss, kwargs)
            network = results.network
        else:
            results = [self._fit_one(X, np.where(codes == k, 1.0, -1.0), loss, kwargs)
                       for k in range(K)]
            network = stack_networks([r.network for r in results])
        self.multi_class_ = strategy
        self.result_ = results
        self.network_ = network
        many = isinstance(results, list)
        self.objective_ = float(sum(r.objective for r in results) if many else results.objective)
        self.certificate_ = [r.certificate for r in results] if many else results.certificate
        self.certified_ = _certified(self.certificate_)
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Network outputs: shape (n_samples,) for two classes (> 0 means ``classes_[1]``),
        else (n_samples, n_classes) (per-class scores, or logits for "multinomial")."""
        return self._decision(X)

    def predict(self, X: Any) -> np.ndarray:
        """The class with the largest score."""
        scores = self.decision_function(X)
        idx = (scores > 0).astype(int) if scores.ndim == 1 else np.argmax(scores, axis=1)
        return self.classes_[idx]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Accuracy of :meth:`predict` (scikit-learn's meaning; the training objective is
        ``objective_``)."""
        return super().score(X, y, sample_weight=sample_weight)

    def _has_proba(self) -> bool:
        return self.loss == "logistic"

    @available_if(_has_proba)
    def predict_proba(self, X: Any) -> np.ndarray:
        r"""Class probabilities, rows summing to 1.

        Binary: :math:`(1 - \sigma(f), \sigma(f))` (the logistic model).  Multinomial:
        :math:`\mathrm{softmax}(f)`.  One-vs-rest: the per-class :math:`\sigma(f_k)`
        normalized to sum to 1 (a heuristic, as in scikit-learn's one-vs-rest).
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            p = _sigmoid(scores)
            return np.column_stack([1.0 - p, p])
        if self.multi_class_ == "multinomial":
            z = np.exp(scores - scores.max(axis=1, keepdims=True))
        else:
            z = _sigmoid(scores)
        return z / z.sum(axis=1, keepdims=True)

    @available_if(_has_proba)
    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.classifier_tags.multi_label = False
        return tags


def _sigmoid(t: np.ndarray) -> np.ndarray:
    r""":math:`1/(1 + e^{-t})`, computed without overflow."""
    out = np.empty_like(t, dtype=np.float64)
    pos = t >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-t[pos]))
    e = np.exp(t[~pos])
    out[~pos] = e / (1.0 + e)
    return out


__all__ = ["ConvexReLURegressor", "ConvexReLUClassifier", "stack_networks",
           "supports_cross_entropy"]
