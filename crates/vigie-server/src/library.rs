//! `/api/v1/library`: the guidance library. Search, documents, passages, near-duplicates,
//! uploads, and the passages related to a methodology question.
//!
//! Access rule (TLP 2.0): every signed-in user reads TLP:CLEAR and TLP:GREEN documents of any
//! organisation; TLP:AMBER, TLP:AMBER+STRICT and TLP:RED documents only by members of the
//! owning organisation, whatever their role (administrators included: a marking limits
//! recipients, not functions). Hidden documents are neither returned nor counted, and a
//! hidden document or passage answers 404 like a missing one.
//!
//! The index is derived from the store: before answering, the handlers compare the store's
//! library generation with the index's and add what changed (ingests from the CLI or
//! another server process included).
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};
use vigie_domain::access::{Principal, Role};
use vigie_search::{Access, IngestOptions, Lang, Marking, SearchError, SearchQuery, SharedLibrary};
use vigie_store::{Store, StoredDocument};

use crate::api::write_context;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::{AppState, now_ms};

/// Largest document accepted by upload (the raw file; the JSON body carries it in base64).
pub const MAX_DOCUMENT_BYTES: usize = 20 * 1024 * 1024;

/// The body limit of the upload route: the file in base64 plus its metadata.
pub fn upload_body_limit() -> axum::extract::DefaultBodyLimit {
    axum::extract::DefaultBodyLimit::max(MAX_DOCUMENT_BYTES / 3 * 4 + 64 * 1024)
}

impl From<SearchError> for ApiError {
    fn from(err: SearchError) -> Self {
        if matches!(
            err,
            SearchError::IndexFailed { .. } | SearchError::IndexBusy { .. } | SearchError::GlossaryInvalid { .. }
        ) {
            tracing::error!(code = err.code(), error = %err, "library index error");
        }
        ApiError::new(err.code(), err.to_string())
    }
}

/// What a member of `org_id` may read in the library (see the module's rule).
pub fn access(org_id: &str) -> Access {
    Access { orgs: Some(vec![org_id.to_owned()]), max_marking: Marking::Red }
}

/// Where the index of the SQLite database at `database_url` lives: a folder next to the file.
/// PostgreSQL deployments have no data folder: `None`, the index is built in memory at start.
pub fn index_dir(database_url: &str) -> Option<PathBuf> {
    vigie_store::database_path(database_url).ok().map(|path| vigie_store::library_index_dir_of(&path))
}

fn blocking_failed(_: tokio::task::JoinError) -> ApiError {
    ApiError::internal()
}

/// Opens the index (in `dir`, or in memory) and brings it up to the store's generation;
/// rebuilds it from the store when it is ahead of the store (a database restored from a
/// backup) or unreadable.
pub async fn open(store: &dyn Store, dir: Option<&Path>) -> Result<Arc<SharedLibrary>, ApiError> {
    let owned = dir.map(Path::to_path_buf);
    let opened =
        tokio::task::spawn_blocking(move || SharedLibrary::open(owned.as_deref())).await.map_err(blocking_failed)?;
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
            Arc::new(
                tokio::task::spawn_blocking(move || SharedLibrary::open(dir.as_deref()))
                    .await
                    .map_err(blocking_failed)??,
            )
        }
    };
    refresh(store, &library).await?;
    Ok(library)
}

/// Adds to the index what changed in the store since the index's generation.
pub async fn refresh(store: &dyn Store, library: &Arc<SharedLibrary>) -> Result<(), ApiError> {
    let current = store.library_generation().await?;
    let known = library.generation()?;
    if current == known {
        return Ok(());
    }
    let rebuild = current < known;
    let changes = store.library_changes(if rebuild { 0 } else { known }).await?;
    let library = library.clone();
    tokio::task::spawn_blocking(move || {
        if rebuild {
            library.rebuild(&changes.documents, changes.generation)
        } else {
            library.apply(&changes.documents, changes.generation)
        }
    })
    .await
    .map_err(blocking_failed)??;
    Ok(())
}

/// Rebuilds the index from the store, whatever its state.
pub async fn rebuild(store: &dyn Store, library: &Arc<SharedLibrary>) -> Result<usize, ApiError> {
    let changes = store.library_changes(0).await?;
    let library = library.clone();
    tokio::task::spawn_blocking(move || {
        library.rebuild(&changes.documents, changes.generation)?;
        library.passage_count()
    })
    .await
    .map_err(blocking_failed)?
    .map_err(ApiError::from)
}

