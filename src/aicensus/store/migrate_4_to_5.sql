-- Schema 4 → 5: the ingest ledger keeps why a source's records were not stored (issue 15):
-- `skipped` is a JSON object, reason → count ("udp services": 3, "non-tcp banners": 1, …);
-- NULL for sources ingested before. Additive only.

ALTER TABLE ingest_sources ADD COLUMN skipped VARCHAR;
