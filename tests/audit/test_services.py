"""Exposure from the socket table: loopback vs every interface vs a LAN address. Pure logic on
synthetic socket tables (documentation addresses); nothing here opens a connection."""

from __future__ import annotations

import pytest

from aicensus.audit import services as svc

OWN = ["127.0.0.1", "::1", "192.168.1.20", "fd00::20"]
OWN_PUBLIC = [*OWN, "203.0.113.9"]  # TEST-NET-3 stands in for a public address here


def _group(*binds: str, port: int = 11434, pid: int | None = 42) -> svc.SocketGroup:
    return svc.SocketGroup(port=port, pid=pid, binds=list(binds))


@pytest.mark.parametrize(
    ("binds", "own", "expected"),
    [
        (("127.0.0.1",), OWN, ("loopback", "loopback", [])),
        (("::1",), OWN, ("loopback", "loopback", [])),
        (("0.0.0.0",), OWN, ("all-interfaces", "lan", ["192.168.1.20"])),
        (("::",), OWN, ("all-interfaces", "lan", ["192.168.1.20", "fd00::20"])),
        (("192.168.1.20",), OWN, ("specific", "lan", ["192.168.1.20"])),
        (("127.0.0.1", "192.168.1.20"), OWN, ("specific", "lan", ["192.168.1.20"])),
        (("0.0.0.0",), ["127.0.0.1"], ("all-interfaces", "loopback", [])),
    ],
)
def test_classify(binds: tuple[str, ...], own: list[str], expected: tuple) -> None:
    assert svc.classify(_group(*binds), own) == expected


def test_classify_public_when_an_interface_is_global(monkeypatch: pytest.MonkeyPatch) -> None:
    # address_scope treats documentation ranges as private; make 203.0.113.9 look public.
    real = svc.address_scope
    monkeypatch.setattr(
        svc, "address_scope", lambda ip: "public" if ip == "203.0.113.9" else real(ip)
    )
    binding, exposure, reach = svc.classify(_group("0.0.0.0"), OWN_PUBLIC)
    assert (binding, exposure) == ("all-interfaces", "public")
    assert "203.0.113.9" in reach


def test_grouping_thousands_of_loopback_binds_into_one_service() -> None:
    listeners = [svc.Listener(f"127.6.{i // 256}.{i % 256}", 11434, 7) for i in range(4096)]
    listeners.append(svc.Listener("127.0.0.1", 8080, 8))
    groups = svc.group_listeners(listeners, None)
    assert [(g.port, len(g.binds)) for g in groups] == [(8080, 1), (11434, 4096)]
    assert svc.group_listeners(listeners, {8080})[0].port == 8080
    big = groups[1]
    assert svc.probe_address(big, loopback_only=True) == "127.6.0.0"
    assert len(svc.shorten_binds(big.binds)) == svc.MAX_BOUND_LISTED


@pytest.mark.parametrize(
    ("binds", "loopback_only", "expected"),
    [
        (("0.0.0.0",), False, "127.0.0.1"),
        (("::",), False, "::1"),
        (("127.0.0.2",), False, "127.0.0.2"),
        (("192.168.1.20",), False, "192.168.1.20"),  # this machine's own address
        (("192.168.1.20",), True, None),
    ],
)
def test_probe_address_is_always_this_machine(
    binds: tuple[str, ...], loopback_only: bool, expected: str | None
) -> None:
    assert svc.probe_address(_group(*binds), loopback_only) == expected


def test_find_group_matches_wildcards_and_dual_stack() -> None:
    groups = [_group("::", port=8080, pid=1), _group("127.0.0.1", port=11434, pid=2)]
    assert svc.find_group(groups, "127.0.0.1", 8080) is groups[0]
    assert svc.find_group(groups, "127.0.0.1", 11434) is groups[1]
    assert svc.find_group(groups, "127.0.0.1", 9999) is None


def test_fixes_name_the_product_setting() -> None:
    assert "OLLAMA_HOST=127.0.0.1" in svc.fix_for("ollama", None)
    assert "--host 127.0.0.1" in svc.fix_for("llama.cpp", None)
    process = svc.ProcessInfo(pid=1, name="llama-server", cmdline=["llama-server", "-m", "x"])
    assert "--host 127.0.0.1" in svc.fix_for(None, process)
    assert "reverse proxy" in svc.fix_for("openai-compatible", None)


def test_command_lines_are_redacted() -> None:
    argv = [
        "llama-server", "--api-key", "s3cret-value", "--token=abc", "-m", "model.gguf",
        "--header", "Authorization: Bearer abcdefghijklmnopqrstuvwxyz",
    ]  # fmt: skip
    out = svc.redact_argv(argv)
    joined = " ".join(out)
    assert "s3cret-value" not in joined and "abc" not in out[3]
    assert "abcdefghijklmnopqrstuvwxyz" not in joined
    assert out[:2] == ["llama-server", "--api-key"] and out[2] == "[REDACTED]"


def test_target_exposure_by_address_scope() -> None:
    assert svc.target_exposure("127.0.0.1") == "loopback"
    assert svc.target_exposure("10.1.2.3") == "lan"
    assert svc.target_exposure("8.8.8.8") == "public"


def test_local_audit_probes_only_this_machines_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the socket table holds, a --loopback-only audit plans loopback targets only;
    a socket bound to one of this machine's LAN addresses is listed, not probed."""
    from aicensus.audit import run as audit_run

    table = [
        svc.Listener("0.0.0.0", 11434, 10),
        svc.Listener("192.168.1.20", 8080, 11),
        svc.Listener("127.0.0.5", 9999, 12),
    ]
    monkeypatch.setattr(svc, "read_listeners", lambda: table)
    monkeypatch.setattr(svc, "interface_addresses", lambda: OWN)
    planned: list[tuple[str, int]] = []

    def fake_scan(plan, **_kw):  # type: ignore[no-untyped-def]
        planned.extend((t.ip, t.port) for t in plan.iterator)

    monkeypatch.setattr(audit_run.scanning, "scan", fake_scan)
    result = audit_run.run_audit(stores=False, loopback_only=True)
    assert planned and all(svc.is_loopback(ip) for ip, _ in planned)
    assert ("127.0.0.1", 11434) in planned and ("127.0.0.5", 9999) in planned
    assert ("192.168.1.20", 8080) not in planned
    assert any("192.168.1.20" in n and "not probed" in n for n in result.notes)
    assert result.probed == len(planned)
