"""Save and load fitted :mod:`convexnn.estimators` as ``.npz`` arrays with a JSON header.

One file holds the estimator's parameters, its fitted attributes (``classes_``,
``n_features_in_``, ``objective_``, certificate numbers) and the network's arrays.  The
header carries ``format`` and ``format_version``; nothing is pickled (``allow_pickle=False``
on load), and the solver state (``result_``) is not stored.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "convexnn.estimator"
FORMAT_VERSION = 1
_NET_ARRAYS = ("W1", "b1", "W2", "skip", "gates", "gate_bias")


def _jsonable(name: str, value: Any) -> Any:
    """A JSON value for a parameter or label, or a TypeError naming it."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot save {name}={value!r} to JSON; use an int, float, str, bool or "
                    "None (for random_state: an int)")


def _cert_dict(cert: Any) -> dict | None:
    if cert is None:
        return None
    return {f.name: _jsonable(f"certificate.{f.name}", getattr(cert, f.name))
            for f in fields(cert) if f.name != "most_violated"}


def _cert_load(data: dict | None) -> Any:
    if data is None:
        return None
    from ..duality.certificate import Certificate

    return Certificate(most_violated=None, **data)


def save_estimator(est: Any, path: str | Path) -> Path:
    """Write a fitted estimator to ``path`` (``.npz`` added when missing)."""
    from sklearn.utils.validation import check_is_fitted

    from .. import __version__

    check_is_fitted(est, "network_")
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_suffix(".npz")
    arrays: dict[str, np.ndarray] = {}
    params = {}
    for name, value in est.get_params(deep=False).items():
        if isinstance(value, np.ndarray):
            arrays[f"param.{name}"] = value
            params[name] = {"array": True}
        else:
            params[name] = _jsonable(name, value)
    certs = est.certificate_
    fitted: dict[str, Any] = {
        "n_features_in_": int(est.n_features_in_),
        "objective_": float(est.objective_),
        "certified_": bool(est.certified_),
        "certificate_": [_cert_dict(c) for c in certs] if isinstance(certs, list)
        else _cert_dict(certs),
    }
    if hasattr(est, "feature_names_in_"):
        fitted["feature_names_in_"] = [str(s) for s in est.feature_names_in_]
    if hasattr(est, "classes_"):
        fitted["classes_"] = [_jsonable("classes_", c) for c in est.classes_]
        fitted["classes_dtype"] = est.classes_.dtype.str if est.classes_.dtype != object else "O"
        fitted["multi_class_"] = est.multi_class_
    net = est.network_
    for name in _NET_ARRAYS:
        if getattr(net, name) is not None:
            arrays[f"network.{name}"] = getattr(net, name)
    arrays["network.c0"] = np.asarray(net.c0)
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "convexnn_version": __version__,
              "class": type(est).__name__, "params": params, "fitted": fitted,
              "network": {"regularize_bias": net.regularize_bias, "meta": net.meta}}
    np.savez(path, header=np.asarray(json.dumps(header)), **arrays)
    return path


def load_estimator(path: str | Path, expected: type) -> Any:
    """Read an estimator of class ``expected`` (or a subclass) written by
    :func:`save_estimator`; ``result_`` is None."""
    from ..networks.two_layer import Network

    with np.load(Path(path), allow_pickle=False) as f:
        header = json.loads(str(f["header"]))
        if header.get("format") != FORMAT:
            raise ValueError(f"{path} is not a convexnn estimator file "
                             f"(format {header.get('format')!r})")
        if header.get("format_version", 0) > FORMAT_VERSION:
            raise ValueError(f"{path} has format_version {header['format_version']}; this "
                             f"convexnn reads up to {FORMAT_VERSION}")
        arrays = {k: f[k] for k in f.files if k != "header"}
    known = {c.__name__: c for c in (expected, *expected.__subclasses__())}
    cls = known.get(header["class"])
    if cls is None:
        raise ValueError(f"{path} holds a {header['class']}, not a "
                         f"{getattr(expected, '__name__', 'convexnn estimator')}")
    params = {k: arrays[f"param.{k}"] if isinstance(v, dict) else v
              for k, v in header["params"].items()}
    est = cls(**params)
    c0 = arrays["network.c0"]
    est.network_ = Network(c0=c0 if c0.ndim else float(c0),
                           regularize_bias=header["network"]["regularize_bias"],
                           meta=header["network"]["meta"],
                           **{k: arrays[f"network.{k}"] for k in _NET_ARRAYS
                              if f"network.{k}" in arrays})
    fitted = header["fitted"]
    est.n_features_in_ = fitted["n_features_in_"]
    est.objective_ = fitted["objective_"]
    est.certified_ = fitted["certified_"]
    certs = fitted["certificate_"]
    est.certificate_ = [_cert_load(c) for c in certs] if isinstance(certs, list) \
        else _cert_load(certs)
    if "feature_names_in_" in fitted:
        est.feature_names_in_ = np.asarray(fitted["feature_names_in_"], dtype=object)
    if "classes_" in fitted:
        dtype = object if fitted["classes_dtype"] == "O" else np.dtype(fitted["classes_dtype"])
        est.classes_ = np.asarray(fitted["classes_"], dtype=dtype)
        est.multi_class_ = fitted["multi_class_"]
    est.result_ = None
    return est


__all__ = ["save_estimator", "load_estimator", "FORMAT", "FORMAT_VERSION"]
