"""Compatibility path of :mod:`convexnn.theory.closed_forms` (the module moved; see docs/architecture.md).

``convexnn.closed_forms`` *is* :mod:`convexnn.theory.closed_forms` (one module object, so patching either
patches both).  Kept while deep_relu.py (edited concurrently) imports it by its old path.
"""

import sys

from .theory import closed_forms as _module

sys.modules[__name__] = _module
