"""What the engine may do: timeouts, caps, rates. Stated once, passed everywhere."""

from __future__ import annotations

from typing import Literal

import msgspec

from aicensus.version import __version__

DEFAULT_USER_AGENT = f"aicensus/{__version__} (read-only AI service census)"


class EngineConfig(msgspec.Struct, kw_only=True, frozen=True):
    connect_timeout: float = 3.0  # seconds to establish TCP (and TLS)
    read_timeout: float = 5.0  # seconds of silence tolerated while reading
    total_timeout: float = 10.0  # seconds for one whole request
    target_timeout: float = 60.0  # seconds for everything at one (ip, port)
    max_body_bytes: int = 1024 * 1024  # counted after decompression
    # Body bytes kept per (ip, port) across all its requests; once spent, each further response
    # keeps at most max_body_after_budget. Bounds a target's memory when every path is a bomb.
    max_target_bytes: int = 8 * 1024 * 1024
    # Body bytes held by all targets in progress together (reads in flight included); once
    # spent, each response keeps at most max_body_after_budget until bodies are released.
    max_total_body_bytes: int = 128 * 1024 * 1024
    max_body_after_budget: int = 64 * 1024
    rate: float = 0.0  # new connections per second; 0 = unlimited
    concurrency: int = 256  # targets in progress at once
    per_host_inflight: int = 2  # requests in flight to one address
    max_redirects: int = 3  # same-host only
    # Idle keep-alive connections close after this long. A finished target's idle connections
    # close at once (HttpClient.done_with), so only targets in progress hold any (at most
    # concurrency x per_host_inflight); a busy scanner may leave one idle for seconds between
    # a target's requests (at 1 s, a loaded scan opened 2.35 connections a host, not 2).
    keepalive_timeout: float = 5.0
    max_model_details: int = 64  # per-model detail requests (e.g. /api/show) per service
    # "all": when no signature listed for the port matches, try every product's identity
    # probes (finds products on unusual ports, ~57 requests to a service nothing matches);
    # "port": only the signatures listed for the port (fewer requests, misses those).
    probe_scope: Literal["all", "port"] = "all"
    user_agent: str = DEFAULT_USER_AGENT
    # Address keys (aicensus.targets.addresses) never connected to, as sorted [lo, hi]
    # intervals: the plan's exclusions, enforced again at the socket (engine/guard.py).
    excluded: tuple[tuple[int, int], ...] = ()
