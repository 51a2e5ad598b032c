-- FHIR bulk exports ($export): one row per request, its NDJSON files
-- beside it, so any process can answer the status and serve the files.
CREATE TABLE fhir_exports (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    -- The kick-off's URL, as the manifest repeats it.
    request         TEXT NOT NULL,
    -- running, done or failed.
    status          TEXT NOT NULL,
    error           TEXT,
    requested_at    INTEGER NOT NULL,
    finished_at     INTEGER
) STRICT;
CREATE TABLE fhir_export_files (
    export_id     TEXT NOT NULL REFERENCES fhir_exports(id) ON DELETE CASCADE,
    resource_type TEXT NOT NULL,
    count         INTEGER NOT NULL,
    ndjson        TEXT NOT NULL,
    PRIMARY KEY (export_id, resource_type)
) STRICT;
