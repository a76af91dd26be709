"""nmap XML (-oX) and normal output (-oN; see read_normal), typically from `nmap -sV -p 11434,… --script http-headers,http-title`.

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

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
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
    skip,
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


def hosts(text: str, bad: list[BadRecord]) -> Iterator[tuple[int, ET.Element, str | None]]:
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


def address(host: ET.Element) -> str:
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
    ip = address(host)
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


def is_masscan_xml(text: str) -> bool:
    """masscan -oX looks like nmap XML; its own reader (ingest/masscan.py) keeps the banners."""
    return 'scanner="masscan"' in text[:2000]


def read(path: str | Path) -> Recorded:
    text = read_text(path)
    if not text.lstrip().startswith("<"):
        return read_normal(text)
    bad: list[BadRecord] = []
    services: list[RecordedService] = []
    records = 0
    for line, host, run_start in hosts(text, bad):
        records += 1
        try:
            services.extend(_services(host, run_start))
        except RecordError as exc:
            bad.append(BadRecord(line=line, reason=reason(exc)))
    bad.sort(key=lambda b: b.line)
    return Recorded(services=services, bad=bad, records=records)


# ---------------------------------------------------------------- normal output (-oN)

_HEADER = re.compile(r"^# Nmap \S+ scan initiated (.+?) as: ")
_STARTING = re.compile(r"^Starting Nmap \S+ \( \S+ \) at (\d{4}-\d\d-\d\d \d\d:\d\d)")
_REPORT = re.compile(r"^Nmap scan report for (?:(\S+) \(([^)]+)\)|(\S+))\s*$")
_PORT = re.compile(r"^(\d+)/([a-z]+)\s+(\S+)\s+(\S+)(?:\s+(.*?))?\s*$")
_SCRIPTS = ("http-title", "http-server-header", "http-headers")


def _normal_time(line: str) -> str | None:
    """The scan's start from the `# Nmap … scan initiated <ctime> as:` header (-oN) or the
    `Starting Nmap … at YYYY-MM-DD HH:MM ZONE` line (console). nmap writes local time with no
    zone: it is taken as UTC."""
    if found := _HEADER.match(line):
        try:
            at = datetime.strptime(" ".join(found.group(1).split()), "%a %b %d %H:%M:%S %Y")
        except ValueError:
            return None
        return at.replace(tzinfo=UTC).isoformat(timespec="seconds")
    if found := _STARTING.match(line):
        return datetime.fromisoformat(found.group(1)).replace(tzinfo=UTC).isoformat()
    return None


def read_normal(text: str) -> Recorded:
    """nmap normal output (-oN, or the console's): one observation per open TCP port line of
    each `Nmap scan report for`, with the SERVICE/VERSION columns and the http-title /
    http-server-header script lines kept as evidence (nmap's normal output keeps no raw
    response, so nothing is fingerprinted)."""
    part = Recorded(services=[])
    at: str | None = None
    ip: str | None = None
    hostname: str | None = None
    last: RecordedService | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if (when := _normal_time(line)) is not None:
            at = when
        elif report := _REPORT.match(line):
            part.records += 1
            last, hostname = None, report.group(1)
            try:
                ip = check_ip(report.group(2) or report.group(3))
            except RecordError as exc:
                ip = None
                part.bad.append(BadRecord(line=number, reason=reason(exc)))
        elif port := _PORT.match(line):
            last = _normal_port(port, ip, hostname, at, number, part)
        elif last is not None and line.startswith("|"):
            script, _, output = line.lstrip("|_ ").partition(":")
            if script in _SCRIPTS:
                last.evidence.append(
                    Evidence(kind="nmap-script", probe=script, marker=output.strip()[:200])
                )
    return part


def _normal_port(
    port: re.Match[str], ip: str | None, hostname: str | None, at: str | None, number: int,
    part: Recorded,
) -> RecordedService | None:  # fmt: skip
    if ip is None:
        part.bad.append(BadRecord(line=number, reason="port line outside a 'Nmap scan report'"))
        return None
    proto, state = port.group(2), port.group(3)
    if proto != "tcp" or state != "open":
        skip(part, f"{proto} records" if proto != "tcp" else f"{state} ports")
        return None
    try:
        number_ = check_port(port.group(1))
    except RecordError as exc:
        part.bad.append(BadRecord(line=number, reason=reason(exc)))
        return None
    described = " ".join(v for v in (port.group(4), port.group(5)) if v)
    service = RecordedService(
        target=Target(ip, number_, hostname),
        source=SOURCE,
        observed_at=at,
        error=OPEN_ONLY_ERROR,
        evidence=[Evidence(kind="nmap-service", probe="nmap -sV", marker=described, weight=0.0)],
    )
    part.services.append(service)
    return service
