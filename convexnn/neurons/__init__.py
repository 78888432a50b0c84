"""Neuron generation over unit directions for vector-output dense and convolutional layers:
the program, its master, descent, pricing, pricer and dual bound (THEORY A.10, C, D)."""
