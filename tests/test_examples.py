"""The example scripts run as the README says: quickstart writes its figure into --out,
the gated comparison names the solver that ran, spline_regions names the shared knot
from the recovered neurons.  The scripts run in-process (runpy) with small arguments."""

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name: str, argv: list[str], monkeypatch) -> None:
    monkeypatch.setattr(sys, "argv", [name, *argv])
    runpy.run_path(str(EXAMPLES / name), run_name="__main__")


def test_quickstart_writes_its_figure(tmp_path, monkeypatch, capsys):
    run_example("quickstart.py", ["--out", str(tmp_path)], monkeypatch)
    out = capsys.readouterr().out
    png = tmp_path / "quickstart.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert f"saved {png}" in out
    # the printed bound chain: gated <= ReLU exact <= ReLU over 5 sampled gates
    vals = {line[:42].strip(): float(line.split()[-2]) for line in out.splitlines()
            if line.startswith(("C-GReLU", "C-ReLU", "gated net"))}
    gated, exact = vals["C-GReLU, all patterns (lower bound)"], vals["C-ReLU, all patterns (global optimum)"]
    sampled = vals["C-ReLU, 5 sampled gates (upper bound)"]
    assert gated <= exact * (1 + 1e-6) and exact <= sampled * (1 + 1e-6)


@pytest.mark.slow
def test_compare_gated_vs_sgd_names_the_solver(tmp_path, monkeypatch, capsys):
    run_example("compare_gated_vs_sgd.py", ["--out", str(tmp_path), "--n", "60", "--d", "5",
                                            "--epochs", "5", "--seeds", "1", "--n-jobs", "1",
                                            "--gates", "10"], monkeypatch)
    out = capsys.readouterr().out
    import re

    from convexnn.solvers import SOLVERS

    # the label is the name of the solver that ran (ConvexSolution.solver), not a guess
    names = re.findall(r"C-GReLU convex \((\w+)\)", out)
    assert names and all(n in SOLVERS and n != "auto" for n in names)
    assert (tmp_path / "compare_gated_vs_sgd.png").stat().st_size > 10_000


def test_spline_regions_names_the_shared_knot(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    import spline_regions

    fit, _ = spline_regions.zshape_demo(0)
    out = capsys.readouterr().out
    net = fit.network
    knots = -net.b1 / net.W1[:, 0]
    # independent: count the neurons at each data knot from the weights
    counts = {k: int(np.sum(np.abs(knots - k) < 1e-4)) for k in (2.0, 6.0)}
    assert sum(counts.values()) == net.width
    for k, c in counts.items():
        assert (f"shared knot {k:.4g} ({c} neurons)" in out) == (c > 1)


@pytest.mark.slow
def test_theory_deep_relu_whitened_runs_below_nothing(tmp_path, monkeypatch, capsys):
    """The whitened deep ReLU example: every printed (L, beta) row has its best L-BFGS run
    >= the closed form (1e-7) and within 1e-4 of it, and the figure is written."""
    pytest.importorskip("matplotlib")
    run_example("theory_deep_relu_whitened.py", ["--out", str(tmp_path), "--restarts", "8"],
                monkeypatch)
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.startswith(" ") and len(line.split()) == 6]
    rows = [r for r in rows if r[0] in ("2", "3", "4")]
    assert len(rows) == 12
    for _L, _beta, cf, best, _rel, joint in rows:
        cf, best, joint = float(cf), float(best), float(joint)
        assert best >= cf * (1 - 1e-7)
        assert best <= cf * (1 + 1e-4)
        assert joint <= cf * (1 + 1e-12)
    assert "holds" in out and "FAILS" not in out
    png = tmp_path / "theory_deep_relu_whitened.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_three_layer_generation_example(tmp_path, monkeypatch, capsys):
    """Small settings: for both path norms the generated answer is at or below the L-BFGS
    run, the certificate is a (relaxed, uncertified) valid bound, and the figure is written."""
    pytest.importorskip("matplotlib")
    run_example("three_layer_generation.py",
                ["--out", str(tmp_path), "--n", "11", "--runs", "1", "--time-limit", "0.5",
                 "--lbfgs-iter", "100", "--seed-runs", "1"], monkeypatch)
    out = capsys.readouterr().out
    for path in ("l1", "l2"):
        line = next(ln for ln in out.splitlines() if ln.startswith(f"{path}: generated"))
        assert "is at or below the best" in line
    assert "an upper bound on the global optimum" in out
    assert (tmp_path / "three_layer_generation.png").stat().st_size > 10_000


@pytest.mark.slow
def test_spline_cnn_templates_quick(tmp_path, monkeypatch, capsys):
    """--quick (about 20 s): the template scores reproduce the logits, their argmax is every
    prediction, the sampled runs on the segment never exceed the exact regions and no
    sample contradicts its piece, and the figure is written."""
    pytest.importorskip("matplotlib")
    run_example("spline_cnn_templates.py", ["--out", str(tmp_path), "--quick"], monkeypatch)
    out = capsys.readouterr().out
    gap = float(out.split("- f_c(x)| over 1297 test images: ")[1].split()[0])
    assert gap < 1e-10
    assert "template argmax = network prediction: 1297/1297" in out
    line = next(ln for ln in out.splitlines() if ln.startswith("segment from"))
    exact = int(line.split(": ")[1].split()[0])
    runs = int(line.split("samples see ")[1].split()[0])
    assert 1 < runs <= exact and "0 samples with another code" in line
    png = tmp_path / "spline_cnn_templates.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


@pytest.mark.slow
def test_spline_orthogonality_quick(tmp_path, monkeypatch, capsys):
    """--quick (2 seeds, about 15 s): the table has the three losses with intervals, a verdict per
    penalty, and the figure."""
    pytest.importorskip("matplotlib")
    run_example("spline_orthogonality.py", ["--out", str(tmp_path), "--quick"], monkeypatch)
    out = capsys.readouterr().out
    rows = [ln for ln in out.splitlines() if ln.startswith("CE")]
    assert [r[:20].strip() for r in rows[:4]] == ["CE", "CE + lam_W P_W", "CE + lam_T P_T",
                                                  "CE + wd |theta|^2/2"]
    assert all(r.count("+-") == (3 if i == 0 else 5) for i, r in enumerate(rows[:4]))
    assert sum("the claim" in r for r in rows[4:]) == 2
    assert sum("weight-decay control" in r for r in rows[4:]) == 2
    assert (tmp_path / "spline_orthogonality.png").stat().st_size > 10_000
