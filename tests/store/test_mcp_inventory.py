"""An MCP inventory survives the store: written with its observation, read back whole."""

from __future__ import annotations

from pathlib import Path

import msgspec

from aicensus.enumerate.dialects.mcp import tool_from_entry
from aicensus.records import (
    AuthState,
    McpInventory,
    McpPrompt,
    McpResource,
    ScanStatus,
    ServiceObservation,
)
from aicensus.store import Store


def test_mcp_inventory_round_trips(tmp_path: Path) -> None:
    tool = tool_from_entry({"name": "run_shell", "inputSchema": {"properties": {"command": {}}}})
    assert tool is not None and tool.risks == ["exec"]
    inv = McpInventory(endpoint="/mcp", transport="streamable-http", server_name="s",
                       server_version="1.2", tools=[tool],
                       resources=[McpResource(uri="notes://a", name="a")],
                       prompts=[McpPrompt(name="p", arguments=["x"])])  # fmt: skip
    with_mcp = ServiceObservation(ip="127.0.0.1", port=8000, scheme="http",
                                  status=ScanStatus.IDENTIFIED, product="mcp",
                                  auth=AuthState.OPEN, observed_at="2026-12-05T00:00:00Z",
                                  mcp=inv)  # fmt: skip
    without = msgspec.structs.replace(with_mcp, port=8001, mcp=None)
    with Store.open(tmp_path / "s.duckdb") as store:
        scan_id = store.begin_scan("scan", {})
        store.add_observations(scan_id, [with_mcp, without])
        back = {o.port: o for o in store.observations(scan_id)}
    assert back[8000].mcp == inv and back[8001].mcp is None
