-- Field reports (operator → authority) and who they are addressed to. The place is kept as
-- longitude and latitude, indexed for the sightings window. Append-only: never edit once
-- landed.
CREATE TABLE field_reports (
    id TEXT PRIMARY KEY,
    author_user TEXT NOT NULL REFERENCES users(id),
    author_org TEXT NOT NULL REFERENCES orgs(id),
    kind TEXT NOT NULL,
    observed_at BIGINT NOT NULL,
    lon DOUBLE PRECISION NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    site_id TEXT REFERENCES sites(id) ON DELETE SET NULL,
    text TEXT NOT NULL,
    marking TEXT NOT NULL CHECK (marking IN ('TLP:CLEAR', 'TLP:GREEN', 'TLP:AMBER', 'TLP:AMBER+STRICT', 'TLP:RED')),
    status TEXT NOT NULL CHECK (status IN ('new', 'under_review', 'linked', 'closed')),
    created_at BIGINT NOT NULL
);
CREATE INDEX field_reports_place ON field_reports (lat, lon, observed_at);

CREATE TABLE field_report_recipients (
    report_id TEXT NOT NULL REFERENCES field_reports(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('community', 'org', 'user')),
    ref TEXT NOT NULL,
    PRIMARY KEY (report_id, kind, ref)
);
CREATE INDEX field_report_recipients_ref ON field_report_recipients (kind, ref);
