-- Threat levels an authority sets for its jurisdiction or a polygon of it, and the checklist
-- actions a level change creates in the sites' action plans. Append-only: never edit once
-- landed.
CREATE TABLE threat_levels (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    set_by TEXT NOT NULL REFERENCES users(id),
    level BIGINT NOT NULL CHECK (level BETWEEN 1 AND 5),
    -- GeoJSON Polygon or MultiPolygon; NULL for the whole jurisdiction.
    area TEXT,
    reason TEXT NOT NULL,
    effective_at BIGINT NOT NULL,
    bulletin_id TEXT REFERENCES bulletins(id),
    created_at BIGINT NOT NULL
);
CREATE INDEX threat_levels_org ON threat_levels (org_id, effective_at);

ALTER TABLE actions ADD COLUMN threat_level_id TEXT REFERENCES threat_levels(id);
CREATE INDEX actions_threat_level ON actions (org_id, site_id) WHERE threat_level_id IS NOT NULL;
