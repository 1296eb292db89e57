"""Read-side SQL of the api, one module per subject; every amount in micro-units."""
