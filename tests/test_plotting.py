"""What the figures show a reader: plain numbers on log axes (never "9x10^0"), integer
ticks on counts, the optimum drawn beneath the gradient runs, and a title that names the
data and beta.  Labels are read back from the drawn figure and parsed as numbers."""

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")

import convexnn as cn  # noqa: E402
from convexnn.plotting.ticks import integer_ticks, plain_log_ticks  # noqa: E402


def drawn_labels(axis) -> list[tuple[float, str]]:
    """(location, text) of every visible labelled tick, major and minor, of a drawn figure."""
    lo, hi = sorted(axis.get_view_interval())
    ticks = axis.get_major_ticks() + axis.get_minor_ticks()
    return [(t.get_loc(), t.label1.get_text()) for t in ticks
            if t.label1.get_visible() and t.label1.get_text() and lo <= t.get_loc() <= hi]


@pytest.mark.parametrize("lo,hi", [(9.0, 10.3), (0.3, 3.0), (1e-3, 10.0), (1e-9, 1.0)])
def test_plain_log_ticks_are_plain_numbers_at_their_locations(lo, hi):
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    ax.semilogy([0, 1], [lo, hi])
    plain_log_ticks(ax.yaxis)
    ax.figure.draw_without_rendering()
    labels = drawn_labels(ax.yaxis)
    assert len(labels) >= 2
    for loc, text in labels:
        assert "10^" not in text and "times" not in text and "$" not in text
        assert float(text.replace("\u2212", "-")) == pytest.approx(loc, rel=1e-5)


def test_integer_ticks_on_a_short_count_axis():
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    ax.plot([0, 1, 2], [3, 8, 5])
    integer_ticks(ax.yaxis)
    ax.figure.draw_without_rendering()
    locs = [loc for loc in ax.yaxis.get_majorticklocs() if 3 <= loc <= 8]
    assert locs and all(float(loc).is_integer() for loc in locs)


@pytest.fixture(scope="module")
def compare_figure():
    """A CompareResult built by hand (no training): p* = 9, m* = 3, and two runs per
    setting whose objective ends on p* (the runs the optimum line must not hide)."""
    from types import SimpleNamespace

    from convexnn.training.compare import CompareResult

    rng = np.random.default_rng(0)
    net = cn.Network(W1=rng.standard_normal((3, 2)), b1=np.zeros(3), W2=np.ones(3))
    optimum = SimpleNamespace(objective=9.0, exhaustive=True, network=net,
                              patterns=np.ones((8, 40), bool))
    epochs = np.arange(0, 41, 4)
    runs = []
    for opt, width in (("sgd", 3), ("adam", 12)):
        for seed in (0, 1):
            F = 9.0 + 1.3 * np.exp(-epochs / (5 + seed))
            n_pat = np.maximum(3, 8 - epochs // 8)
            runs.append(dict(optimizer=opt, width=width, seed=seed,
                             history=dict(epoch=epochs, objective=F, n_patterns=n_pat)))
    settings = dict(beta=0.5, loss="squared", bias="free", model="relu")
    res = CompareResult(optimum=optimum, certificate=None, runs=runs, settings=settings)
    fig = res.plot(title="eight random points")
    fig.draw_without_rendering()
    return res, fig


def test_compare_figure_reads_plainly(compare_figure):
    res, fig = compare_figure
    ax_obj, ax_gap, ax_pat = fig.axes
    for axis in (ax_obj.yaxis, ax_gap.yaxis):
        for loc, text in drawn_labels(axis):
            assert float(text.replace("\u2212", "-")) == pytest.approx(loc, rel=1e-5)
    for axis in (ax_pat.yaxis, ax_pat.xaxis, ax_obj.xaxis):
        assert all(float(loc).is_integer() for loc, _ in drawn_labels(axis))
    title = fig._suptitle.get_text()
    assert "eight random points" in title and "beta=0.5" in title and "n=8, d=2" in title


def test_compare_optimum_lies_beneath_the_runs(compare_figure):
    res, fig = compare_figure
    for ax in (fig.axes[0], fig.axes[2]):  # the objective and the pattern count
        lines = ax.get_lines()
        optimum = [ln for ln in lines if ln.get_linestyle() != "-"]
        runs = [ln for ln in lines if ln.get_linestyle() == "-"]
        assert optimum and runs
        assert max(ln.get_zorder() for ln in optimum) < min(ln.get_zorder() for ln in runs)
    # the optimum's value: p* on the objective panel, m* on the pattern panel
    assert fig.axes[0].get_lines()[-1].get_ydata()[0] == pytest.approx(res.optimum_value)
    assert fig.axes[2].get_lines()[-1].get_ydata()[0] == res.optimum.network.width
