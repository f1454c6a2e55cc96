-- An authority's cases: field reports it links together as one matter. A case is the
-- authority's own working object, read by its organisation only. Append-only: never edit once
-- landed.
CREATE TABLE cases (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    title TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX cases_org ON cases (org_id, created_at);

CREATE TABLE case_reports (
    case_id TEXT NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    report_id TEXT NOT NULL REFERENCES field_reports(id) ON DELETE CASCADE,
    linked_at BIGINT NOT NULL,
    linked_by TEXT NOT NULL,
    PRIMARY KEY (case_id, report_id)
);
CREATE INDEX case_reports_report ON case_reports (report_id);
