-- An action's owner may be a user of the organisation (free text stays for outsiders), who then
-- sees it among "my actions". Append-only: never edit once landed.
ALTER TABLE actions ADD COLUMN owner_user_id TEXT REFERENCES users(id);
CREATE INDEX actions_owner_user ON actions (owner_user_id) WHERE owner_user_id IS NOT NULL;
