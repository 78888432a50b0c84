"""The public surface: every exported name resolves, and importing has no side effects."""

import subprocess
import sys

import convexnn


def test_every_export_resolves():
    for name in convexnn.__all__:
        assert getattr(convexnn, name) is not None, name


def test_import_loads_no_heavy_dependency_and_emits_nothing():
    code = ("import sys, warnings, logging\n"
            "warnings.simplefilter('error')\n"
            "import convexnn\n"
            "heavy = [m for m in ('torch', 'cvxpy', 'matplotlib', 'sklearn') if m in sys.modules]\n"
            "assert not heavy, heavy\n"
            "assert not logging.getLogger().handlers\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "" and out.stderr == ""


def test_exports_are_not_shadowed_by_submodules():
    """Importing a submodule sets a package attribute of its name: no export may share a
    submodule's name (convexnn.certify must stay the function)."""
    import importlib
    import pkgutil
    import types

    for info in pkgutil.walk_packages(convexnn.__path__, "convexnn."):
        if info.name.endswith("__main__"):
            continue
        importlib.import_module(info.name)
    for name in convexnn.__all__:
        assert not isinstance(getattr(convexnn, name), types.ModuleType), name
