//! The library part of the [`crate::Store`]: documents, their versions and passages.
//! The SQL is shared by both backends like `sql.rs`, implemented once for every [`Backend`] with
//! the helpers of `sql.rs` (`Sql::audit`, …).
//!
//! The search index is derived from these tables. Every change bumps one generation counter
//! (in the ingest's transaction) and stamps the changed document with it, so an index that
//! knows which generation it holds can catch up with [`LibraryStore::library_changes`].
use serde::Serialize;
use sqlx::{ColumnIndex, Database, Encode, Executor, IntoArguments, Row as _, Type};
use vigie_domain::library::{Document, DocumentVersion, Marking, ParsedDocument, Passage};
use vigie_domain::{DocumentId, PassageId, UserId};

use crate::recipients::{self, Addressed};
use crate::sql::{Backend, Sql, Value, corrupt};
use crate::{Result, StoreError, WriteContext};

/// What an ingest did to the library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IngestStatus {
    Created,
    /// A new version: the content or the metadata changed; older passages are superseded.
    Updated,
    /// Same bytes and metadata as the current version: nothing was written but the audit entry.
    Unchanged,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LibraryIngest {
    pub document_id: DocumentId,
    pub version: i64,
    pub status: IngestStatus,
    pub passages: usize,
    /// The library generation after this ingest.
    pub generation: i64,
}

/// A document as stored: its metadata and current version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredDocument {
    #[serde(flatten)]
    pub document: Document,
    /// Who first added it (a user id, or `cli`): the author the TLP rule names.
    pub author_id: UserId,
    pub version: i64,
    #[serde(skip)]
    pub content: DocumentVersion,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// Documents changed after a generation, with their current passages.
#[derive(Debug, Clone, PartialEq)]
pub struct LibraryChanges {
    /// The generation these changes bring the reader to.
    pub generation: i64,
    pub documents: Vec<ParsedDocument>,
}

#[async_trait::async_trait]
pub trait LibraryStore: Send + Sync {
    /// Stores a parsed document in one transaction with its audit entry: a new document, a new
    /// version of it (when its bytes or metadata changed), or nothing (`Unchanged`).
    /// `Conflict` when the id belongs to another organisation's document.
    async fn ingest_document(&self, ctx: &crate::WriteContext, parsed: &ParsedDocument)
    -> crate::Result<LibraryIngest>;
    async fn library_document(&self, id: &DocumentId) -> crate::Result<Option<StoredDocument>>;
    /// Every document, by title; the shells filter by what the caller may read.
    async fn list_library_documents(&self) -> crate::Result<Vec<StoredDocument>>;
    /// The passages of a document's current version, in order.
    async fn library_passages(&self, document_id: &DocumentId) -> crate::Result<Vec<Passage>>;
    /// A passage of a current version (superseded ones are not found).
    async fn library_passage(&self, passage_id: &PassageId) -> crate::Result<Option<Passage>>;
    async fn library_generation(&self) -> crate::Result<i64>;
    /// Documents changed after `since` (0: all), read in one snapshot with the generation.
    async fn library_changes(&self, since: i64) -> crate::Result<LibraryChanges>;
}

/// A serde enum's snake_case key (`Format`, `PassageKind`, `Lang`).
fn key<T: Serialize>(value: &T) -> crate::Result<String> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        other => Err(corrupt("library key", format!("{other:?}"))),
    }
}

fn from_key<T: serde::de::DeserializeOwned>(what: &str, key: String) -> crate::Result<T> {
    serde_json::from_value(serde_json::Value::String(key)).map_err(|e| corrupt(what, e))
}

fn from_json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> crate::Result<T> {
    serde_json::from_str(text).map_err(|e| corrupt(what, e))
}

fn to_json<T: Serialize>(what: &str, value: &T) -> crate::Result<String> {
    serde_json::to_string(value).map_err(|e| corrupt(what, e))
}

/// Does the stored document already say what `parsed` says?
fn same(stored: &StoredDocument, parsed: &ParsedDocument) -> bool {
    stored.document == parsed.document && stored.content.content_hash == parsed.version.content_hash
}

