"""What the engine may do: timeouts, caps, rates. Stated once, passed everywhere."""

from __future__ import annotations

import msgspec

from aicensus import __version__

DEFAULT_USER_AGENT = f"aicensus/{__version__} (read-only AI service census)"


class EngineConfig(msgspec.Struct, kw_only=True, frozen=True):
    connect_timeout: float = 3.0  # seconds to establish TCP (and TLS)
    read_timeout: float = 5.0  # seconds of silence tolerated while reading
    total_timeout: float = 10.0  # seconds for one whole request
    target_timeout: float = 60.0  # seconds for everything at one (ip, port)
    max_body_bytes: int = 1024 * 1024  # counted after decompression
    rate: float = 0.0  # new connections per second; 0 = unlimited
    concurrency: int = 256  # targets in progress at once
    per_host_inflight: int = 2  # requests in flight to one address
    max_redirects: int = 3  # same-host only
    max_model_details: int = 64  # per-model detail requests (e.g. /api/show) per service
    user_agent: str = DEFAULT_USER_AGENT
