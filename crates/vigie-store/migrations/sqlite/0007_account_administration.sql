-- Account administration: disabling a user, and one-time links (an invitation or a password
-- reset) whose secret is stored only as its SHA-256. Append-only: never edit once landed.
ALTER TABLE users ADD COLUMN disabled_at INTEGER;

CREATE TABLE account_links (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('invite', 'reset')),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX account_links_user ON account_links (user_id);
