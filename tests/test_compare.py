"""compare(): every gradient run against the exact convex optimum and its certificate.

References: weak duality p* <= F(theta) for every network of every width when all
patterns are enumerated (THEORY A.3); the numpy objective of each returned network; the
dual certificate (gap >= F - p*, lower bound <= p*); the optimum's own gates.
"""

import argparse

import numpy as np
import pytest

import convexnn
from convexnn.cli.compare import add_compare_parser, run_compare
from convexnn.training.compare import CompareResult, compare


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    return rng.standard_normal((8, 2)), rng.standard_normal(8)


@pytest.fixture(scope="module")
def result(data):
    X, y = data
    return compare(X, y, beta=0.2, seeds=2, optimizers=("gd", "sgd", "adam", "lbfgs"),
                   widths=[2, 6], epochs=80, bias="regularized", patterns="exact", n_jobs=1,
                   quiet=True)


def test_weak_duality_on_every_run(data, result):
    X, y = data
    p = result.optimum_value
    assert result.optimum.exhaustive
    assert len(result.runs) == 4 * 2 * 2
    assert {(r["optimizer"], r["width"]) for r in result.runs} == {
        (o, w) for o in ("gd", "sgd", "adam", "lbfgs") for w in (2, 6)}
    for r in result.runs:
        # the objective is the numpy objective of the returned network, and >= p*
        F = r["network"].objective(X, y, beta=0.2)
        assert r["objective"] == pytest.approx(F, rel=1e-12)
        assert r["network"].width == r["width"]
        assert min(r["history"]["objective"]) >= p - 1e-7 * max(1.0, p)
        assert r["gap"] == pytest.approx(F - p, abs=1e-12)
        assert r["rel_gap"] == pytest.approx(r["gap"] / abs(p))
        assert r["history"]["epoch"][-1] == 80


def test_optimum_is_the_fit(data, result):
    X, y = data
    ref = convexnn.fit(X, y, beta=0.2, bias="regularized", patterns="exact")
    assert result.optimum_value == pytest.approx(ref.objective, rel=1e-6)
    # default width: the support size of the optimum
    X, y = data
    small = compare(X, y, beta=0.2, seeds=1, optimizers=("adam",), epochs=5,
                    bias="regularized", patterns="exact", certify=False, quiet=True)
    assert [r["width"] for r in small.runs] == [small.optimum.network.width]
    assert small.certificate is small.optimum.certificate


def test_widths_as_multiples_of_the_support(data):
    X, y = data
    res = compare(X, y, beta=0.2, seeds=1, optimizers=("gd",), widths=["m*", "2m*", 3, "3"],
                  epochs=3, patterns="exact", certify=False, quiet=True, bias="none")
    m = res.optimum.network.width
    assert [r["width"] for r in res.runs] == list(dict.fromkeys([m, 2 * m, 3]))


def test_same_seeds_for_every_optimizer_and_width(result):
    seeds = {}
    for r in result.runs:
        seeds.setdefault((r["optimizer"], r["width"]), []).append(r["seed"])
    assert len({tuple(s) for s in seeds.values()}) == 1
    # and the initial objective depends on (width, seed) only
    start = {}
    for r in result.runs:
        start.setdefault((r["width"], r["seed"]), set()).add(r["history"]["objective"][0])
    assert all(len(v) == 1 for v in start.values())


def test_certificate_agrees_with_the_gap(result):
    p = result.optimum_value
    for r in result.runs:
        cert = r["certificate"]
        assert cert is not None
        assert cert.upper_bound == pytest.approx(r["objective"], rel=1e-9)
        assert cert.lower_bound <= p + 1e-6 * max(1.0, p)  # weak duality
        assert r["certificate_gap"] >= r["gap"] - 1e-6 * max(1.0, p)
    assert result.certificate is not None and result.certificate.gap <= 1e-4 * max(1.0, p)


def test_gated_runs_use_the_optimum_gates(data):
    X, y = data
    res = compare(X, y, beta=0.2, seeds=2, optimizers=("adam",), epochs=150, model="gated",
                  bias="regularized", patterns="exact", quiet=True)
    net = res.optimum.network
    for r in res.runs:
        assert r["width"] == net.width
        np.testing.assert_array_equal(r["network"].gates, net.gates)
        np.testing.assert_array_equal(r["network"].gate_bias, net.gate_bias)
        assert min(r["history"]["objective"]) >= res.optimum_value - 1e-7
        assert r["certificate_gap"] >= r["gap"] - 1e-6


@pytest.mark.slow
def test_parallel_runs_equal_serial_runs(data):
    X, y = data
    kw = dict(beta=0.2, seeds=2, optimizers=("sgd", "gd"), widths=[3], epochs=20, batch_size=3,
              patterns="exact", certify=False, quiet=True)
    serial = compare(X, y, n_jobs=1, **kw)
    parallel = compare(X, y, n_jobs=2, **kw)
    assert [r["objective"] for r in serial.runs] == [r["objective"] for r in parallel.runs]
    assert [r["seed"] for r in serial.runs] == [r["seed"] for r in parallel.runs]
    assert {r["optimizer"]: r["batch_size"] for r in serial.runs} == {"sgd": 3, "gd": 8}


