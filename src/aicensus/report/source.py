"""Read a scan back from the store and assess it: the input of `report` and `policy check`."""

from __future__ import annotations

import msgspec

from aicensus.assess import Finding, assess
from aicensus.errors import StoreError
from aicensus.records import ScanStatus, ServiceObservation
from aicensus.store import ScanInfo, Store


class Assessed(msgspec.Struct, kw_only=True):
    scan: ScanInfo | None
    services: list[tuple[ServiceObservation, list[Finding]]]

    @property
    def findings(self) -> list[Finding]:
        return [f for _, fs in self.services for f in fs]


def load_assessed(db: str, scan_id: int | None = None, *, include_all: bool = False) -> Assessed:
    """The identified services of one scan (the latest when scan_id is None) with findings.

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
        services = [
            (obs, assess(obs))
            for obs in store.observations(scan_id)
            if include_all or obs.status == ScanStatus.IDENTIFIED
        ]
    services.sort(key=lambda pair: (pair[0].ip, pair[0].port))
    return Assessed(scan=scans.get(scan_id), services=services)
