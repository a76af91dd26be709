-- aicensus store schema, version 6 (see docs/store.md).
-- Applied in one transaction when a writable store has no schema_version table.
-- Every timestamp is UTC, stored without a time zone.

CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER   NOT NULL,
    applied_at  TIMESTAMP NOT NULL
);

CREATE SEQUENCE IF NOT EXISTS scan_id_seq START 1;
CREATE SEQUENCE IF NOT EXISTS obs_id_seq START 1;
CREATE SEQUENCE IF NOT EXISTS model_set_seq START 1;

CREATE TABLE IF NOT EXISTS scans (
    scan_id       BIGINT    PRIMARY KEY DEFAULT nextval('scan_id_seq'),
    kind          VARCHAR   NOT NULL CHECK (kind IN ('scan', 'ingest')),
    started_at    TIMESTAMP NOT NULL,
    finished_at   TIMESTAMP,
    args          JSON      NOT NULL,
    tool_version  VARCHAR   NOT NULL,
    status        VARCHAR   NOT NULL,
    counts        JSON
);

CREATE TABLE IF NOT EXISTS observations (
    obs_id            BIGINT    PRIMARY KEY,
    scan_id           BIGINT    NOT NULL,
    ip                VARCHAR   NOT NULL,
    port              INTEGER   NOT NULL,
    scheme            VARCHAR,
    status            VARCHAR   NOT NULL,
    product           VARCHAR,
    version           VARCHAR,
    confidence        DOUBLE    NOT NULL,
    auth              VARCHAR   NOT NULL,
    observed_at       TIMESTAMP,
    observed_at_text  VARCHAR   NOT NULL,
    hostname          VARCHAR,
    tls               JSON,
    evidence          JSON      NOT NULL,
    auth_evidence     JSON      NOT NULL,
    error             VARCHAR,
    source            VARCHAR   NOT NULL,
    model_set         BIGINT    -- model_sets.set_id; NULL when it listed no models
);

-- An MCP server's inventory (records.McpInventory as JSON), for the observations with one.
CREATE TABLE IF NOT EXISTS mcp_inventories (
    obs_id     BIGINT  PRIMARY KEY,
    inventory  JSON    NOT NULL
);

-- Each distinct model inventory once (store/sets.py): set_key is the SHA-256 of its
-- canonical JSON, so observations that listed the same models share one set.
CREATE TABLE IF NOT EXISTS model_sets (
    set_id     BIGINT   PRIMARY KEY,
    set_key    VARCHAR  NOT NULL UNIQUE,
    n_models   INTEGER  NOT NULL,
    n_running  INTEGER  NOT NULL
);

CREATE TABLE IF NOT EXISTS set_models (
    set_id                  BIGINT    NOT NULL,
    seq                     INTEGER   NOT NULL,
    name                    VARCHAR   NOT NULL,
    digest                  VARCHAR,
    size_bytes              BIGINT,
    format                  VARCHAR,
    family                  VARCHAR,
    families                VARCHAR[] NOT NULL,
    parameter_size          VARCHAR,
    parameter_count         BIGINT,
    quantization            VARCHAR,
    context_length          BIGINT,
    running                 BOOLEAN   NOT NULL,
    vram_bytes              BIGINT,
    capabilities            VARCHAR[] NOT NULL,
    chat_template_sha256    VARCHAR,
    chat_template_length    BIGINT,
    chat_template_head      VARCHAR,
    system_prompt_sha256    VARCHAR,
    system_prompt_length    BIGINT,
    system_prompt_head      VARCHAR,
    licence_name            VARCHAR,
    architecture            VARCHAR,
    remote                  BOOLEAN   NOT NULL,
    developer               VARCHAR,
    country                 VARCHAR,
    licence                 VARCHAR,
    base_present            BOOLEAN   NOT NULL,
    base_developer          VARCHAR,
    base_country            VARCHAR,
    base_family             VARCHAR,
    guardrails_removed      BOOLEAN   NOT NULL,
    attribution_confidence  DOUBLE    NOT NULL,
    matched_by              VARCHAR   -- name | family | ...: what the attribution rests on
);

CREATE TABLE IF NOT EXISTS request_log (
    obs_id  BIGINT   NOT NULL,
    seq     INTEGER  NOT NULL,
    method  VARCHAR  NOT NULL,
    path    VARCHAR  NOT NULL,
    status  INTEGER,
    bytes   BIGINT   NOT NULL,
    ms      DOUBLE   NOT NULL,
    error   VARCHAR
);

-- Progress of a scan through its deterministic plan, for `aicensus scan --resume`.
-- Rewritten in the same transaction as each batch of observations it accounts for.
CREATE TABLE IF NOT EXISTS scan_progress (
    scan_id     BIGINT    NOT NULL,
    plan_size   BIGINT    NOT NULL,
    done_below  BIGINT    NOT NULL,
    done_above  BIGINT[]  NOT NULL,
    resumes     INTEGER   NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

-- One row per ingested source file (or Parquet dataset file), keyed by its content hash:
-- ingesting the same bytes again is a no-op.
CREATE TABLE IF NOT EXISTS ingest_sources (
    sha256        VARCHAR   PRIMARY KEY,
    format        VARCHAR   NOT NULL,
    path          VARCHAR   NOT NULL,
    size_bytes    BIGINT,
    scan_id       BIGINT,
    ingested_at   TIMESTAMP NOT NULL,
    records       BIGINT    NOT NULL,
    observations  BIGINT    NOT NULL,
    duplicates    BIGINT    NOT NULL,
    bad           BIGINT    NOT NULL,
    skipped       VARCHAR   -- JSON {reason: count}: records read but not stored, and why
);

-- The view `models` (obs_id, seq and every model column: one row per model an observation
-- listed, the table of schema versions 1 and 2) is created after this file by store/schema.py.
