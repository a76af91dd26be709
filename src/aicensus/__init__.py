"""aicensus: find exposed AI model servers and attribute the models they serve."""
__version__ = "0.1.0"
