"""Find credentials in server-provided text and redact them. Never returns a secret's value."""

from __future__ import annotations

import re

import msgspec

# kind → pattern. Ordered: the first kind that claims a span wins.
SECRET_PATTERNS: dict[str, str] = {
    "private-key-block": (
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
        r"(?:[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|[\s\S]*\Z)"
    ),
    "anthropic-api-key": r"\bsk-ant-[A-Za-z0-9_-]{20,}",
    "openai-api-key": r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",
    "aws-access-key-id": r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    "github-token": r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})",
    "huggingface-token": r"\bhf_[A-Za-z0-9]{30,}",
    "google-api-key": r"\bAIza[0-9A-Za-z_-]{35}",
    "slack-token": r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
    "bearer-token": r"(?i)\bbearer\s+[A-Za-z0-9._~+/-]{16,}=*",
}


class SecretHit(msgspec.Struct, frozen=True):
    kind: str
    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start


_COMPILED = [(kind, re.compile(p)) for kind, p in SECRET_PATTERNS.items()]


def find_secrets(text: str | None) -> list[SecretHit]:
    """Non-overlapping secret spans in text, in order of position."""
    if not text:
        return []
    hits: list[SecretHit] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in _COMPILED:
        for m in pattern.finditer(text):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            taken.append((m.start(), m.end()))
            hits.append(SecretHit(kind, m.start(), m.end()))
    return sorted(hits, key=lambda h: h.start)


def redact_secrets(text: str | None) -> str | None:
    """text with every secret replaced by [REDACTED:<kind>]."""
    if not text:
        return text
    out, last = [], 0
    for hit in find_secrets(text):
        out.append(text[last : hit.start])
        out.append(f"[REDACTED:{hit.kind}]")
        last = hit.end
    out.append(text[last:])
    return "".join(out)
