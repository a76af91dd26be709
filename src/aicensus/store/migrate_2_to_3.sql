-- Schema 2 → 3: model inventories stored once as model sets (store/sets.py), and the ingest
-- ledger that schema 2 kept beside the core tables. store/schema.py then interns the old
-- per-observation models rows into sets, drops the table and creates the `models` view.

CREATE SEQUENCE IF NOT EXISTS model_set_seq START 1;

ALTER TABLE observations ADD COLUMN model_set BIGINT;

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
    attribution_confidence  DOUBLE    NOT NULL
);

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
    bad           BIGINT    NOT NULL
);
