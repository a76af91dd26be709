-- Schema 1 → 2: scan checkpoints for `aicensus scan --resume` (see docs/store.md).

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
