"""File formats: cost, usage and graph files in; allocation results out."""
