"""The command line and the bundled data loaders."""

import json

import numpy as np
import pytest

from convexnn.cli import main
from convexnn.core.datasets import load_csv, load_dataset


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


def _csv(tmp_path, rng, n=12):
    x = np.sort(rng.uniform(-1, 1, n))
    y = np.abs(x) + 0.05 * rng.standard_normal(n)
    path = tmp_path / "d.csv"
    path.write_text("x,target\n" + "\n".join(f"{a},{b}" for a, b in zip(x, y)))
    return path


def test_gated_works_with_the_default_bias(tmp_path, capsys, rng):
    path = _csv(tmp_path, rng)
    rc = main(["solve", "--csv", str(path), "--target", "target", "--model", "gated",
               "--patterns", "10", "--beta", "0.1", "--json", str(tmp_path / "r.json")])
    out = capsys.readouterr().out
    assert rc == 0 and "Two-layer gated ReLU network" in out and "bias=regularized" in out
    assert "over these gates" in out and "globally" not in out
    assert json.loads((tmp_path / "r.json").read_text())["bias"] == "regularized"
    # relu has the same default; an explicit free bias with gated is refused by name
    assert main(["solve", "--csv", str(path), "--target", "target", "--patterns", "exact",
                 "--beta", "0.1"]) == 0
    assert "bias=regularized" in capsys.readouterr().out
    assert main(["solve", "--csv", str(path), "--target", "target", "--model", "gated",
                 "--bias", "free"]) == 2
    assert "--model 'gated' with --bias 'free' is degenerate" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["solve", "--help"], ["compare", "--help"]])
def test_help_shows_defaults(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for flag in ("(default: diabetes)", "(default: 1.0)", "(default: relu)", "(default: auto)",
                 "(default: 0)", "default: regularized, as nn.Linear with weight decay"):
        assert flag in text
    assert "(default: None)" not in text and "(default: False)" not in text
    if argv[0] == "compare":
        assert "(default: 1000)" in text and "(default: 5)" in text


def test_version(capsys):
    import convexnn

    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"convexnn {convexnn.__version__}"


def test_iris_reduction_is_stated(capsys):
    d = load_dataset("iris")
    assert "class 0 ('setosa'" in d.note and "binary" in d.note
    assert d.select(["sepal length (cm)"]).standardized().note == d.note
    # 50 setosa against 100 others: the +1 labels are exactly class 0
    from sklearn.datasets import load_iris

    assert np.array_equal(d.y == 1.0, load_iris().target == 0)
    rc = main(["solve", "--dataset", "iris", "--features", "petal length (cm)", "--patterns",
               "exact", "--beta", "1"])
    out = capsys.readouterr().out
    assert rc == 0 and "note: iris has 3 classes; reduced here to class 0" in out
    assert load_dataset("diabetes").note == ""


def test_cli_and_comparison_do_not_import_each_other():
    import ast
    import inspect

    import convexnn.cli.command
    import convexnn.training.compare

    def imported(module):
        tree = ast.parse(inspect.getsource(module))
        return {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}

    # the comparison knows nothing of the command line; the command's flags live in cli.args
    assert not any("cli" in m for m in imported(convexnn.training.compare))
    assert "args" in imported(convexnn.cli.command)
