"""Answers assembled from the queries: what each read route returns."""
