"""The read-only guard's MCP rule, and the risk rules, without a server."""

from __future__ import annotations

import pytest

from aicensus.engine import readonly
from aicensus.enumerate.dialects.mcp import classify, initialize, listing_requests
from aicensus.errors import ReadOnlyViolation
from aicensus.records import ProbeRequest


def _rpc(method: str, product: str | None = "mcp", **extra: object) -> ProbeRequest:
    body: dict[str, object] = {"jsonrpc": "2.0", "id": 1, "method": method, **extra}
    return ProbeRequest(method="POST", path="/mcp", json_body=body, for_product=product)


@pytest.mark.parametrize("method", sorted(readonly.MCP_LISTING_METHODS))
def test_listing_calls_pass_only_for_an_identified_mcp_service(method: str) -> None:
    readonly.check(_rpc(method))
    for product in (None, "ollama"):
        with pytest.raises(ReadOnlyViolation, match="identified as MCP"):
            readonly.check(_rpc(method, product))


@pytest.mark.parametrize(
    "method", ["tools/call", "resources/read", "prompts/get", "logging/setLevel", "ping", None]
)
def test_every_other_jsonrpc_method_is_refused_even_for_mcp(method: str | None) -> None:
    with pytest.raises(ReadOnlyViolation, match="not an MCP listing call"):
        readonly.check(_rpc(method))  # type: ignore[arg-type]


def test_a_listing_call_smuggling_arguments_is_refused() -> None:
    with pytest.raises(ReadOnlyViolation, match="unexpected params"):
        readonly.check(_rpc("tools/list", params={"name": "run_shell", "arguments": {}}))
    with pytest.raises(ReadOnlyViolation, match="plain JSON-RPC"):
        readonly.check(_rpc("tools/list", extra_field=1))


def test_the_dialects_own_requests_pass_the_guard_once_stamped() -> None:
    import msgspec

    for probe in [initialize("/"), *listing_requests("/mcp", (("Mcp-Session-Id", "x"),))]:
        with pytest.raises(ReadOnlyViolation):
            readonly.check(probe)  # unstamped: not yet identified
        readonly.check(msgspec.structs.replace(probe, for_product="mcp"))


@pytest.mark.parametrize(
    ("name", "description", "params", "risks"),
    [
        ("runShellCommand", "", ["cmd"], ["exec"]),
        ("execute", "Execute arbitrary code in a sandbox", ["code"], ["exec"]),
        ("delete_file", "", ["path"], ["file-write"]),
        ("read_file", "Read a file", ["path"], []),
        ("browser_navigate", "", ["url"], ["fetch"]),
        ("send_email", "Send mail using the SMTP password", ["to", "password"], ["credentials"]),
        ("add", "Add two numbers", ["a", "b"], []),
        ("create_issue", "Create a GitHub issue", ["title", "body"], []),
        ("get_weather", "Weather for a city", ["city"], []),
    ],
)
def test_risk_rules(name: str, description: str, params: list[str], risks: list[str]) -> None:
    assert classify(name, description, params)[0] == risks
