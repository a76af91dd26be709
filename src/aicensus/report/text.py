"""Make server-provided text safe for a terminal: no control characters, no ANSI escapes."""

from __future__ import annotations

import re

_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: object, limit: int = 200) -> str:
    """Strip escapes and controls a server may have planted; shorten to `limit` characters."""
    value = "" if text is None else str(text)
    value = _CONTROL.sub("", _ANSI.sub("", value)).replace("\n", " ").replace("\t", " ")
    return value if len(value) <= limit else value[: limit - 1] + "…"
