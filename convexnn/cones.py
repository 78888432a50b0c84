"""Compatibility path of :mod:`convexnn.duality.cones` (the module moved; see docs/architecture.md).

``convexnn.cones`` *is* :mod:`convexnn.duality.cones` (one module object, so patching either
patches both).  Kept while three_layer.py (edited concurrently) imports it by its old path.
"""

import sys

from .duality import cones as _module

sys.modules[__name__] = _module
