"""Gradient training in torch: the networks' torch modules and conversions
(:mod:`~convexnn.training.modules`) and the trainer (:mod:`~convexnn.training.train`).

The public path of these names is :mod:`convexnn.torch_backend` (and ``convexnn.<name>``).
"""