const DOCUMENT_COLUMNS: &str = "id, org_id, author_id, title, language, source, doc_date, tags, marking, version, content_hash, format, filename, char_count, signature, created_at, updated_at";

const CURRENT_PASSAGES: &str = "SELECT p.id, p.document_id, p.ordinal, p.heading_path, p.kind, p.text FROM library_passages p JOIN library_documents d ON d.id = p.document_id AND d.version = p.version";

impl<DB> Sql<DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'n> &'n str: ColumnIndex<DB::Row> + Encode<'n, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
    String: Value<DB>,
    i64: Value<DB>,
    f64: Value<DB>,
    bool: Value<DB>,
    Option<String>: Value<DB>,
    Option<i64>: Value<DB>,
{
    fn stored_document_from_row(row: &DB::Row) -> Result<StoredDocument> {
        let date: Option<String> = row.try_get("doc_date")?;
        let id = DocumentId::new(row.try_get::<String, _>("id")?);
        let document = Document {
            id: id.clone(),
            org_id: row.try_get::<String, _>("org_id")?.into(),
            title: row.try_get("title")?,
            language: from_key("document language", row.try_get("language")?)?,
            source: row.try_get("source")?,
            date: date
                .map(|d| vigie_domain::library::parse_date(&d).ok_or(d))
                .transpose()
                .map_err(|d| corrupt("document date", d))?,
            tags: from_json("document tags", &row.try_get::<String, _>("tags")?)?,
            marking: vigie_domain::library::Marking::parse(&row.try_get::<String, _>("marking")?)
                .map_err(|e| corrupt("document marking", e))?,
            // Filled in by `recipients::attach`, from their own table.
            recipients: vigie_domain::sharing::Recipients::default(),
        };
        let content = DocumentVersion {
            document_id: id,
            content_hash: row.try_get("content_hash")?,
            format: from_key("document format", row.try_get("format")?)?,
            filename: row.try_get("filename")?,
            char_count: usize::try_from(row.try_get::<i64, _>("char_count")?)
                .map_err(|e| corrupt("document size", e))?,
            signature: from_json("document signature", &row.try_get::<String, _>("signature")?)?,
        };
        Ok(StoredDocument {
            document,
            author_id: row.try_get::<String, _>("author_id")?.into(),
            version: row.try_get("version")?,
            content,
            created_at_ms: row.try_get("created_at")?,
            updated_at_ms: row.try_get("updated_at")?,
        })
    }

    fn passage_from_row(row: &DB::Row) -> Result<Passage> {
        Ok(Passage {
            id: row.try_get::<String, _>("id")?.into(),
            document_id: row.try_get::<String, _>("document_id")?.into(),
            ordinal: u32::try_from(row.try_get::<i64, _>("ordinal")?).map_err(|e| corrupt("passage ordinal", e))?,
            heading_path: from_json("passage headings", &row.try_get::<String, _>("heading_path")?)?,
            kind: from_key("passage kind", row.try_get("kind")?)?,
            text: row.try_get("text")?,
        })
    }
}

