"""Compatibility path of :mod:`convexnn.theory.deep_linear` (the module moved; see docs/architecture.md).

``convexnn.deep_linear`` *is* :mod:`convexnn.theory.deep_linear` (one module object, so patching either
patches both).  Kept while deep_relu.py and examples/theory_deep_linear_spectra.py (edited concurrently)
import it by its old path.
"""

import sys

from .theory import deep_linear as _module

sys.modules[__name__] = _module
