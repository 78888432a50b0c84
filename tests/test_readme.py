"""README.md runs as written.

Every ```python block is executed, in order, in one namespace per file (later blocks use
the names earlier ones define, as a reader running them in one session would), inside a
temporary working directory (the blocks write figures).  The ```bash blocks are install
commands: instead of running them, their test and main-job command lines are checked to be
the ones .ci/run executes (the existing convention: CI runs exactly the README's lines).
A few values the blocks compute are then checked against independent evaluations.
"""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


def blocks(kind: str) -> list[str]:
    return [body for lang, body in FENCE.findall(README.read_text()) if lang == kind]


def test_readme_has_python_blocks():
    assert len(blocks("python")) >= 3


@pytest.fixture(scope="module")
def readme_namespace(tmp_path_factory):
    """The namespace after running every python block of the README, in order."""
    import os

    cwd = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("readme"))
    ns: dict = {"__name__": "__readme__"}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a README example should not warn
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            for k, code in enumerate(blocks("python")):
                try:
                    exec(compile(code, f"README.md python block {k + 1}", "exec"), ns)
                except Exception as e:  # name the block in the failure
                    raise AssertionError(f"README python block {k + 1} failed: {e!r}\n{code}") from e
        ns["__cwd__"] = Path(os.getcwd())
    finally:
        os.chdir(cwd)
    return ns


def test_readme_python_blocks_run(readme_namespace):
    ns = readme_namespace
    X, y, result, net = ns["X"], ns["y"], ns["result"], ns["net"]
    # the recovered network's objective, recomputed here from its weights
    W1, b1, W2 = net.W1, net.b1, net.W2
    pred = np.maximum(X @ W1.T + b1, 0.0) @ W2 + X @ net.skip + net.c0
    objective = 0.5 * np.sum((pred - y) ** 2) + 0.25 * (np.sum(W1**2) + np.sum(W2**2))
    assert objective == pytest.approx(result.recovered_objective, rel=1e-9)
    assert result.objective == pytest.approx(ns["cvx"].objective, rel=1e-5)  # two solvers
    assert ns["cvx"].problem is not None and result.problem is None
    assert ns["cert"].lower_bound <= result.objective * (1 + 1e-9)
    assert [r.beta for r in ns["path"]] == ns["betas"]
    assert (ns["__cwd__"] / "curves.png").stat().st_size > 10_000
    back = ns["cn"].Network.from_torch(ns["module"])
    assert np.allclose(back.predict(X), net.predict(X), rtol=1e-10, atol=1e-12)


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
