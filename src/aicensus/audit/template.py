"""Static analysis of a Jinja chat template: does it reach Python internals?

The template is never rendered, compiled or parsed by Jinja: this module reads its text. It
takes the code blocks (`{{ … }}`, `{% … %}`; comments and literal text cannot run), undoes the
usual obfuscations (`\\x5f` escapes, `'__cla' ~ 'ss__'` concatenation, `['__cla','ss__']|join`)
and searches them with the patterns of the AIC-TEMPLATE-CODE-EXEC check (the same catalogue
entry `aicensus scan` applies to the first 200 characters a server returns), plus a few
sandbox-escape gadgets of its own.
"""

from __future__ import annotations

import functools
import re

from aicensus.assess.catalog import builtin_checks
from aicensus.assess.schema import Check

TEMPLATE_CHECK_ID = "AIC-TEMPLATE-CODE-EXEC"

# Beyond the catalogue's patterns: gadgets seen in Jinja SSTI payloads.
EXTRA_PATTERNS: dict[str, str] = {
    "template-reference-context": r"_TemplateReference__context",
    "dunder-attribute": r"\.\s*__[a-z]+__|\[\s*['\"]__[a-z]+__['\"]\s*\]",
    "format-char": r"%c[^|]*\|\s*format\b",
}

_CODE_BLOCK = re.compile(r"\{\{(.*?)\}\}|\{%(.*?)%\}", re.DOTALL)
_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})|\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})|\\([0-7]{3})")
# A closing quote, an optional ~ + or , and an opening quote: the seam of a split string.
_SEAM = re.compile(r"(['\"])\s*[~+,]?\s*(['\"])")


@functools.cache
def template_check() -> Check:
    for check in builtin_checks():
        if check.id == TEMPLATE_CHECK_ID:
            return check
    raise LookupError(f"the check catalogue has no {TEMPLATE_CHECK_ID}")  # pragma: no cover


@functools.cache
def _patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    merged = {**template_check().params.get("patterns", {}), **EXTRA_PATTERNS}
    return tuple((label, re.compile(regex, re.IGNORECASE)) for label, regex in merged.items())


def _unescape(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        hexa = m.group(1) or m.group(2) or m.group(3)
        try:
            return chr(int(hexa, 16)) if hexa else chr(int(m.group(4), 8))
        except (ValueError, OverflowError):
            return m.group(0)

    return _ESCAPE.sub(one, text)


def code_of(template: str) -> list[tuple[int, str]]:
    """(offset, code) of every Jinja expression and statement block in the template."""
    return [
        (m.start(), m.group(1) if m.group(1) is not None else m.group(2))
        for m in _CODE_BLOCK.finditer(template)
    ]


class TemplateHit(tuple[str, int, str]):
    """(label, offset in the template, snippet around the match)."""

    __slots__ = ()

    @property
    def label(self) -> str:
        return self[0]

    @property
    def offset(self) -> int:
        return self[1]

    @property
    def snippet(self) -> str:
        return self[2]


def scan_template(template: str) -> list[TemplateHit]:
    """Every code-execution construct found in the template's code blocks (first per label)."""
    found: dict[str, TemplateHit] = {}
    for offset, code in code_of(template):
        variants = [code, _unescape(code)]
        variants.append(_SEAM.sub("", variants[1]))
        for label, pattern in _patterns():
            if label in found:
                continue
            for variant in variants:
                m = pattern.search(variant)
                if m:
                    start = max(0, m.start() - 30)
                    snippet = variant[start : m.end() + 30].strip()
                    found[label] = TemplateHit((label, offset, snippet))
                    break
    return sorted(found.values(), key=lambda h: (h.offset, h.label))
