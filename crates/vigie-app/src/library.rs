//! The guidance library. Search, documents, passages, near-duplicates,
//! uploads, and the passages related to a methodology question.
//!
//! Access rule: the one TLP rule of bulletins and field reports,
//! [`vigie_domain::sharing::may_read`], document by document: TLP:CLEAR for everyone signed
//! in, GREEN for the named communities, AMBER and AMBER+STRICT for the named organisations,
//! RED for the named people, each besides the owning organisation (not under RED) and the
//! author, whatever their role (administrators included: a marking limits recipients, not
//! functions). The search index only applies the resulting set of documents. Hidden
//! documents are neither returned nor counted, and a hidden document or passage answers 404
//! like a missing one.
//!
//! The index is derived from the store: before answering, the handlers compare the store's
//! library generation with the index's and add what changed (ingests from the CLI or
//! another server process included).
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use serde_json::{Value, json};
use vigie_domain::access::{Principal, Role};
use vigie_domain::sharing::{Reader, Recipients, Shared, may_read};
use vigie_domain::{DocumentId, OrgId, PassageId, UserId};
use vigie_search::{Access, IngestOptions, Lang, Marking, SearchError, SearchQuery, SharedLibrary};
use vigie_store::{Store, StoredDocument};

use crate::{App, Code, Failure, Result, blocking};

/// Largest document accepted by upload (the raw file; the API carries it in base64).
pub const MAX_DOCUMENT_BYTES: usize = 20 * 1024 * 1024;

/// The library as one reader sees it: the documents the rule lets them read, and the index
/// filter that shows only those.
pub struct Readable {
    pub documents: Vec<StoredDocument>,
    pub access: Access,
}

impl Readable {
    /// Every document (the console's operator, who holds the database anyway).
    pub fn everything(documents: Vec<StoredDocument>) -> Self {
        Readable { documents, access: Access::everything() }
    }

    fn of(documents: Vec<StoredDocument>) -> Self {
        let access = Access::documents(documents.iter().map(|d| d.document.id.to_string()));
        Readable { documents, access }
    }
}

/// What the rule needs to know of a document.
fn shared(d: &StoredDocument) -> Shared<'_> {
    Shared {
        marking: d.document.marking,
        author: &d.author_id,
        author_org: &d.document.org_id,
        recipients: &d.document.recipients,
    }
}

/// The library as `user` of `org` may read it.
pub async fn readable_by(store: &dyn Store, user: &UserId, org: &OrgId) -> Result<Readable> {
    let communities = crate::bulletins::member_communities_of(store, org).await?;
    let reader = Reader { user, org, communities: &communities };
    let documents = store.list_library_documents().await?;
    Ok(Readable::of(documents.into_iter().filter(|d| may_read(&reader, &shared(d))).collect()))
}

/// Where the index of the SQLite database at `database_url` lives: a folder next to the file.
/// PostgreSQL deployments have no data folder: `None`, the index is built in memory at start.
pub fn index_dir(database_url: &str) -> Option<PathBuf> {
    vigie_store::database_path(database_url).ok().map(|path| vigie_store::library_index_dir_of(&path))
}

/// Opens the index (in `dir`, or in memory) and brings it up to the store's generation;
/// rebuilds it from the store when it is ahead of the store (a database restored from a
/// backup) or unreadable.
pub async fn open(store: &dyn Store, dir: Option<&Path>) -> Result<Arc<SharedLibrary>> {
    let owned = dir.map(Path::to_path_buf);
    let opened = blocking(move || SharedLibrary::open(owned.as_deref())).await?;
    let library = match opened {
        Ok(library) => Arc::new(library),
        // A running server holds it: leave its directory alone.
        Err(err @ SearchError::IndexBusy { .. }) => return Err(err.into()),
        Err(err) => {
            tracing::warn!(error = %err, "the library index is unreadable; rebuilding it from the store");
            let dir = dir.map(Path::to_path_buf);
            if let Some(dir) = &dir {
                let _ = std::fs::remove_dir_all(dir);
            }
            Arc::new(blocking(move || SharedLibrary::open(dir.as_deref())).await??)
        }
    };
    refresh(store, &library).await?;
    Ok(library)
}

