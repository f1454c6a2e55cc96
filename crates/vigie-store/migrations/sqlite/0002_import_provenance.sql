-- The version a re-import last wrote. A site whose version moved past it was edited by a
-- person since, and a re-import leaves it alone.
ALTER TABLE sites ADD COLUMN imported_version INTEGER;
UPDATE sites SET imported_version = version WHERE source_ref IS NOT NULL;
