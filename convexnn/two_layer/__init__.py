"""two_layer."""
