"""Text the CLI prints on its own lines (errors, skipped records): a message may quote a file or
a server, and a terminal must not act on what it quotes."""

from __future__ import annotations


def printable(text: object, limit: int = 2000) -> str:
    """Every non-printable character (C0, C1, bidi, zero-width, separators) spelled out as an
    escape, as `ascii()` would; printable text, non-ASCII included, kept as it is."""
    value = str(text)[:limit]
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in value)