#[async_trait::async_trait]
impl<B, DB> LibraryStore for B
where
    B: Backend<Db = DB>,
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'n> &'n str: ColumnIndex<DB::Row> + Encode<'n, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
    String: Value<DB>,
    i64: Value<DB>,
    f64: Value<DB>,
    bool: Value<DB>,
    Option<String>: Value<DB>,
    Option<i64>: Value<DB>,
{
    #[tracing::instrument(skip_all)]
    async fn ingest_document(&self, ctx: &WriteContext, parsed: &ParsedDocument) -> Result<LibraryIngest> {
        let doc = &parsed.document;
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(&format!("SELECT {DOCUMENT_COLUMNS} FROM library_documents WHERE id = $1"))
            .bind(doc.id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let mut stored = row.as_ref().map(Sql::<DB>::stored_document_from_row).transpose()?;
        if let Some(stored) = &mut stored {
            let (table, id_column) = <StoredDocument as Addressed>::TABLE;
            let mut found = recipients::load::<DB>(&mut tx, table, id_column, &[doc.id.as_str()], None).await?;
            stored.document.recipients = found.remove(doc.id.as_str()).unwrap_or_default();
        }
        if stored.as_ref().is_some_and(|s| s.document.org_id != doc.org_id) {
            return Err(StoreError::Conflict(format!(
                "the document id '{}' is taken by another organisation's document",
                doc.id
            )));
        }
        let generation: i64 =
            sqlx::query_scalar("SELECT generation FROM library_state WHERE id = 1").fetch_one(&mut *tx).await?;
        let (status, version, generation) = match &stored {
            Some(s) if same(s, parsed) => (IngestStatus::Unchanged, s.version, generation),
            _ => {
                let version = stored.as_ref().map_or(1, |s| s.version + 1);
                let generation = generation + 1;
                let v = &parsed.version;
                let columns = (
                    key(&doc.language)?,
                    doc.date.map(vigie_domain::library::format_date),
                    to_json("document tags", &doc.tags)?,
                    key(&v.format)?,
                    i64::try_from(v.char_count).map_err(|e| corrupt("document size", e))?,
                    to_json("document signature", &v.signature)?,
                );
                let (language, date, tags, format, chars, signature) = columns;
                let sql = if stored.is_some() {
                    "UPDATE library_documents SET org_id = $2, title = $3, language = $4, source = $5, doc_date = $6, tags = $7, marking = $8, version = $9, content_hash = $10, format = $11, filename = $12, char_count = $13, signature = $14, generation = $15, updated_at = $16 WHERE id = $1"
                } else {
                    "INSERT INTO library_documents (id, org_id, title, language, source, doc_date, tags, marking, version, content_hash, format, filename, char_count, signature, generation, updated_at, created_at, author_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16, $17)"
                };
                sqlx::query(sql)
                    .bind(doc.id.as_str())
                    .bind(doc.org_id.as_str())
                    .bind(&doc.title)
                    .bind(&language)
                    .bind(&doc.source)
                    .bind(&date)
                    .bind(&tags)
                    .bind(doc.marking.label())
                    .bind(version)
                    .bind(&v.content_hash)
                    .bind(&format)
                    .bind(&v.filename)
                    .bind(chars)
                    .bind(&signature)
                    .bind(generation)
                    .bind(ctx.at_ms)
                    .bind(&ctx.actor)
                    .execute(&mut *tx)
                    .await?;
                let (table, id_column) = <StoredDocument as Addressed>::TABLE;
                recipients::replace(&mut tx, table, id_column, doc.id.as_str(), &doc.recipients).await?;
                sqlx::query("INSERT INTO library_versions (document_id, version, content_hash, metadata, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(doc.id.as_str())
                    .bind(version)
                    .bind(&v.content_hash)
                    .bind(to_json("document metadata", doc)?)
                    .bind(ctx.at_ms)
                    .bind(&ctx.actor)
                    .execute(&mut *tx)
                    .await?;
                for p in &parsed.passages {
                    sqlx::query("INSERT INTO library_passages (document_id, version, ordinal, id, heading_path, kind, text) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                        .bind(doc.id.as_str())
                        .bind(version)
                        .bind(i64::from(p.ordinal))
                        .bind(p.id.as_str())
                        .bind(to_json("passage headings", &p.heading_path)?)
                        .bind(key(&p.kind)?)
                        .bind(&p.text)
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query("UPDATE library_state SET generation = $1 WHERE id = 1")
                    .bind(generation)
                    .execute(&mut *tx)
                    .await?;
                (if stored.is_some() { IngestStatus::Updated } else { IngestStatus::Created }, version, generation)
            }
        };
        // A changed marking is said, and a lowered one flagged: it widens who reads.
        let previous_marking = stored.as_ref().map(|s| s.document.marking).filter(|m| *m != doc.marking);
        // Metadata only: a TLP:RED document's text never reaches the audit log.
        let details = serde_json::json!({
            "previous_marking": previous_marking.map(Marking::label), "lowered": previous_marking.is_some_and(|m| m > doc.marking),
            "org_id": doc.org_id, "title": doc.title, "marking": doc.marking.label(), "recipients": doc.recipients, "version": version,
            "status": status, "content_hash": parsed.version.content_hash, "filename": parsed.version.filename, "passages": parsed.passages.len(),
        });
        Sql::<DB>::audit(&mut tx, ctx, "library.ingest", "library_document", Some(&doc.id), details).await?;
        tx.commit().await?;
        Ok(LibraryIngest { document_id: doc.id.clone(), version, status, passages: parsed.passages.len(), generation })
    }

    async fn library_document(&self, id: &DocumentId) -> Result<Option<StoredDocument>> {
        let row = sqlx::query(&format!("SELECT {DOCUMENT_COLUMNS} FROM library_documents WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(self.pool())
            .await?;
        let mut found: Vec<StoredDocument> =
            row.as_ref().map(Sql::<DB>::stored_document_from_row).transpose()?.into_iter().collect();
        recipients::attach(self, &mut found).await?;
        Ok(found.pop())
    }

    async fn list_library_documents(&self) -> Result<Vec<StoredDocument>> {
        let rows = sqlx::query(&format!("SELECT {DOCUMENT_COLUMNS} FROM library_documents ORDER BY title, id"))
            .fetch_all(self.pool())
            .await?;
        let mut found = rows.iter().map(Sql::<DB>::stored_document_from_row).collect::<Result<Vec<_>>>()?;
        recipients::attach(self, &mut found).await?;
        Ok(found)
    }

    async fn library_passages(&self, document_id: &DocumentId) -> Result<Vec<Passage>> {
        let rows = sqlx::query(&format!("{CURRENT_PASSAGES} WHERE p.document_id = $1 ORDER BY p.ordinal"))
            .bind(document_id.as_str())
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(Sql::<DB>::passage_from_row).collect()
    }

    async fn library_passage(&self, passage_id: &PassageId) -> Result<Option<Passage>> {
        let row = sqlx::query(&format!("{CURRENT_PASSAGES} WHERE p.id = $1"))
            .bind(passage_id.as_str())
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(Sql::<DB>::passage_from_row).transpose()
    }

    async fn library_generation(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT generation FROM library_state WHERE id = 1").fetch_one(self.pool()).await?)
    }

    #[tracing::instrument(skip_all)]
    async fn library_changes(&self, since: i64) -> Result<LibraryChanges> {
        // One transaction: the generation and the documents come from the same snapshot.
        let mut tx = self.pool().begin().await?;
        let generation: i64 =
            sqlx::query_scalar("SELECT generation FROM library_state WHERE id = 1").fetch_one(&mut *tx).await?;
        let rows =
            sqlx::query(&format!("SELECT {DOCUMENT_COLUMNS} FROM library_documents WHERE generation > $1 ORDER BY id"))
                .bind(since)
                .fetch_all(&mut *tx)
                .await?;
        let passages =
            sqlx::query(&format!("{CURRENT_PASSAGES} WHERE d.generation > $1 ORDER BY p.document_id, p.ordinal"))
                .bind(since)
                .fetch_all(&mut *tx)
                .await?;
        tx.commit().await?;
        let mut by_document: std::collections::HashMap<DocumentId, Vec<Passage>> = std::collections::HashMap::new();
        for row in &passages {
            let p = Sql::<DB>::passage_from_row(row)?;
            by_document.entry(p.document_id.clone()).or_default().push(p);
        }
        let mut stored = rows.iter().map(Sql::<DB>::stored_document_from_row).collect::<Result<Vec<_>>>()?;
        recipients::attach(self, &mut stored).await?;
        let documents = stored
            .into_iter()
            .map(|stored| {
                let passages = by_document.remove(&stored.document.id).unwrap_or_default();
                ParsedDocument { document: stored.document, version: stored.content, passages }
            })
            .collect();
        Ok(LibraryChanges { generation, documents })
    }
}
