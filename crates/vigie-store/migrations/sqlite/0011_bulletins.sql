-- Threat bulletins (CAP 1.2 fields in `body`, JSON), who they are addressed to (one row per
-- named community, organisation or user: what the reading rule checks) and, per recipient
-- organisation, when each was delivered, read and acknowledged. Append-only: never edit once
-- landed.
CREATE TABLE bulletins (
    id TEXT PRIMARY KEY,
    author_user TEXT NOT NULL REFERENCES users(id),
    author_org TEXT NOT NULL REFERENCES orgs(id),
    marking TEXT NOT NULL CHECK (marking IN ('TLP:CLEAR', 'TLP:GREEN', 'TLP:AMBER', 'TLP:AMBER+STRICT', 'TLP:RED')),
    status TEXT NOT NULL,
    msg_type TEXT NOT NULL,
    references_id TEXT REFERENCES bulletins(id),
    effective INTEGER NOT NULL,
    expires INTEGER,
    created_at INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX bulletins_created ON bulletins (created_at);

CREATE TABLE bulletin_recipients (
    bulletin_id TEXT NOT NULL REFERENCES bulletins(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('community', 'org', 'user')),
    ref TEXT NOT NULL,
    PRIMARY KEY (bulletin_id, kind, ref)
);
CREATE INDEX bulletin_recipients_ref ON bulletin_recipients (kind, ref);

CREATE TABLE bulletin_receipts (
    bulletin_id TEXT NOT NULL REFERENCES bulletins(id) ON DELETE CASCADE,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    delivered_at INTEGER NOT NULL,
    read_at INTEGER,
    acked_at INTEGER,
    PRIMARY KEY (bulletin_id, org_id)
);
-- The inbox: an organisation's receipts not yet acknowledged, newest first.
CREATE INDEX bulletin_receipts_open ON bulletin_receipts (org_id, acked_at, delivered_at);