async fn ready(state: &AppState) -> Result<Arc<SharedLibrary>, ApiError> {
    let library = state
        .library
        .clone()
        .ok_or_else(|| ApiError::new("library_unavailable", "this server has no library index loaded"))?;
    refresh(state.store.as_ref(), &library).await?;
    Ok(library)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    q: String,
    lang: Option<String>,
    limit: Option<usize>,
    /// Comma-separated.
    tag: Option<String>,
    /// Comma-separated TLP labels.
    marking: Option<String>,
}

fn list(value: Option<&str>) -> Vec<String> {
    value.into_iter().flat_map(|v| v.split(',')).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned).collect()
}

/// Builds a search request from the API's (and the CLI's) parameters.
pub fn search_query(
    q: &str,
    lang: Option<&str>,
    limit: Option<usize>,
    tags: Vec<String>,
    markings: &[String],
) -> Result<SearchQuery, SearchError> {
    let mut query = SearchQuery::new(q);
    query.language = lang.map(Lang::parse).transpose()?;
    query.limit = limit.unwrap_or(10);
    query.tags = tags;
    query.markings = markings.iter().map(|m| Marking::parse(m)).collect::<Result<_, _>>()?;
    Ok(query)
}

pub async fn search(
    State(state): State<AppState>,
    crate::auth::Caller(caller): crate::auth::Caller,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<Json<Value>, ApiError> {
    let query = search_query(
        &params.q,
        params.lang.as_deref(),
        params.limit,
        list(params.tag.as_deref()),
        &list(params.marking.as_deref()),
    )?;
    let library = ready(&state).await?;
    let access = access(&caller.org_id);
    let results = library.search(&query, &access)?;
    // The query and the passages found, never their text (TLP:RED text stays out of the log).
    let passages: Vec<&str> = results.results.iter().map(|h| h.passage_id.as_str()).collect();
    state.audit.read(&caller, now_ms(), "library_search", None, json!({"q": params.q, "lang": params.lang, "tag": params.tag, "marking": params.marking, "total": results.total, "passages": passages})).await?;
    Ok(Json(json!(results)))
}

fn document_json(stored: &StoredDocument) -> Value {
    let mut value = json!(stored);
    value["format"] = json!(stored.content.format);
    value["filename"] = json!(stored.content.filename);
    value["pages"] = json!((stored.content.pages() * 10.0).round() / 10.0);
    value
}

async fn readable_documents(state: &AppState, caller: &Principal) -> Result<Vec<StoredDocument>, ApiError> {
    let access = access(&caller.org_id);
    Ok(state
        .store
        .list_library_documents()
        .await?
        .into_iter()
        .filter(|d| access.can_read(&d.document.org_id, d.document.marking))
        .collect())
}

pub async fn list_documents(
    State(state): State<AppState>,
    crate::auth::Caller(caller): crate::auth::Caller,
) -> Result<Json<Value>, ApiError> {
    let documents = readable_documents(&state, &caller).await?;
    let items: Vec<Value> = documents.iter().map(document_json).collect();
    Ok(Json(json!({"items": items, "total": items.len()})))
}

async fn readable_document(state: &AppState, caller: &Principal, id: &str) -> Result<StoredDocument, ApiError> {
    match state.store.library_document(id).await? {
        Some(d) if access(&caller.org_id).can_read(&d.document.org_id, d.document.marking) => Ok(d),
        _ => Err(ApiError::not_found("document")),
    }
}

pub async fn get_document(
    State(state): State<AppState>,
    crate::auth::Caller(caller): crate::auth::Caller,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Value>, ApiError> {
    let stored = readable_document(&state, &caller, &id).await?;
    let passages = state.store.library_passages(&id).await?;
    state
        .audit
        .read(
            &caller,
            now_ms(),
            "library_document",
            Some(&id),
            json!({"org_id": stored.document.org_id, "marking": stored.document.marking}),
        )
        .await?;
    let mut value = document_json(&stored);
    value["passages"] = passages
        .iter()
        .map(|p| json!({"id": p.id, "ordinal": p.ordinal, "heading": p.heading(), "kind": p.kind, "text": p.text}))
        .collect();
    Ok(Json(value))
}

pub async fn get_passage(
    State(state): State<AppState>,
    crate::auth::Caller(caller): crate::auth::Caller,
    UrlPath(id): UrlPath<String>,
) -> Result<Json<Value>, ApiError> {
    let passage = state.store.library_passage(&id).await?.ok_or_else(|| ApiError::not_found("passage"))?;
    let stored =
        readable_document(&state, &caller, &passage.document_id).await.map_err(|_| ApiError::not_found("passage"))?;
    state
        .audit
        .read(
            &caller,
            now_ms(),
            "library_passage",
            Some(&id),
            json!({"document_id": passage.document_id, "marking": stored.document.marking}),
        )
        .await?;
    Ok(Json(json!({
        "id": passage.id, "document_id": passage.document_id, "document_title": stored.document.title, "marking": stored.document.marking,
        "language": stored.document.language, "ordinal": passage.ordinal, "heading": passage.heading(), "kind": passage.kind, "text": passage.text,
    })))
}

/// Near-duplicate pairs among the documents `caller` may read.
pub async fn duplicate_pairs(store: &dyn Store, access: &Access) -> Result<Value, ApiError> {
    let documents: Vec<StoredDocument> = store
        .list_library_documents()
        .await?
        .into_iter()
        .filter(|d| access.can_read(&d.document.org_id, d.document.marking))
        .collect();
    let title =
        |id: &str| documents.iter().find(|d| d.document.id == id).map(|d| d.document.title.clone()).unwrap_or_default();
    let pairs = vigie_search::near_duplicates(
        documents.iter().map(|d| (d.document.id.as_str(), d.content.signature.as_slice())),
    );
    let items: Vec<Value> = pairs
        .iter()
        .map(|p| json!({"a": {"id": p.a, "title": title(&p.a)}, "b": {"id": p.b, "title": title(&p.b)}, "similarity": (p.similarity * 100.0).round() / 100.0}))
        .collect();
    Ok(json!({ "pairs": items }))
}

pub async fn duplicates(
    State(state): State<AppState>,
    crate::auth::Caller(caller): crate::auth::Caller,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(duplicate_pairs(state.store.as_ref(), &access(&caller.org_id)).await?))
}

/// An upload: the file in base64 with its metadata. Only `filename` and `content_base64` are
/// required; the format is recognised from the bytes and the file name.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadBody {
    filename: String,
    content_base64: String,
    title: Option<String>,
    language: Option<String>,
    marking: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    source: Option<String>,
    date: Option<String>,
    org_id: Option<String>,
}

