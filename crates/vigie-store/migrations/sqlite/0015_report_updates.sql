-- When a field report's triage status last changed, and when its reporter's organisation last
-- read it: the reporter's inbox shows the changes it has not seen. Append-only: never edit
-- once landed.
ALTER TABLE field_reports ADD COLUMN status_changed_at INTEGER;
ALTER TABLE field_reports ADD COLUMN reporter_seen_at INTEGER;
CREATE INDEX field_reports_updates ON field_reports (author_org, status_changed_at) WHERE status_changed_at IS NOT NULL;
