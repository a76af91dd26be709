"""The exclusion list, enforced where connections are made.

The planner never yields an excluded address, but the engine does not rely on it: every
request, every redirect hop and every TLS handshake is checked here, and the connector's
socket factory checks the address the socket is about to connect to (whatever the URL said),
so nothing reaches an excluded address even if a plan, a resume or a caller got it wrong.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

from aicensus.errors import ExcludedAddress
from aicensus.targets.addresses import address_key
from aicensus.targets.scope import IntervalSet


class AddressGuard:
    """Refuses addresses whose key (targets.addresses) lies in the excluded intervals."""

    def __init__(self, excluded: Iterable[tuple[int, int]] = ()) -> None:
        self._excluded = IntervalSet(excluded)

    def __bool__(self) -> bool:
        return bool(self._excluded)

    def refuses(self, ip: str) -> bool:
        """True for an excluded address; text that is not an address is refused too."""
        if not self._excluded:
            return False
        try:
            address = ipaddress.ip_address(ip.strip("[]").split("%", 1)[0])
        except ValueError:
            return True  # the guard only ever sees addresses: anything else is a bug upstream
        return address_key(address) in self._excluded

    def check(self, ip: str) -> None:
        if self.refuses(ip):
            raise ExcludedAddress(f"refused: {ip} is excluded")

    def socket_factory(self, addr_info: tuple) -> socket.socket:  # type: ignore[type-arg]
        """The socket factory: called with the resolved address of every connection."""
        family, type_, proto, _name, sockaddr = addr_info
        self.check(str(sockaddr[0]))
        return socket.socket(family=family, type=type_, proto=proto)
