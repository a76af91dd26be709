"""Model enumeration: pure parsers that turn recorded exchanges into ModelRecords."""

from aicensus.enumerate.base import Dialect, get_dialect

__all__ = ["Dialect", "get_dialect"]
