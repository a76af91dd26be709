"""The dashboard: `aicensus serve`'s read-only web app over a store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aicensus.errors import StoreLockedError
from aicensus.store import Store

__all__ = ["dashboard_app", "store_readable"]


def dashboard_app(db: str | Path, *, token: str | None = None, host: str = "127.0.0.1") -> Any:
    """The `aicensus serve` web app (ASGI) over the store at db (aicensus.serve.create_app):
    read-only; a non-loopback host needs a token."""
    from aicensus.serve import create_app  # the web framework loads only for the dashboard

    return create_app(str(db), token=token, host=host)


def store_readable(db: str | Path) -> bool:
    """True when the store at db opens read-only now, False while a writer holds it; any other
    failure (missing, not a store) is its one-line StoreError."""
    try:
        with Store.open(db, read_only=True):
            return True
    except StoreLockedError:
        return False
