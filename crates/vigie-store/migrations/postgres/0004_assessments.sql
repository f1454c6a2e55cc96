-- On-site vulnerability assessments, their answers, photos and action plans.
-- The site context (category, occupancy, area, visibility) is copied at creation so that a
-- score can be recomputed as it was, with the methodology version the assessment pins.
CREATE TABLE assessments (
    id TEXT PRIMARY KEY,
    site_id TEXT NOT NULL REFERENCES sites(id),
    org_id TEXT NOT NULL REFERENCES orgs(id),
    methodology_version TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'submitted', 'validated', 'archived')),
    threat_level BIGINT NOT NULL,
    category TEXT NOT NULL,
    occupancy BIGINT NOT NULL,
    area_m2 DOUBLE PRECISION NOT NULL,
    visibility BIGINT,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    submitted_at BIGINT,
    submitted_by TEXT,
    validated_at BIGINT,
    validated_by TEXT,
    archived_at BIGINT,
    due_at BIGINT,
    -- Scores at validation (JSON) and the protective measures index, for dashboards and peers.
    summary TEXT,
    protective_measures_index BIGINT
);
CREATE INDEX assessments_site ON assessments (site_id, created_at);
CREATE INDEX assessments_peers ON assessments (category, status);
CREATE INDEX assessments_org ON assessments (org_id, status);

CREATE TABLE assessment_answers (
    assessment_id TEXT NOT NULL REFERENCES assessments(id),
    question_id TEXT NOT NULL,
    answer TEXT NOT NULL,
    note TEXT,
    observed_at BIGINT,
    gps TEXT,
    version BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (assessment_id, question_id)
);

-- Photo bytes live outside the rows: PostgreSQL large objects (blob_ref is the oid).
CREATE TABLE assessment_photos (
    id TEXT PRIMARY KEY,
    assessment_id TEXT NOT NULL REFERENCES assessments(id),
    question_id TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    blob_ref TEXT NOT NULL,
    location_kept BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX assessment_photos_assessment ON assessment_photos (assessment_id, question_id);

CREATE TABLE actions (
    id TEXT PRIMARY KEY,
    assessment_id TEXT NOT NULL REFERENCES assessments(id),
    site_id TEXT NOT NULL REFERENCES sites(id),
    org_id TEXT NOT NULL REFERENCES orgs(id),
    title TEXT NOT NULL,
    owner TEXT,
    due_date TEXT,
    status TEXT NOT NULL CHECK (status IN ('open', 'in_progress', 'done', 'cancelled')),
    evidence TEXT,
    question_id TEXT,
    scenario_id TEXT,
    measure_id TEXT,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);
CREATE INDEX actions_assessment ON actions (assessment_id, created_at);
CREATE INDEX actions_org ON actions (org_id, status, due_date);
