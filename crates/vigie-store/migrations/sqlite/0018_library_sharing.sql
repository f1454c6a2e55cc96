-- The library under the one TLP rule (`vigie_domain::sharing::may_read`), like bulletins and
-- field reports: a document has an author (the user who first added it; `cli` for the
-- command line) and recipients: communities for TLP:GREEN, organisations for TLP:AMBER,
-- named people for TLP:RED. Append-only: never edit once landed.
ALTER TABLE library_documents ADD COLUMN author_id TEXT NOT NULL DEFAULT '';
UPDATE library_documents SET author_id = COALESCE(
    (SELECT v.created_by FROM library_versions v WHERE v.document_id = library_documents.id AND v.version = 1), '');

CREATE TABLE library_document_recipients (
    document_id TEXT NOT NULL REFERENCES library_documents(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('community', 'org', 'user')),
    ref TEXT NOT NULL,
    PRIMARY KEY (document_id, kind, ref)
);
CREATE INDEX library_document_recipients_ref ON library_document_recipients (kind, ref);

-- Documents marked before the rule keep the readers they had where the rule can say so:
-- a GREEN document (then readable by everyone signed in) goes to the communities its
-- organisation is a member of; a RED document (then readable by its organisation) names the
-- people of its organisation.
INSERT INTO library_document_recipients (document_id, kind, ref)
    SELECT d.id, 'community', m.community_id FROM library_documents d
    JOIN community_members m ON m.org_id = d.org_id AND m.state = 'member'
    WHERE d.marking = 'TLP:GREEN';
INSERT INTO library_document_recipients (document_id, kind, ref)
    SELECT d.id, 'user', u.id FROM library_documents d JOIN users u ON u.org_id = d.org_id
    WHERE d.marking = 'TLP:RED';
