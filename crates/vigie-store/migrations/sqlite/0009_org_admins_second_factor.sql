-- An organisation's own administrator (manages its users), and an optional second factor:
-- a TOTP secret per user (RFC 6238), the last time step used (a code works once), and an
-- organisation's rule that every user must have one. Append-only: never edit once landed.
ALTER TABLE users ADD COLUMN manages_org BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_last_step INTEGER;
ALTER TABLE orgs ADD COLUMN second_factor_required BOOLEAN NOT NULL DEFAULT 0;
