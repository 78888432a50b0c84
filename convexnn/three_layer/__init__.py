"""three_layer."""
