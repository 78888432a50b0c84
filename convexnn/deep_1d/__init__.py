"""deep_1d."""
