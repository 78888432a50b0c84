"""Matplotlib figures (matplotlib is imported only inside the plotting functions).

Submodules: ``training`` (SGD runs vs the convex optimum), ``spline`` (partitions and
pieces), ``theory`` (1-D fits, TV, balance, spectra).
"""
