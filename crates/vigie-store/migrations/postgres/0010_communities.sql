-- Communities of organisations (the scope of TLP:GREEN) and where each organisation stands in
-- them. The owner organisation is a member from the start. Append-only: never edit once landed.
CREATE TABLE communities (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    owner_org TEXT NOT NULL REFERENCES orgs(id),
    created_at BIGINT NOT NULL
);

CREATE TABLE community_members (
    community_id TEXT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    state TEXT NOT NULL CHECK (state IN ('invited', 'member', 'left')),
    invited_at BIGINT NOT NULL,
    joined_at BIGINT,
    left_at BIGINT,
    PRIMARY KEY (community_id, org_id)
);
CREATE INDEX community_members_org ON community_members (org_id, state);