/// Ingest options from the metadata the CLI and the API accept. The document id follows the
/// organisation and the file name, so that uploading a file again makes a new version.
pub fn ingest_options(
    org_id: &str,
    filename: &str,
    language: Option<&str>,
    marking: Option<&str>,
    tags: Vec<String>,
) -> Result<IngestOptions, SearchError> {
    let mut options = IngestOptions::new(org_id);
    options.document_id = Some(vigie_search::ingest::document_id(org_id, filename));
    options.language = language.map(Lang::parse).transpose()?;
    options.marking = marking.map(Marking::parse).transpose()?.unwrap_or_default();
    options.tags = tags;
    Ok(options)
}

/// The near-duplicates of `document_id` among documents `access` may read.
pub async fn duplicates_of(store: &dyn Store, access: &Access, document_id: &str) -> Result<Vec<String>, ApiError> {
    let pairs = duplicate_pairs(store, access).await?;
    Ok(pairs["pairs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| match (p["a"]["id"].as_str(), p["b"]["id"].as_str()) {
            (Some(a), Some(b)) if a == document_id => Some(b.to_owned()),
            (Some(a), Some(b)) if b == document_id => Some(a.to_owned()),
            _ => None,
        })
        .collect())
}

pub async fn upload(
    State(state): State<AppState>,
    crate::auth::Caller(caller): crate::auth::Caller,
    ApiJson(body): ApiJson<UploadBody>,
) -> Result<Response, ApiError> {
    let org_id = body.org_id.clone().unwrap_or_else(|| caller.org_id.clone());
    if !caller.can_write_org(&org_id) || caller.role == Role::Viewer {
        return Err(ApiError::forbidden("you may not add documents for this organisation"));
    }
    if state.store.org_by_id(&org_id).await?.is_none() {
        return Err(vigie_domain::DomainError::validation("org_id", "no such organisation").into());
    }
    let filename = body.filename.trim().rsplit(['/', '\\']).next().unwrap_or_default().to_owned();
    vigie_domain::site::check_text("filename", &filename)?;
    if filename.is_empty() || filename.chars().count() > 200 {
        return Err(vigie_domain::DomainError::validation("filename", "a file name of 1 to 200 characters").into());
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body.content_base64.trim())
        .map_err(|_| vigie_domain::DomainError::validation("content_base64", "the content is not valid base64"))?;
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(ApiError::new(
            "payload_too_large",
            format!("the document is larger than {} MB", MAX_DOCUMENT_BYTES / 1024 / 1024),
        ));
    }
    sniff(&bytes, &filename)?;
    let mut options = ingest_options(&org_id, &filename, body.language.as_deref(), body.marking.as_deref(), body.tags)?;
    options.title = body.title.filter(|t| !t.trim().is_empty());
    options.source = body.source;
    options.date = body.date.as_deref().map(vigie_search::parse_date).transpose()?;
    let name = filename.clone();
    // PDF extraction is CPU work: off the async workers.
    let parsed = tokio::task::spawn_blocking(move || vigie_search::parse(&bytes, &name, options))
        .await
        .map_err(blocking_failed)??;
    let outcome = state.store.ingest_document(&write_context(&caller), &parsed).await?;
    if let Some(library) = &state.library {
        refresh(state.store.as_ref(), library).await?;
    }
    let duplicates = duplicates_of(state.store.as_ref(), &access(&caller.org_id), &outcome.document_id).await?;
    let status =
        if outcome.status == vigie_store::IngestStatus::Created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((
        status,
        Json(json!({
            "document_id": outcome.document_id, "title": parsed.document.title, "version": outcome.version, "status": outcome.status,
            "passages": outcome.passages, "pages": (parsed.version.pages() * 10.0).round() / 10.0, "duplicates": duplicates,
        })),
    )
        .into_response())
}

