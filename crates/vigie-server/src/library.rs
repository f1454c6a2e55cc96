//! `/api/v1/library`: the guidance library over HTTP. The access rule (TLP 2.0) and the index
//! live in `vigie_app::library`.
use axum::Json;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use vigie_app::library::{MAX_DOCUMENT_BYTES, SearchRequest, Upload};
use vigie_domain::{DocumentId, OrgId, PassageId};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};

/// The body limit of the upload route: the file in base64 plus its metadata.
pub fn upload_body_limit() -> axum::extract::DefaultBodyLimit {
    axum::extract::DefaultBodyLimit::max(MAX_DOCUMENT_BYTES / 3 * 4 + 64 * 1024)
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

pub async fn search(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<Json<Value>, ApiError> {
    let request =
        SearchRequest { q: params.q, lang: params.lang, limit: params.limit, tag: params.tag, marking: params.marking };
    Ok(Json(state.app.search_library(&caller, &request).await?))
}

pub async fn list_documents(State(state): State<AppState>, Caller(caller): Caller) -> Result<Json<Value>, ApiError> {
    Ok(Json(state.app.library_documents(&caller).await?))
}

pub async fn get_document(
    State(state): State<AppState>,
    Caller(caller): Caller,
    UrlPath(id): UrlPath<DocumentId>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(state.app.library_document(&caller, &id).await?))
}

pub async fn change_marking(
    State(state): State<AppState>,
    Caller(caller): Caller,
    UrlPath(id): UrlPath<DocumentId>,
    ApiJson(change): ApiJson<vigie_app::marking::MarkingChange>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(state.app.change_document_marking(&caller, &id, change).await?))
}

pub async fn get_passage(
    State(state): State<AppState>,
    Caller(caller): Caller,
    UrlPath(id): UrlPath<PassageId>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(state.app.library_passage(&caller, &id).await?))
}

pub async fn duplicates(State(state): State<AppState>, Caller(caller): Caller) -> Result<Json<Value>, ApiError> {
    Ok(Json(state.app.library_duplicates(&caller).await?))
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
    org_id: Option<OrgId>,
    /// `{"communities", "orgs", "users"}`: who reads it under its marking.
    #[serde(default)]
    recipients: vigie_domain::sharing::Recipients,
}

pub async fn upload(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<UploadBody>,
) -> Result<Response, ApiError> {
    let upload = Upload {
        filename: body.filename,
        content_base64: body.content_base64,
        title: body.title,
        language: body.language,
        marking: body.marking,
        tags: body.tags,
        source: body.source,
        date: body.date,
        org_id: body.org_id,
        recipients: body.recipients,
    };
    let uploaded = state.app.upload_document(&caller, upload).await?;
    let status = if uploaded.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(uploaded.report)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelatedParams {
    question: String,
    lang: Option<String>,
    limit: Option<usize>,
}

pub async fn related(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(params): ApiQuery<RelatedParams>,
) -> Result<Json<Value>, ApiError> {
    let hits = state.app.related_guidance(&caller, &params.question, params.lang.as_deref(), params.limit).await?;
    Ok(Json(json!({ "results": hits })))
}
