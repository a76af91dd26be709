"""Read a scan back from the store and assess it: the input of `report` and `policy check`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from aicensus.assess import Finding, assess, honeypot
from aicensus.assess.honeypot import HoneypotVerdict
from aicensus.errors import StoreError
from aicensus.records import ScanStatus, ServiceObservation
from aicensus.store import ScanInfo, Store

if TYPE_CHECKING:
    from aicensus.assess.policy import Policy
    from aicensus.report.denied import PolicyReport


class Assessed(msgspec.Struct, kw_only=True):
    scan: ScanInfo | None
    services: list[tuple[ServiceObservation, list[Finding]]]
    # Set by `with_policy` (`aicensus report --policy`): the policy's verdict, shown by the
    # table, json and html reports ("Models your policy denies").
    policy: PolicyReport | None = None
    # ip -> the honeypot classifier's verdict (assess/honeypot.py) over the whole scan: each
    # host's own evidence and the scan's population (identical inventories and banners).
    # Hosts without any evidence are absent.
    honeypots: dict[str, HoneypotVerdict] = msgspec.field(default_factory=dict)

    @property
    def findings(self) -> list[Finding]:
        return [f for _, fs in self.services for f in fs]

    def with_policy(self, policy: Policy, file: str | None = None) -> Assessed:
        """This report with the policy evaluated over its services (violations, and each
        denied model's card summary and alternatives)."""
        from aicensus.report.denied import policy_report

        self.policy = policy_report(self.services, policy, file)
        return self


# What the honeypot classifier looks at besides any observation with honeypot evidence.
_CLASSIFIED = (ScanStatus.IDENTIFIED, ScanStatus.SUSPECTED_HONEYPOT)


def load_assessed(
    db: str,
    scan_id: int | None = None,
    *,
    include_all: bool = False,
    min_addresses: int = honeypot.DEFAULT_MIN_ADDRESSES,
) -> Assessed:
    """The identified services of one scan (the latest when scan_id is None) with findings,
    and the honeypot verdicts over all of the scan's observations.

    Raises StoreError when the store cannot be read or the scan does not exist.
    """
    with Store.open(db, read_only=True) as store:
        scans = {s.scan_id: s for s in store.scans()}
        if scan_id is None:
            scan_id = store.latest_scan_id()
            if scan_id is None:
                raise StoreError(f"store {db} holds no scans yet; run `aicensus scan` first")
        elif scan_id not in scans:
            raise StoreError(f"store {db} has no scan {scan_id}")
        observations = [
            obs
            for obs in store.observations(scan_id)
            if include_all or obs.status in _CLASSIFIED or honeypot.from_observation(obs)
        ]
    services = [
        (obs, assess(obs))
        for obs in observations
        if include_all or obs.status == ScanStatus.IDENTIFIED
    ]
    services.sort(key=lambda pair: (pair[0].ip, pair[0].port))
    verdicts = honeypot.classify(observations, min_addresses)
    return Assessed(scan=scans.get(scan_id), services=services, honeypots=verdicts)
