"""The small interface every model-listing dialect implements."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from aicensus.records import Exchange, ModelRecord, ProbeRequest, ServiceObservation, TextDigest

Exchanges = Mapping[str, Exchange]  # probe id → exchange


class Lines(Protocol):
    """An open event stream (engine.client.EventStream): its lines, and what was read."""

    exchange: Exchange

    async def line(self) -> str | None: ...


# GET held open (the engine's read-only guard applies); kept as one Exchange once closed.
Streamer = Callable[[ProbeRequest], AbstractAsyncContextManager[Lines]]


class Dialect:
    """Turn listing exchanges into models; optionally ask for per-model details."""

    name = "base"

    def parse(self, exchanges: Exchanges) -> list[ModelRecord]:
        raise NotImplementedError

    def followups(self, models: list[ModelRecord]) -> list[tuple[ModelRecord, ProbeRequest]]:
        return []

    def apply_followup(self, model: ModelRecord, exchange: Exchange) -> None:
        return None

    # A protocol that needs a conversation (MCP: a session, then its listing calls) sends it
    # here once the product is identified; `annotate` then reads it back from every exchange
    # in hand (pure, so recorded scans read the same). Model-listing dialects need neither.
    async def converse(
        self, send: Callable[[ProbeRequest], Awaitable[Exchange]], stream: Streamer | None = None
    ) -> None:
        return None

    def annotate(self, obs: ServiceObservation, cache: Iterable[Exchange]) -> None:
        return None


def digest_text(text: object) -> TextDigest | None:
    """Keep a server's long text as sha256, length and the first 200 characters."""
    if not isinstance(text, str) or not text:
        return None
    return TextDigest(
        sha256=hashlib.sha256(text.encode("utf-8", errors="replace")).hexdigest(),
        length=len(text),
        head=text[:200],
    )


def as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**63 else None
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    return None


def as_str(value: object, limit: int = 512) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def str_list(value: object, limit: int = 64) -> list[str]:
    if not isinstance(value, list):
        return []
    return [v[:128] for v in value[:limit] if isinstance(v, str) and v]


def ok_json(exchange: Exchange | None) -> object | None:
    if exchange is None or exchange.status is None or not 200 <= exchange.status < 300:
        return None
    return exchange.json()


_QUANT = re.compile(
    r"(?i)(?:^|[._\-])(I?Q\d(?:_[A-Z0-9]+)*|F16|BF16|F32|FP16|FP8)(?=\.gguf$|$|[._\-])"
)


def quant_from_name(name: str) -> str | None:
    found = _QUANT.findall(name)
    return found[-1].upper() if found else None


def human_params(count: int | None) -> str | None:
    if count is None or count <= 0:
        return None
    if count >= 1_000_000_000:
        return f"{count / 1e9:.1f}B"
    return f"{round(count / 1e6)}M"


def parse_param_size(text: str | None) -> int | None:
    """'7.6B' → 7600000000, '135M' → 135000000."""
    if not text:
        return None
    found = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([KMBT])\s*", text, re.IGNORECASE)
    if not found:
        return None
    scale = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}[found.group(2).upper()]
    return int(float(found.group(1)) * scale)
