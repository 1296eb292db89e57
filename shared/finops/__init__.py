"""FinOps platform core: domain, allocation engine, events, topics and settings."""

__all__ = ["__version__"]

__version__ = "0.1.0"
