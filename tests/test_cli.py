"""The command line and the bundled data loaders."""

import json

import numpy as np
import pytest

from convexnn.cli import main
from convexnn.datasets import load_csv, load_dataset


def test_solve_csv_prints_and_writes_json(tmp_path, capsys, rng):
    x = np.sort(rng.uniform(-1, 1, 12))
    y = np.abs(x) + 0.05 * rng.standard_normal(12)
    path = tmp_path / "d.csv"
    path.write_text("x,target\n" + "\n".join(f"{a},{b}" for a, b in zip(x, y)))
    out = tmp_path / "r.json"
    rc = main(["solve", "--csv", str(path), "--target", "target", "--patterns", "exact",
               "--beta", "0.05", "--json", str(out), "--save", str(tmp_path / "net.npz")])
    text = capsys.readouterr().out
    assert rc == 0
    assert "convex objective" in text and "network objective" in text and "active neurons" in text
    record = json.loads(out.read_text())
    assert record["status"] == "optimal" and record["exhaustive"]
    assert record["recovered_objective"] == pytest.approx(record["objective"], rel=1e-5)
    assert (tmp_path / "net.npz").exists()


def test_solve_dataset_with_sampled_patterns(capsys):
    rc = main(["solve", "--dataset", "breast_cancer", "--features", "mean radius,mean texture",
               "--model", "gated", "--bias", "regularized", "--patterns", "30", "--beta", "1"])
    text = capsys.readouterr().out
    assert rc == 0 and "logistic loss" in text


@pytest.mark.parametrize("argv,match", [
    (["solve", "--csv", "missing.csv", "--target", "y"], "does not exist"),
    (["solve", "--dataset", "diabetes", "--features", "height"], "unknown feature"),
    (["solve", "--dataset", "diabetes", "--beta", "-1"], "beta must be"),
    (["solve", "--dataset", "diabetes", "--loss", "hinge", "--patterns", "5"], "labels"),
])
def test_solve_reports_bad_input_without_traceback(argv, match, capsys):
    assert main(argv) == 2
    assert match in capsys.readouterr().err


def test_info(capsys):
    assert main(["info"]) == 0
    assert "MOSEK usable" in capsys.readouterr().out


def test_datasets():
    d = load_dataset("diabetes").standardized()
    assert d.X.shape == (442, 10) and d.task == "regression"
    assert np.allclose(d.X.mean(0), 0, atol=1e-12) and np.allclose(d.X.std(0), 1)
    b = load_dataset("breast_cancer")
    assert b.X.shape == (569, 30) and set(np.unique(b.y)) == {-1.0, 1.0}
    with pytest.raises(ValueError, match="dataset must be one of"):
        load_dataset("mnist")


def test_csv_errors(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("a,b,label\n1,x,0\n2,3,1\n")
    with pytest.raises(ValueError, match="column 'b'"):
        load_csv(p, "label")
    with pytest.raises(ValueError, match="target column 'y'"):
        load_csv(p, "y")
    p.write_text("a,label\n1,0\n2,1\n3,0\n")
    assert set(load_csv(p, "label").y) == {-1.0, 1.0}