/// The on-disk index opened read-only, for a search while a server holds it; `None` when it
/// is missing, unreadable or behind the store (the caller then builds one in memory).
pub async fn open_read_only(store: &dyn Store, dir: &Path) -> Result<Option<Arc<SharedLibrary>>> {
    let owned = dir.to_path_buf();
    let Ok(Ok(library)) = blocking(move || SharedLibrary::open_read_only(&owned)).await else {
        return Ok(None);
    };
    let current = store.library_generation().await?;
    Ok((library.generation()? == current).then(|| Arc::new(library)))
}

/// Adds to the index what changed in the store since the index's generation.
pub async fn refresh(store: &dyn Store, library: &Arc<SharedLibrary>) -> Result<()> {
    let current = store.library_generation().await?;
    let known = library.generation()?;
    if current == known {
        return Ok(());
    }
    let rebuild = current < known;
    let changes = store.library_changes(if rebuild { 0 } else { known }).await?;
    let library = library.clone();
    blocking(move || {
        if rebuild {
            library.rebuild(&changes.documents, changes.generation)
        } else {
            library.apply(&changes.documents, changes.generation)
        }
    })
    .await??;
    Ok(())
}

/// Rebuilds the index from the store, whatever its state.
pub async fn rebuild(store: &dyn Store, library: &Arc<SharedLibrary>) -> Result<usize> {
    let changes = store.library_changes(0).await?;
    let library = library.clone();
    blocking(move || {
        library.rebuild(&changes.documents, changes.generation)?;
        library.passage_count()
    })
    .await?
    .map_err(Failure::from)
}

/// Builds a search request from the API's (and the CLI's) parameters.
pub fn search_query(
    q: &str,
    lang: Option<&str>,
    limit: Option<usize>,
    tags: Vec<String>,
    markings: &[String],
) -> std::result::Result<SearchQuery, SearchError> {
    let mut query = SearchQuery::new(q);
    query.language = lang.map(Lang::parse).transpose()?;
    query.limit = limit.unwrap_or(10);
    query.tags = tags;
    query.markings = markings.iter().map(|m| Marking::parse(m)).collect::<std::result::Result<_, _>>()?;
    Ok(query)
}

pub(crate) fn document_json(stored: &StoredDocument) -> Value {
    let mut value = json!(stored);
    value["format"] = json!(stored.content.format);
    value["filename"] = json!(stored.content.filename);
    value["pages"] = json!((stored.content.pages() * 10.0).round() / 10.0);
    value
}

/// Near-duplicate pairs among `documents`.
pub fn duplicate_pairs(documents: &[StoredDocument]) -> Value {
    let title =
        |id: &str| documents.iter().find(|d| d.document.id == id).map(|d| d.document.title.clone()).unwrap_or_default();
    let pairs = vigie_search::near_duplicates(
        documents.iter().map(|d| (d.document.id.as_str(), d.content.signature.as_slice())),
    );
    let items: Vec<Value> = pairs
        .iter()
        .map(|p| json!({"a": {"id": p.a, "title": title(&p.a)}, "b": {"id": p.b, "title": title(&p.b)}, "similarity": (p.similarity * 100.0).round() / 100.0}))
        .collect();
    json!({ "pairs": items })
}

/// Ingest options from the metadata the CLI and the API accept. The document id follows the
/// organisation and the file name, so that uploading a file again makes a new version.
pub fn ingest_options(
    org_id: &str,
    filename: &str,
    language: Option<&str>,
    marking: Option<&str>,
    recipients: Recipients,
    tags: Vec<String>,
) -> Result<IngestOptions> {
    let mut options = IngestOptions::new(org_id);
    options.document_id = Some(vigie_search::ingest::document_id(org_id, filename));
    options.language = language.map(Lang::parse).transpose()?;
    options.marking = marking.map(Marking::parse).transpose()?.unwrap_or_default();
    vigie_domain::sharing::check_recipients(options.marking, &recipients)
        .map_err(|message| vigie_domain::DomainError::validation("recipients", message))?;
    options.recipients = recipients;
    options.tags = tags;
    Ok(options)
}

