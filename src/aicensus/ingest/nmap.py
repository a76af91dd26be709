"""nmap XML (-oX), typically from `nmap -sV -p 11434,… --script http-headers,http-title`.

    <host starttime="1740787200" endtime="1740787260">
      <address addr="192.0.2.7" addrtype="ipv4"/>
      <ports><port protocol="tcp" portid="11434">
        <state state="open" reason="syn-ack"/>
        <service name="http" product="Golang net/http server" tunnel="ssl"?/>
        <script id="fingerprint-strings" output="…">
          <elem key="GetRequest">HTTP/1.0 200 OK&#xd;&#xa;Content-Type: …&#xd;&#xa;&#xd;&#xa;Ollama is running</elem>
        </script>
        <script id="http-headers" output="&#xa;  Content-Type: text/plain&#xa;  …"/>
      </port></ports>
    </host>

Mapping: one observation per open TCP port of each `<host>`, timed by the host's `starttime`
(else the run's `start`). The service-detection responses nmap keeps in `fingerprint-strings`
become exchanges: `GetRequest` → `GET /`, `HTTPOptions` → `OPTIONS /`, `FourOhFourRequest` →
`GET /nice%20ports%2C/Tri%6Eity.txt%2ebak`, fingerprinted as a scan's responses would be (nmap
keeps them only for services its own database does not recognise). `tunnel="ssl"` means https.
A port without them is stored as `unidentified` ("port open; no HTTP response recorded"); nmap's
service name, product and version and the output of the `http-headers`, `http-title` and
`http-server-header` scripts are kept as evidence (they carry no status line, so they are not
fingerprinted). A `<host>` without a usable address is a bad record (with the line of
its start tag); malformed XML stops the read at that line, keeping every host before it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import cast

from aicensus.ingest.common import (
    BadRecord,
    Recorded,
    RecordError,
    check_ip,
    check_port,
    exchange_from_raw_http,
    iso_from_epoch,
    read_text,
    reason,
    unescape_banner,
)
from aicensus.records import Evidence, Exchange, RecordedService, Target

SOURCE = "nmap"
OPEN_ONLY_ERROR = "port open; no HTTP response recorded"
_PROBES = {
    "GetRequest": ("GET", "/"),
    "HTTPOptions": ("OPTIONS", "/"),
    "FourOhFourRequest": ("GET", "/nice%20ports%2C/Tri%6Eity.txt%2ebak"),
}


def _hosts(text: str, bad: list[BadRecord]) -> Iterator[tuple[int, ET.Element, str | None]]:
    """(line of <host>, element, run start) for each host; XML errors go to bad."""
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
    run_start: str | None = None
    host_line = 0
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        try:
            parser.feed(line)
            # with events=(start, end) every event is (name, element)
            events = cast(list[tuple[str, ET.Element]], list(parser.read_events()))
        except ET.ParseError as exc:
            bad.append(BadRecord(line=number, reason=f"malformed XML, reading stopped: {exc}"))
            return
        for event, element in events:
            if event == "start" and element.tag == "nmaprun":
                run_start = element.get("start")
            elif event == "start" and element.tag == "host":
                host_line = number
            elif event == "end" and element.tag == "host":
                yield host_line, element, run_start
                element.clear()
    try:
        parser.close()
    except ET.ParseError as exc:
        bad.append(BadRecord(line=text.count("\n") + 1, reason=f"malformed XML at the end: {exc}"))


def _address(host: ET.Element) -> str:
    for address in host.findall("address"):
        if address.get("addrtype") in ("ipv4", "ipv6"):
            return check_ip(address.get("addr"))
    raise RecordError("<host> has no ipv4 or ipv6 <address>")


def _exchanges(port: ET.Element) -> list[Exchange]:
    exchanges: list[Exchange] = []
    for script in port.findall("script"):
        if script.get("id") == "fingerprint-strings":
            for elem in script.findall("elem"):
                probe = _PROBES.get(elem.get("key") or "")
                if probe and elem.text:
                    ex = exchange_from_raw_http(
                        unescape_banner(elem.text), method=probe[0], path=probe[1]
                    )
                    if ex is not None:
                        exchanges.append(ex)
    return exchanges


def _services(host: ET.Element, run_start: str | None) -> list[RecordedService]:
    ip = _address(host)
    at = iso_from_epoch(host.get("starttime") or run_start)
    hostnames = [h.get("name") for h in host.findall("hostnames/hostname") if h.get("name")]
    found = []
    for port in host.findall("ports/port"):
        state = port.find("state")
        if port.get("protocol") != "tcp" or state is None or state.get("state") != "open":
            continue
        number = check_port(port.get("portid"))
        service = port.find("service")
        scheme = "https" if service is not None and service.get("tunnel") == "ssl" else "http"
        target = Target(ip, number, hostnames[0] if hostnames else None)
        exchanges = _exchanges(port)
        recorded = RecordedService(
            target=target,
            source=SOURCE,
            observed_at=at,
            scheme=scheme,
            exchanges=exchanges,
            error=None if exchanges else OPEN_ONLY_ERROR,
        )
        for script in port.findall("script"):
            if script.get("id") in ("http-headers", "http-title", "http-server-header"):
                text = " ".join((script.get("output") or "").split())[:200]
                recorded.evidence.append(
                    Evidence(kind="nmap-script", probe=script.get("id") or "", marker=text)
                )
        if service is not None:
            described = " ".join(
                v
                for v in (service.get("name"), service.get("product"), service.get("version"))
                if v
            )
            recorded.evidence.append(
                Evidence(kind="nmap-service", probe="nmap -sV", marker=described, weight=0.0)
            )
        found.append(recorded)
    return found


def read(path: str | Path) -> Recorded:
    bad: list[BadRecord] = []
    services: list[RecordedService] = []
    records = 0
    for line, host, run_start in _hosts(read_text(path), bad):
        records += 1
        try:
            services.extend(_services(host, run_start))
        except RecordError as exc:
            bad.append(BadRecord(line=line, reason=reason(exc)))
    bad.sort(key=lambda b: b.line)
    return Recorded(services=services, bad=bad, records=records)
