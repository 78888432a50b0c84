"""Two-layer convolutional networks as a program kind (THEORY D): :mod:`~convexnn.cnn.program`,
:mod:`~convexnn.cnn.pricer`, :mod:`~convexnn.cnn.certificate`, :mod:`~convexnn.cnn.kind`."""