def test_table_and_plot(result, tmp_path):
    text = result.table()
    assert "convex optimum p*" in text and "exact patterns" in text
    assert len(text.splitlines()) == 3 + 8  # header, column names, rule, 8 groups
    per_run = result.table(per_run=True)
    assert len(per_run.splitlines()) == 3 + len(result.runs)
    fig = result.plot(title="tiny")
    assert len(fig.axes) == 3
    fig.savefig(tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 0


@pytest.mark.parametrize("kwargs,match", [
    ({"optimizers": ("adamw",)}, "decoupled"),
    ({"optimizers": ("newton",)}, "optimizers"),
    ({"optimizers": ()}, "optimizers"),
    ({"seeds": 0}, "seeds"),
    ({"widths": [0]}, "widths"),
    ({"widths": ["0m*"]}, "widths"),
    ({"widths": ["2n"]}, "widths"),
    ({"widths": []}, "widths"),
    ({"epochs": 0}, "epochs"),
    ({"lr": -0.1}, "lr"),
    ({"lr": {"bogus": 0.1}}, "lr"),
    ({"beta": 0.0}, "beta"),
    ({"batch_size": 9}, "batch_size"),
    ({"batch_size": {"sgd": 0}}, "batch_size"),
])
def test_bad_input(data, kwargs, match):
    X, y = data
    args = {"beta": 0.2, "seeds": 1, "epochs": 2, "quiet": True, **kwargs}
    with pytest.raises(ValueError, match=match):
        compare(X, y, **args)


def test_cli_compare(tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="convexnn")
    add_compare_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["compare", "--dataset", "iris", "--n-samples", "12", "--seeds", "1",
                              "--epochs", "20", "--optimizers", "adam", "--patterns", "20",
                              "--loss", "hinge", "--beta", "0.5", "--out", str(tmp_path),
                              "--quiet"])
    assert args.func is run_compare
    assert run_compare(args) == 0
    out = capsys.readouterr().out
    # 20 sampled gates: p_S is an upper bound, not "the optimum"; the iris reduction is stated
    assert "sampled upper bound p_S" in out and "convex optimum p*" not in out
    assert "adam" in out and "n=12, d=4" in out and "note: iris has 3 classes" in out
    assert (tmp_path / "compare_iris.png").stat().st_size > 0
    assert "seed" in (tmp_path / "compare_iris.txt").read_text()


def test_cli_compare_reports_bad_input(tmp_path, capsys):
    from convexnn import cli
    argv = ["compare", "--dataset", "iris", "--n-samples", "12", "--out", str(tmp_path)]
    assert cli.main(argv + ["--optimizers", "adamw"]) == 2
    assert "decoupled" in capsys.readouterr().err
    assert cli.main(argv + ["--epochs", "0"]) == 2
    assert "epochs" in capsys.readouterr().err


@pytest.mark.slow
def test_pilanci_ergen_toy_small_width_stalls():
    """THEORY I11 (qualitative): every SGD run is above the exact convex optimum; at width 1
    SGD stalls well above it (measured: relative gap >= 10), at width 40 it gets within a
    few percent (measured median 0.04 after 4000 epochs)."""
    rng = np.random.default_rng(0)
    n = 10
    X = rng.standard_normal((n, 2))
    y = np.where(np.linalg.norm(X, axis=1) > 1, 1.0, -1.0)
    res = compare(X, y, beta=n * 1e-2, loss="hinge", bias="regularized", patterns="exact",
                  seeds=3, optimizers=("sgd",), widths=[1, 40], epochs=4000, lr=0.01,
                  batch_size=5, quiet=True, certify=False)
    assert isinstance(res, CompareResult)
    gaps = {w: [r["rel_gap"] for r in res.runs if r["width"] == w] for w in (1, 40)}
    assert min(min(g) for g in gaps.values()) >= -1e-7
    assert min(gaps[1]) > 10 * np.median(gaps[40])


# ---- the examples double as smoke tests (short settings) -------------------------------------
@pytest.mark.parametrize("script,args", [
    pytest.param("compare_pilanci_ergen", ["--epochs", "60", "--seeds", "1", "--n-jobs", "1"],
                 marks=pytest.mark.slow),
    pytest.param("compare_gated_vs_sgd", ["--n", "150", "--epochs", "10", "--seeds", "1",
                                          "--n-jobs", "1"], marks=pytest.mark.slow),
    ("warm_start", ["--epochs", "50"]),
])
def test_example_runs(script, args, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / f"{script}.py"
    proc = subprocess.run([sys.executable, "-W", "error::UserWarning", str(path), "--out",
                           str(tmp_path), *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / f"{script}.png").stat().st_size > 10_000
    assert "optimizer" in proc.stdout