/// The near-duplicates of `document_id` among `documents`.
pub fn duplicates_of(documents: &[StoredDocument], document_id: &DocumentId) -> Vec<String> {
    let pairs = vigie_search::near_duplicates(
        documents.iter().map(|d| (d.document.id.as_str(), d.content.signature.as_slice())),
    );
    pairs
        .into_iter()
        .filter_map(|p| match (p.a, p.b) {
            (a, b) if a == document_id.as_str() => Some(b),
            (a, b) if b == document_id.as_str() => Some(a),
            _ => None,
        })
        .collect()
}

/// The bytes must be what the file name says: a `.pdf` that is not a PDF, or a text file that
/// is a PDF or binary, is refused before parsing.
fn sniff(bytes: &[u8], filename: &str) -> std::result::Result<(), SearchError> {
    let format = vigie_search::ingest::detect_format(bytes, filename)?;
    let is_pdf = bytes.starts_with(b"%PDF");
    let consistent = match format {
        vigie_search::Format::Pdf => is_pdf,
        _ => !is_pdf && std::str::from_utf8(bytes).is_ok(),
    };
    if consistent {
        Ok(())
    } else {
        Err(SearchError::DocumentUnreadable {
            name: filename.to_owned(),
            reason: "its content does not match its file name's type".into(),
        })
    }
}

/// A search as a caller asks for it (the API's query string, the CLI's flags).
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub q: String,
    pub lang: Option<String>,
    pub limit: Option<usize>,
    /// Comma-separated.
    pub tag: Option<String>,
    /// Comma-separated TLP labels.
    pub marking: Option<String>,
}

fn list(value: Option<&str>) -> Vec<String> {
    value.into_iter().flat_map(|v| v.split(',')).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned).collect()
}

/// A document as a caller uploads it. Only `filename` and `content` are required; the format
/// is recognised from the bytes and the file name.
#[derive(Debug, Clone, Default)]
pub struct Upload {
    pub filename: String,
    /// The file, in base64.
    pub content_base64: String,
    pub title: Option<String>,
    pub language: Option<String>,
    pub marking: Option<String>,
    pub tags: Vec<String>,
    pub source: Option<String>,
    pub date: Option<String>,
    pub org_id: Option<OrgId>,
    /// Who may read it under its marking (a community for GREEN, people for RED).
    pub recipients: Recipients,
}

/// What an upload did.
pub struct Uploaded {
    /// A new document (rather than a new version or an identical copy).
    pub created: bool,
    pub report: Value,
}

impl App {
    /// The index, brought up to date with the store (ingests from the CLI or another server
    /// process included).
    async fn library_ready(&self) -> Result<Arc<SharedLibrary>> {
        let library = self
            .library
            .clone()
            .ok_or_else(|| Failure::new(Code::LibraryUnavailable, "this server has no library index loaded"))?;
        refresh(self.store.as_ref(), &library).await?;
        Ok(library)
    }

    pub async fn search_library(&self, caller: &Principal, request: &SearchRequest) -> Result<Value> {
        let query = search_query(
            &request.q,
            request.lang.as_deref(),
            request.limit,
            list(request.tag.as_deref()),
            &list(request.marking.as_deref()),
        )?;
        let library = self.library_ready().await?;
        let results = library.search(&query, &self.readable_library(caller).await?.access)?;
        // The query and the passages found, never their text (TLP:RED text stays out of the log).
        let passages: Vec<&str> = results.results.iter().map(|h| h.passage_id.as_str()).collect();
        self.audit_read(caller, "library_search", None, json!({"q": request.q, "lang": request.lang, "tag": request.tag, "marking": request.marking, "total": results.total, "passages": passages})).await?;
        Ok(json!(results))
    }

