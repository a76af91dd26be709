"""`aicensus serve`: a local, read-only web dashboard over the store (docs/dashboard.md)."""

from aicensus.serve.app import create_app, is_loopback

__all__ = ["create_app", "is_loopback"]
