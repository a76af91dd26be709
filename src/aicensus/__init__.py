"""aicensus: find exposed AI model servers and attribute the models they serve."""

from aicensus.version import __version__

__all__ = ["__version__"]
