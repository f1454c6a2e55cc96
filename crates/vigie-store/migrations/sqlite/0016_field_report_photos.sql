-- Photos of field reports, cleaned of their metadata like assessment photos; the bytes are kept
-- where the assessment photos' are (by their SHA-256). Append-only: never edit once landed.
CREATE TABLE field_report_photos (
    id TEXT PRIMARY KEY,
    report_id TEXT NOT NULL REFERENCES field_reports(id) ON DELETE CASCADE,
    content_type TEXT NOT NULL,
    byte_size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    blob_ref TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX field_report_photos_report ON field_report_photos (report_id, created_at);
