import numpy as np
import pytest


@pytest.fixture
def rng():
    """A seeded numpy Generator (tests are deterministic)."""
    return np.random.default_rng(20261122)
