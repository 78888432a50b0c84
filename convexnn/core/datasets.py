"""Real data for the command line and examples: scikit-learn's bundled sets, or a CSV file.

Nothing is downloaded: diabetes (regression, n=442, d=10), breast cancer (binary, n=569,
d=30, labels +-1), iris and wine (multi-class, reduced here to one-vs-rest +-1 labels of
class 0) ship with scikit-learn.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATASETS = ("diabetes", "breast_cancer", "iris", "wine")


@dataclass
class Dataset:
    """Features X (n, d), targets y (n,), feature names, and the task kind."""

    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    task: str  # "regression" or "classification" (labels +-1)
    name: str
    note: str = ""  # how the targets were derived, when not as shipped (printed by the CLI)

    def select(self, features: list[str] | None) -> Dataset:
        """Keep only the named features (in the given order)."""
        if not features:
            return self
        missing = [f for f in features if f not in self.feature_names]
        if missing:
            raise ValueError(f"unknown feature(s) {missing}; available: {self.feature_names}")
        idx = [self.feature_names.index(f) for f in features]
        return Dataset(self.X[:, idx], self.y, list(features), self.task, self.name, self.note)

    def standardized(self) -> Dataset:
        """Columns scaled to zero mean and unit variance (constant columns left centred);
        regression targets likewise."""
        mu, sd = self.X.mean(0), self.X.std(0)
        X = (self.X - mu) / np.where(sd > 0, sd, 1.0)
        y = self.y
        if self.task == "regression":
            y = (y - y.mean()) / (y.std() if y.std() > 0 else 1.0)
        return Dataset(X, y, self.feature_names, self.task, self.name, self.note)


def load_dataset(name: str) -> Dataset:
    """Load a dataset bundled with scikit-learn by name (see :data:`DATASETS`)."""
    from sklearn import datasets as skd

    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}; got {name!r}")
    raw = getattr(skd, f"load_{name}")()
    X = np.asarray(raw.data, dtype=np.float64)
    names = [str(f) for f in raw.feature_names]
    if name == "diabetes":
        return Dataset(X, np.asarray(raw.target, np.float64), names, "regression", name)
    target = np.asarray(raw.target)
    positive = 1 if name == "breast_cancer" else 0  # breast cancer: 1 = benign
    y = np.where(target == positive, 1.0, -1.0)
    note = ""
    if name in ("iris", "wine"):  # multi-class: one class against the rest
        classes = [str(c) for c in raw.target_names]
        note = (f"{name} has {len(classes)} classes; reduced here to class 0 ({classes[0]!r}, "
                f"label +1) against the rest ({', '.join(map(repr, classes[1:]))}, label -1): "
                "a binary problem, not the multi-class one")
    return Dataset(X, y, names, "classification", name, note)


def load_csv(path: str | Path, target: str, *, task: str | None = None) -> Dataset:
    """Load a CSV with a header row; ``target`` names the label column.

    The task is "classification" when the target has exactly two distinct values (mapped to
    -1/+1 in sorted order), else "regression", unless ``task`` says otherwise.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"csv file {str(path)!r} does not exist")
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) < 2:
        raise ValueError(f"{path} needs a header row and at least one data row")
    header, body = [h.strip() for h in rows[0]], rows[1:]
    if target not in header:
        raise ValueError(f"target column {target!r} not in {path.name}; columns: {header}")
    data = {}
    for j, col in enumerate(header):
        try:
            data[col] = np.array([float(r[j]) for r in body])
        except (ValueError, IndexError) as e:
            raise ValueError(f"column {col!r} of {path.name} is not numeric ({e})") from e
    y = data.pop(target)
    features = [h for h in header if h != target]
    if not features:
        raise ValueError(f"{path.name} has no feature columns besides {target!r}")
    X = np.stack([data[c] for c in features], axis=1)
    values = np.unique(y)
    if task is None:
        task = "classification" if values.size == 2 else "regression"
    if task == "classification":
        if values.size != 2:
            raise ValueError(f"classification needs 2 label values; {target!r} has {values.size}")
        y = np.where(y == values[1], 1.0, -1.0)
    return Dataset(X, y, features, task, path.stem)
