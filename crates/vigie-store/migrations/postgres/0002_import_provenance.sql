-- The version a re-import last wrote. A site whose version moved past it was edited by a
-- person since, and a re-import leaves it alone.
ALTER TABLE sites ADD COLUMN imported_version BIGINT;
UPDATE sites SET imported_version = version WHERE source_ref IS NOT NULL;
-- Row triggers do not fire on TRUNCATE: refuse it too.
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
