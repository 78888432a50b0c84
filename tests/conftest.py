import numpy as np
import pytest
from hypothesis import settings

# Deterministic property tests: the same examples on every run (CI included).
settings.register_profile("convexnn", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("convexnn")


@pytest.fixture
def rng():
    """A seeded numpy Generator (tests are deterministic)."""
    return np.random.default_rng(20261122)