    /// The documents the caller may read.
    pub async fn library_documents(&self, caller: &Principal) -> Result<Value> {
        let documents = self.library_document_list(caller).await?;
        let items: Vec<Value> = documents.iter().map(document_json).collect();
        Ok(json!({"items": items, "total": items.len()}))
    }

    /// The documents the caller may read (the library page's list).
    pub async fn library_document_list(&self, caller: &Principal) -> Result<Vec<StoredDocument>> {
        Ok(self.readable_library(caller).await?.documents)
    }

    /// The library as the caller may read it.
    async fn readable_library(&self, caller: &Principal) -> Result<Readable> {
        readable_by(self.store.as_ref(), &caller.user_id, &caller.org_id).await
    }

    pub(crate) async fn readable_document(&self, caller: &Principal, id: &DocumentId) -> Result<StoredDocument> {
        let communities = self.member_communities(caller).await?;
        match self.store.library_document(id).await? {
            Some(d) if crate::bulletins::reads(caller, &communities, &shared(&d)) => Ok(d),
            _ => Err(Failure::not_found("document")),
        }
    }

    /// A document with its passages.
    pub async fn library_document(&self, caller: &Principal, id: &DocumentId) -> Result<Value> {
        let stored = self.readable_document(caller, id).await?;
        let passages = self.store.library_passages(id).await?;
        self.audit_read(
            caller,
            "library_document",
            Some(id),
            json!({"org_id": stored.document.org_id, "marking": stored.document.marking}),
        )
        .await?;
        let mut value = document_json(&stored);
        value["passages"] = passages
            .iter()
            .map(|p| json!({"id": p.id, "ordinal": p.ordinal, "heading": p.heading(), "kind": p.kind, "text": p.text}))
            .collect();
        Ok(value)
    }

    /// A passage, with its document's title, marking and language.
    pub async fn library_passage(&self, caller: &Principal, id: &PassageId) -> Result<Value> {
        let passage = self.store.library_passage(id).await?.ok_or_else(|| Failure::not_found("passage"))?;
        let stored =
            self.readable_document(caller, &passage.document_id).await.map_err(|_| Failure::not_found("passage"))?;
        self.audit_read(
            caller,
            "library_passage",
            Some(id),
            json!({"document_id": passage.document_id, "marking": stored.document.marking}),
        )
        .await?;
        Ok(json!({
            "id": passage.id, "document_id": passage.document_id, "document_title": stored.document.title, "marking": stored.document.marking,
            "language": stored.document.language, "ordinal": passage.ordinal, "heading": passage.heading(), "kind": passage.kind, "text": passage.text,
        }))
    }

    /// Near-duplicate pairs among the documents the caller may read.
    pub async fn library_duplicates(&self, caller: &Principal) -> Result<Value> {
        Ok(duplicate_pairs(&self.readable_library(caller).await?.documents))
    }

