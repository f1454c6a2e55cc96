-- The guidance library: documents, their versions, the passages of each version, and a
-- generation counter that the search index compares with its own to know it is stale.
CREATE TABLE library_documents (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    title TEXT NOT NULL,
    language TEXT NOT NULL,
    source TEXT,
    doc_date TEXT,
    tags TEXT NOT NULL,
    marking TEXT NOT NULL,
    version INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    format TEXT NOT NULL,
    filename TEXT NOT NULL,
    char_count INTEGER NOT NULL,
    signature TEXT NOT NULL,
    generation INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX library_documents_org ON library_documents (org_id);
CREATE INDEX library_documents_generation ON library_documents (generation);

CREATE TABLE library_versions (
    document_id TEXT NOT NULL REFERENCES library_documents(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    metadata TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    PRIMARY KEY (document_id, version)
);

-- Passages of every version; those of older versions are superseded, kept for the record.
CREATE TABLE library_passages (
    document_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    ordinal INTEGER NOT NULL,
    id TEXT NOT NULL,
    heading_path TEXT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (document_id, version, ordinal),
    FOREIGN KEY (document_id, version) REFERENCES library_versions(document_id, version) ON DELETE CASCADE
);
CREATE INDEX library_passages_id ON library_passages (id);

CREATE TABLE library_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
INSERT INTO library_state (id, generation) VALUES (1, 0);
