"""Model enumeration: pure parsers that turn recorded exchanges into ModelRecords."""

from aicensus.enumerate.base import Dialect
from aicensus.enumerate.registry import DIALECTS, get_dialect

__all__ = ["DIALECTS", "Dialect", "get_dialect"]