    /// Adds a document (or a new version of one) to the library.
    pub async fn upload_document(&self, caller: &Principal, upload: Upload) -> Result<Uploaded> {
        let org_id = upload.org_id.clone().unwrap_or_else(|| caller.org_id.clone());
        if !caller.can_write_org(&org_id) || caller.role == Role::Viewer {
            return Err(Failure::forbidden("you may not add documents for this organisation"));
        }
        if self.store.org_by_id(&org_id).await?.is_none() {
            return Err(vigie_domain::DomainError::validation("org_id", "no such organisation").into());
        }
        let filename = upload.filename.trim().rsplit(['/', '\\']).next().unwrap_or_default().to_owned();
        vigie_domain::site::check_text("filename", &filename)?;
        if filename.is_empty() || filename.chars().count() > 200 {
            return Err(vigie_domain::DomainError::validation("filename", "a file name of 1 to 200 characters").into());
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(upload.content_base64.trim())
            .map_err(|_| vigie_domain::DomainError::validation("content_base64", "the content is not valid base64"))?;
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(Failure::new(
                Code::PayloadTooLarge,
                format!("the document is larger than {} MB", MAX_DOCUMENT_BYTES / 1024 / 1024),
            ));
        }
        sniff(&bytes, &filename)?;
        let mut options = ingest_options(
            &org_id,
            &filename,
            upload.language.as_deref(),
            upload.marking.as_deref(),
            upload.recipients,
            upload.tags,
        )?;
        self.resolve_recipients(caller, options.marking, &mut options.recipients).await?;
        options.title = upload.title.filter(|t| !t.trim().is_empty());
        options.source = upload.source;
        options.date = upload.date.as_deref().map(vigie_search::parse_date).transpose()?;
        let name = filename.clone();
        // PDF extraction is CPU work: off the async workers.
        let parsed = blocking(move || vigie_search::parse(&bytes, &name, options)).await??;
        let outcome = self.store.ingest_document(&self.write_context(caller), &parsed).await?;
        if let Some(library) = &self.library {
            refresh(self.store.as_ref(), library).await?;
        }
        let duplicates = duplicates_of(&self.readable_library(caller).await?.documents, &outcome.document_id);
        Ok(Uploaded {
            created: outcome.status == vigie_store::IngestStatus::Created,
            report: json!({
                "document_id": outcome.document_id, "title": parsed.document.title, "version": outcome.version, "status": outcome.status,
                "passages": outcome.passages, "pages": (parsed.version.pages() * 10.0).round() / 10.0, "duplicates": duplicates,
            }),
        })
    }

    /// The passages the caller may read that help with a methodology question: the question's
    /// `guidance` references and those of its measures (passage ids or phrases) first, then
    /// the best matches for its text in both languages. Not audited: callers audit what they
    /// show (see [`App::related_guidance`]).
    pub async fn related_passages(
        &self,
        caller: &Principal,
        question_id: &str,
        lang: vigie_domain::site::Lang,
        limit: usize,
    ) -> Result<Vec<vigie_search::SearchHit>> {
        let methodology = crate::assessments::methodology()?;
        let question = methodology.question(question_id).ok_or_else(|| Failure::not_found("question"))?;
        if !(1..=vigie_search::query::MAX_LIMIT).contains(&limit) {
            return Err(vigie_domain::DomainError::validation(
                "limit",
                format!("between 1 and {}", vigie_search::query::MAX_LIMIT),
            )
            .into());
        }
        let library = self.library_ready().await?;
        // Both languages' wording: the library's documents are in either language.
        let other = if lang == vigie_domain::site::Lang::Fr {
            vigie_domain::site::Lang::En
        } else {
            vigie_domain::site::Lang::Fr
        };
        let text = format!("{} {}", question.text(lang), question.text(other));
        let references: Vec<String> =
            question.guidance.iter().chain(question.measures.iter().flat_map(|m| &m.guidance)).cloned().collect();
        Ok(library.related(&text, &references, &self.readable_library(caller).await?.access, limit)?)
    }

    /// [`App::related_passages`], audited as a library search.
    pub async fn related_guidance(
        &self,
        caller: &Principal,
        question_id: &str,
        lang: Option<&str>,
        limit: Option<usize>,
    ) -> Result<Vec<vigie_search::SearchHit>> {
        let lang = lang.map(vigie_domain::site::Lang::parse).transpose()?.unwrap_or(vigie_domain::site::Lang::Fr);
        let hits = self.related_passages(caller, question_id, lang, limit.unwrap_or(3)).await?;
        let passages: Vec<&str> = hits.iter().map(|h| h.passage_id.as_str()).collect();
        self.audit_read(caller, "library_search", None, json!({"question": question_id, "passages": passages})).await?;
        Ok(hits)
    }
}