/// The bytes must be what the file name says: a `.pdf` that is not a PDF, or a text file that
/// is a PDF or binary, is refused before parsing.
fn sniff(bytes: &[u8], filename: &str) -> Result<(), SearchError> {
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelatedParams {
    question: String,
    lang: Option<String>,
    limit: Option<usize>,
}

/// The passages `caller` may read that help with a methodology question: the question's
/// `guidance` references and those of its measures (passage ids or phrases) first, then the best matches for its text
/// in both languages.
pub async fn related_passages(
    state: &AppState,
    caller: &Principal,
    question_id: &str,
    lang: vigie_domain::site::Lang,
    limit: usize,
) -> Result<Vec<vigie_search::SearchHit>, ApiError> {
    let methodology = vigie_assessment::Methodology::embedded().map_err(|e| {
        tracing::error!(error = %e, "the embedded methodology is unreadable");
        ApiError::internal()
    })?;
    let question = methodology.question(question_id).ok_or_else(|| ApiError::not_found("question"))?;
    if !(1..=vigie_search::query::MAX_LIMIT).contains(&limit) {
        return Err(vigie_domain::DomainError::validation(
            "limit",
            format!("between 1 and {}", vigie_search::query::MAX_LIMIT),
        )
        .into());
    }
    let library = ready(state).await?;
    // Both languages' wording: the library's documents are in either language.
    let other =
        if lang == vigie_domain::site::Lang::Fr { vigie_domain::site::Lang::En } else { vigie_domain::site::Lang::Fr };
    let text = format!("{} {}", question.text(lang), question.text(other));
    let references: Vec<String> =
        question.guidance.iter().chain(question.measures.iter().flat_map(|m| &m.guidance)).cloned().collect();
    Ok(library.related(&text, &references, &access(&caller.org_id), limit)?)
}

pub async fn related(
    State(state): State<AppState>,
    crate::auth::Caller(caller): crate::auth::Caller,
    ApiQuery(params): ApiQuery<RelatedParams>,
) -> Result<Json<Value>, ApiError> {
    let lang = match params.lang.as_deref() {
        None | Some("fr") => vigie_domain::site::Lang::Fr,
        Some("en") => vigie_domain::site::Lang::En,
        Some(other) => return Err(SearchError::LanguageInvalid { given: other.to_owned() }.into()),
    };
    let hits = related_passages(&state, &caller, &params.question, lang, params.limit.unwrap_or(3)).await?;
    let passages: Vec<&str> = hits.iter().map(|h| h.passage_id.as_str()).collect();
    state
        .audit
        .read(&caller, now_ms(), "library_search", None, json!({"question": params.question, "passages": passages}))
        .await?;
    Ok(Json(json!({ "results": hits })))
}
