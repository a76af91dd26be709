-- aicensus longitudinal tables (docs/measurement.md). Created with IF NOT EXISTS by
-- aicensus.store.longitudinal on every writable ingest; to be folded into a schema migration.

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
    bad           BIGINT    NOT NULL
);
