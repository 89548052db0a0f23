"""dashfix: audit and repair DashFlow checkpoint stores, DashStream logs and DLQ dumps."""

__version__ = "0.1.0"
