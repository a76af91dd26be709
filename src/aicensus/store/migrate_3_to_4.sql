-- Schema 3 → 4: an MCP server's inventory (tools, resources, prompts with risk flags;
-- records.McpInventory as JSON), one row per observation that has one. Additive only.

CREATE TABLE IF NOT EXISTS mcp_inventories (
    obs_id     BIGINT  PRIMARY KEY,
    inventory  JSON    NOT NULL
);
