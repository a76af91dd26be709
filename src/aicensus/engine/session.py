"""One target's requests: each sent at most once, drawing on the scan's shared resources.

Product-agnostic: it sends what it is asked to and keeps the answers by request
(method, path, body), in the order they came; what to ask is the caller's business.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aicensus.engine.client import HttpClient
from aicensus.engine.config import EngineConfig
from aicensus.engine.scheduler import BodyBudget
from aicensus.records import Exchange, ProbeRequest, RequestKey, Target


class TargetRequests:
    """The exchanges with one (ip, port), bounded by the per-target and global body budgets
    and the address's gate (at most N requests in flight to one address)."""

    def __init__(
        self,
        client: HttpClient,
        sem: asyncio.Semaphore,
        target: Target,
        config: EngineConfig,
        budget: BodyBudget | None = None,
    ) -> None:
        self.budget = budget or BodyBudget(
            config.max_total_body_bytes, config.max_body_after_budget
        )
        self.client = client
        self.sem = sem
        self.target = target
        self.config = config
        self.cache: dict[RequestKey, Exchange] = {}
        self.order: list[Exchange] = []
        self.body_bytes = 0  # kept across this target's responses; see EngineConfig
        # The product the target has been identified as: only then may it receive that
        # product's allow-listed POSTs (engine/readonly.py POST_OWNERS). None until then.
        self.product: str | None = None

    def cached(self, probe: ProbeRequest) -> Exchange | None:
        """The answer already in for this request, unless it was cut shorter than this probe
        may keep (a probe with a small `max_body` asked first), or it timed out and this probe
        may wait longer (`wait`): then it is asked again."""
        ex = self.cache.get(probe.key())
        if ex is None:
            return None
        if ex.truncated and len(ex.body) < self._cap_for(probe):
            return None
        if probe.wait is not None and ex.error == "timeout" and ex.elapsed_ms < probe.wait * 1000:
            return None
        return ex

    def _cap_for(self, probe: ProbeRequest) -> int:
        cap = self._body_cap()
        return cap if probe.max_body is None else min(cap, probe.max_body)

    async def send(self, probe: ProbeRequest, scheme: str) -> Exchange:
        key = probe.key()
        if (known := self.cached(probe)) is not None:
            return known
        async with self.sem:
            granted = self.budget.reserve(self._cap_for(probe))
            kept = 0
            try:
                ex = await self.client.fetch(
                    self.target.ip,
                    self.target.port,
                    scheme,
                    probe,
                    self.target.hostname,
                    max_body=granted,
                    product=self.product,
                )
                kept = len(ex.body)
            finally:  # a cancelled request keeps nothing
                self.budget.give_back(granted - kept)
        self.body_bytes += kept
        self.cache[key] = ex
        self.order.append(ex)
        return ex

    def record(self, probe: ProbeRequest, ex: Exchange) -> None:
        """Keep an exchange made outside `send` (a held-open stream), as if sent by it."""
        if probe.key() in self.cache:
            return
        self.body_bytes += len(ex.body)
        self.cache[probe.key()] = ex
        self.order.append(ex)

    def _body_cap(self) -> int:
        left = self.config.max_target_bytes - self.body_bytes
        return min(self.config.max_body_bytes, max(left, self.config.max_body_after_budget))

    async def send_all(self, probes: Iterable[ProbeRequest], scheme: str) -> None:
        unique = {p.key(): p for p in probes if self.cached(p) is None}
        if len(unique) <= 1:  # no task to spawn for none or one (most calls of a scan)
            for p in unique.values():
                await self.send(p, scheme)
            return
        await asyncio.gather(*(self.send(p, scheme) for p in unique.values()))

    def release(self) -> None:
        """The bodies go with this target: give their bytes back to the global budget."""
        self.budget.give_back(self.body_bytes)
        self.body_bytes = 0
