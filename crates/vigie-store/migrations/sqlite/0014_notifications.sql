-- Notifications out: organisations' webhooks, and the outbox of e-mails and webhook calls that
-- a bulletin queues in its own transaction, each attempt recorded. Append-only: never edit
-- once landed.
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    url TEXT NOT NULL,
    -- The HMAC-SHA256 key the receiver checks signatures with (shown once to its creator).
    secret TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    disabled_at INTEGER
);
CREATE INDEX webhooks_org ON webhooks (org_id) WHERE disabled_at IS NULL;

CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    channel TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
    -- An e-mail address, or a webhook's id.
    target TEXT NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    bulletin_id TEXT REFERENCES bulletins(id),
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    delivered_at INTEGER
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_bulletin ON outbox (bulletin_id);

CREATE TABLE outbox_attempts (
    outbox_id TEXT NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    at INTEGER NOT NULL,
    ok BOOLEAN NOT NULL,
    detail TEXT,
    PRIMARY KEY (outbox_id, attempt)
);
