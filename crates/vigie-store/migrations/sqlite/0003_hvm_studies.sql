-- Hostile-vehicle studies of a site: the impact speeds at each access point, as computed.
CREATE TABLE hvm_studies (
    id TEXT PRIMARY KEY,
    site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    vehicles_version TEXT NOT NULL,
    network TEXT NOT NULL,
    result TEXT NOT NULL
);
CREATE INDEX hvm_studies_site ON hvm_studies (site_id, created_at);
