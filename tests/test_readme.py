"""README.md runs as written, each Python block on its own.

Every ```python block runs alone in a fresh interpreter (a subprocess in an empty working
directory, warnings as errors), as a reader who copies one block would run it; the blocks
run side by side.  A probe run after each block returns a few of its values (plain arrays
and numbers), which are checked here against independent evaluations: the recovered
network's objective from its weights, a second solver, weak duality, the torch module's
own predictions, scikit-learn's accuracy from the predicted labels.

The ```bash blocks are install commands: instead of running them, their test and
main-job command lines are checked to be the ones .ci/run executes (CI runs exactly the
README's lines), and every example script is listed in the README's table.
"""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)

# runs one block in a fresh namespace with warnings as errors, then its probe (which sets
# __probe__), and pickles what the probe returned
HARNESS = """\
import pickle, sys, warnings
block, probe, out = sys.argv[1:4]
ns = {"__name__": "__main__"}
with warnings.catch_warnings():
    warnings.simplefilter("error")  # a README example should not warn
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    exec(compile(open(block).read(), block, "exec"), ns)
exec(compile(open(probe).read(), probe, "exec"), ns)
with open(out, "wb") as f:
    pickle.dump(ns["__probe__"], f)
"""

# what each block (in README order) hands back; names are the block's own
PROBES = [
    """__probe__ = dict(X=X, y=y, W1=net.W1, b1=net.b1, W2=net.W2, skip=net.skip, c0=net.c0,
    predict=net.predict(X), objective=result.objective,
    recovered=result.recovered_objective, cvx_objective=cvx.objective,
    cvx_has_problem=cvx.problem is not None, ws_has_problem=result.problem is not None)""",
    """__probe__ = dict(objective=result.objective, lower_bound=cert.lower_bound,
    upper_bound=cert.upper_bound, gap=cert.gap, certified=cert.certified, betas=betas,
    path_betas=[r.beta for r in path], path_objectives=[r.objective for r in path])""",
    """import os
import torch
with torch.no_grad():
    torch_pred = module(torch.as_tensor(X, dtype=next(module.parameters()).dtype))
__probe__ = dict(X=X, predict=net.predict(X), torch_pred=torch_pred.numpy().ravel(),
    back=cn.Network.from_torch(module).predict(X), png=os.path.getsize("curves.png"))""",
    """fitted = clf[-1]
__probe__ = dict(labels=labels, predicted=clf.predict(X), proba=clf.predict_proba(X),
    score=clf.score(X, labels), classes=fitted.classes_, objective=fitted.objective_,
    lower_bound=fitted.certificate_.lower_bound,
    loaded=ConvexReLUClassifier.load("clf.npz").predict(clf[:-1].transform(X)),
    fitted_predicted=fitted.predict(clf[:-1].transform(X)))""",
]


def blocks(kind: str) -> list[str]:
    return [body for lang, body in FENCE.findall(README.read_text()) if lang == kind]


def test_readme_has_python_blocks():
    assert len(blocks("python")) == len(PROBES)


@pytest.fixture(scope="module")
def readme_runs(tmp_path_factory) -> list[dict]:
    """The probe values of every python block, each run alone in its own interpreter."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]), MPLBACKEND="Agg")
    runs = []
    for k, (code, probe) in enumerate(zip(blocks("python"), PROBES)):
        cwd = tmp_path_factory.mktemp(f"readme_block{k + 1}")
        (cwd / "block.py").write_text(code)
        (cwd / "probe.py").write_text(probe)
        command = [sys.executable, "-c", HARNESS, "block.py", "probe.py", "probe.pkl"]
        runs.append((k, cwd, subprocess.Popen(command, cwd=cwd, env=env, text=True,
                                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)))
    values = []
    for k, cwd, proc in runs:
        out, _ = proc.communicate(timeout=900)
        assert proc.returncode == 0, f"README python block {k + 1} failed alone:\n{out[-3000:]}"
        values.append(pickle.loads((cwd / "probe.pkl").read_bytes()))
    return values


def test_block_fit_objective_from_the_weights(readme_runs):
    v = readme_runs[0]
    X, y = v["X"], v["y"]
    # the recovered network's objective, recomputed here from its weights (beta = 0.5)
    pred = np.maximum(X @ v["W1"].T + v["b1"], 0.0) @ v["W2"] + X @ v["skip"] + v["c0"]
    objective = 0.5 * np.sum((pred - y) ** 2) + 0.25 * (np.sum(v["W1"] ** 2) + np.sum(v["W2"] ** 2))
    assert objective == pytest.approx(v["recovered"], rel=1e-9)
    assert np.allclose(pred, v["predict"], rtol=1e-12, atol=1e-12)
    assert v["objective"] == pytest.approx(v["cvx_objective"], rel=1e-5)  # two solvers
    assert v["cvx_has_problem"] and not v["ws_has_problem"]


def test_block_certificates_weak_duality(readme_runs):
    v = readme_runs[1]
    assert v["lower_bound"] <= v["objective"] * (1 + 1e-9)
    # the gap is the network's objective (the upper bound) minus the lower bound
    assert v["upper_bound"] == pytest.approx(v["objective"], rel=1e-8)
    assert v["gap"] == pytest.approx(v["upper_bound"] - v["lower_bound"], rel=1e-9, abs=1e-12)
    assert v["path_betas"] == v["betas"]
    # the optimum never falls as beta grows (a larger penalty on the same networks); the
    # betas are listed in decreasing order
    assert np.all(np.diff(v["path_objectives"]) <= 1e-9 * v["objective"])
    assert v["path_objectives"][-1] == pytest.approx(v["objective"], rel=1e-5)  # beta = 0.5


def test_block_compare_torch_round_trip(readme_runs):
    v = readme_runs[2]
    assert v["png"] > 10_000  # the figure was written
    assert np.allclose(v["torch_pred"], v["predict"], rtol=1e-10, atol=1e-12)
    assert np.allclose(v["back"], v["predict"], rtol=1e-10, atol=1e-12)


def test_block_estimators_scores(readme_runs):
    v = readme_runs[3]
    assert v["score"] == pytest.approx(np.mean(v["predicted"] == v["labels"]))  # accuracy
    assert np.allclose(v["proba"].sum(axis=1), 1.0)
    assert set(v["classes"]) == {"no", "yes"}
    assert v["lower_bound"] <= v["objective"] * (1 + 1e-9)
    assert np.array_equal(v["loaded"], v["fitted_predicted"])  # saved and loaded: same labels


def _commands(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_readme_install_lines_are_the_ci_lines():
    ci = _commands((ROOT / ".ci" / "run").read_text())
    bash = [line for b in blocks("bash") for line in _commands(b)]
    tests = [line for line in bash if "pytest" in line]
    assert len(tests) == 1 and tests[0] in ci  # the README's test command, verbatim
    main_jobs = [line for line in bash if "convexnn solve" in line]
    assert main_jobs
    for line in main_jobs:  # CI runs the main job's command (its install part is the same)
        command = line.split("&& ")[-1]
        assert command in ci
        assert line.split("&& ")[:2] == tests[0].split("&& ")[:2]  # same venv and torch


def test_readme_lists_every_example_script():
    listed = set(re.findall(r"^\| `examples/(\w+\.py)` \|", README.read_text(), re.M))
    assert listed == {p.name for p in (ROOT / "examples").glob("*.py")}
