"""Make server-provided text safe where a human or a terminal reads it, exact where a machine does.

- `terminal_safe`: no ANSI escapes, no C0/C1 controls, no bidi, zero-width or line-separator
  characters (they can clear the screen, retitle the window, or reorder what is read).
- `spell_controls`: the same characters shown as visible escapes (`\\x1b`, `\\u202e`) instead of
  removed, for text a human reads but that should keep the information (CSV on a terminal).
- `json_safe`: JSON text with those characters escaped as `\\uXXXX`, so the value a parser reads
  is exactly the original while the file itself carries no raw C1 or bidi character.
"""

from __future__ import annotations

import re

_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
# C0 (tab and newline handled apart), DEL, C1, Arabic letter mark, Mongolian vowel separator,
# zero-width and directional marks, line/paragraph separators, bidi embeddings, overrides and
# isolates, invisible operators, and the byte-order mark.
_INVISIBLE = "\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
_CONTROL = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_INVISIBLE}]")
_SPELLED = re.compile(f"[\x00-\x1f\x7f-\x9f{_INVISIBLE}]")
_JSON_UNSAFE = re.compile(f"[\x7f-\x9f{_INVISIBLE}]")


def terminal_safe(text: object, limit: int = 200) -> str:
    """Strip escapes and controls a server may have planted; shorten to `limit` characters."""
    value = "" if text is None else str(text)
    value = _CONTROL.sub("", _ANSI.sub("", value)).replace("\n", " ").replace("\t", " ")
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _visible(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def spell_controls(text: object) -> str:
    """Every control, bidi and invisible character (tab and newline too) as a visible escape."""
    value = "" if text is None else str(text)
    return _SPELLED.sub(lambda m: _visible(m.group()), value)


def json_safe(text: str) -> str:
    """Encoded JSON with raw DEL, C1, bidi and invisible characters escaped as \\uXXXX.

    Exact: JSON outside strings is ASCII, and a \\uXXXX escape inside a string decodes to the
    very character it replaces. (C0 controls are escaped by every JSON encoder already.)
    """
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
