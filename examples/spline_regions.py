"""Exact activation regions of ReLU networks along a segment and on a 2-D slice (THEORY G).

1. THEORY I13: a random 2-7-7-7-1 network and a segment through it: the exact number of
   regions by layer-by-layer root splitting, against the runs of equal codes among
   10^2 ... 10^6 equally spaced samples (a lower bound that becomes exact).
2. THEORY I1 ("zshape": x = 0, 2, 6, 7, y = 0, 0, 3, 3): the convex optimum with free
   biases and a small beta is the interpolant 3/4 (x-2)_+ - 3/4 (x-6)_+; its pieces on
   [-1, 8] and its knots, which must be {2, 6}.
3. A 2-D slice of the same 2-7-7-7-1 net, cut exactly into convex polygons, with a
   200x200 grid check; and a one-hidden-layer net whose region count must equal
   Zaslavsky's sum_{i<=2} C(m, i) over a box holding every intersection.

Run:  python examples/spline_regions.py [--out out/] [--seed 0]
"""

from __future__ import annotations

import argparse
from itertools import combinations
from math import comb
from pathlib import Path

import numpy as np

import convexnn as cn
from convexnn.spline import activation_codes, segment_regions, slice_regions


def random_mlp(sizes: tuple[int, ...], seed: int) -> cn.DeepNetwork:
    rng = np.random.default_rng(seed)
    Ws = [rng.standard_normal((b, a)) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
    return cn.DeepNetwork(Ws, [rng.standard_normal(b) for b in sizes[1:]])


def sampled_runs(net, x0: np.ndarray, x1: np.ndarray, n: int) -> int:
    t = np.linspace(0.0, 1.0, n)
    Q = np.hstack(activation_codes(net, x0 + np.outer(t, x1 - x0)))
    return 1 + int(np.count_nonzero(np.any(Q[1:] != Q[:-1], axis=1)))


def segment_demo(seed: int):
    net = random_mlp((2, 7, 7, 7, 1), seed)
    rng = np.random.default_rng(seed)
    x1 = 6 * rng.standard_normal(2)
    x0 = -x1
    seg = segment_regions(net, x0, x1)
    print("1. segment through a random 2-7-7-7-1 net (THEORY I13)")
    print(f"   exact regions: {seg.n_regions}, linear pieces: {seg.n_linear_regions()}, "
          f"shortest piece: {min(p.t1 - p.t0 for p in seg.pieces):.2e} (in t)")
    for n in (10**2, 10**3, 10**4, 10**5, 10**6):
        print(f"   dense sampling, {n:>7d} points: {sampled_runs(net, x0, x1, n)} regions")
    return net, seg


def zshape_demo(seed: int):
    X, y = np.array([[0.0], [2.0], [6.0], [7.0]]), np.array([0.0, 0.0, 3.0, 3.0])
    beta = 1e-4
    fit = cn.fit(X, y, beta=beta, bias="free", patterns="exact", seed=seed)
    seg = segment_regions(fit.network, [-1.0], [8.0])
    knots = -1.0 + 9.0 * seg.linear_breakpoints
    slopes = [seg.pieces[run[0]].A[0, 0] for run in seg.linear_pieces()]
    print("2. 1-D convex optimum on I1 'zshape' (bias='free', beta=1e-4)")
    print(f"   objective/beta = {fit.objective / beta:.5f} (THEORY: -> 1.5), neurons: {fit.n_active}")
    print(f"   activation regions on [-1, 8]: {seg.n_regions}, linear pieces: {len(slopes)}")
    distinct = knots[np.r_[True, np.diff(knots) > 1e-4]]
    print(f"   knots: {np.round(knots, 6).tolist()}; distinct to 1e-4: "
          f"{np.round(distinct, 4).tolist()} (THEORY: [2, 6])")
    # which knot carries more than one neuron depends on the solver's point: computed from
    # the recovered neurons' own knots -b_k / w_k, never assumed
    net = fit.network
    own = np.sort(-net.b1 / net.W1[:, 0])
    shared = [f"{k:.4g} ({int(np.sum(np.abs(own - k) < 1e-4))} neurons)" for k in distinct
              if np.sum(np.abs(own - k) < 1e-4) > 1]
    print(f"   slopes: {np.round(slopes, 5).tolist()} (THEORY: [0, 0.75, 0]"
          + (f"; shared knot {', '.join(shared)}: the pieces between them are numerically "
             "empty)" if shared else ")"))
    return fit, seg


def slice_demo(net, seed: int):
    part = slice_regions(net, box=(-3, 3, -3, 3))
    check = part.check(200)
    print("3. 2-D slice [-3, 3]^2 of the 2-7-7-7-1 net")
    print(f"   exact regions: {part.n_regions}, linear regions: {part.n_linear_regions()}, "
          f"area sum / box = {sum(r.area for r in part.regions) / part.box_area:.12f}")
    print(f"   200x200 grid: {check.n_sampled_regions} distinct codes (lower bound), "
          f"{check.n_mismatch} code mismatches, {check.n_unlocated} unlocated points")
    rng = np.random.default_rng(seed)
    m = 12
    one = cn.Network(W1=rng.standard_normal((m, 2)), b1=rng.standard_normal(m),
                     W2=rng.standard_normal(m))
    P = np.array([np.linalg.solve(one.W1[[i, j]], -one.b1[[i, j]])
                  for i, j in combinations(range(m), 2)])
    R = 1.0 + 2 * float(np.max(np.abs(P)))
    big = slice_regions(one, box=(-R, R, -R, R))
    print(f"   one hidden layer, m={m}, box [-{R:.1f}, {R:.1f}]^2: {big.n_regions} regions; "
          f"Zaslavsky sum_(i<=2) C(m,i) = {sum(comb(m, i) for i in range(3))}")
    return part


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    net, seg = segment_demo(args.seed)
    fit, zseg = zshape_demo(args.seed)
    part = slice_demo(net, args.seed)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from convexnn.plotting.spline import plot_partition, plot_pieces

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    plot_pieces(seg, axes[0])
    axes[0].set_title(f"2-7-7-7-1 net on a segment: {seg.n_regions} pieces")
    plot_pieces(zseg, axes[1], merge=True)
    axes[1].plot([0, 2, 6, 7], [0, 0, 3, 3], "ko")
    axes[1].set_title("I1 zshape, convex optimum (beta=1e-4): knots at 2 and 6")
    level = float(np.median([r.b_st[0] + r.A_st[0] @ r.centroid for r in part.regions]))
    plot_partition(part, axes[2], level=level, seed=args.seed, linewidth=0.2)
    axes[2].plot(*np.array([seg.x0, seg.x1]).T, "k--", lw=1)
    axes[2].set_title(f"2-D slice: {part.n_regions} regions, level set f = {level:.2f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out / "spline_regions.png", dpi=110)
    print(f"saved {out / 'spline_regions.png'}")


if __name__ == "__main__":
    main()
