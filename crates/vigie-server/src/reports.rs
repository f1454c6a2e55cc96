//! Field reports over HTTP: file, list, read (with the sightings count for the reporter) and
//! triage. The rules and the audit live in `vigie_app::reports` and the domain; a report the
//! caller may not read answers 404, as one that does not exist.
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use vigie_domain::report::{FieldReport, ReportDraft};
use vigie_domain::sharing::{Marking, Recipients};
use vigie_domain::{DomainError, ReportId, SiteId};

use vigie_app::assessments::MAX_PHOTO_BYTES;
use vigie_domain::Code;
use vigie_domain::bulletin::rfc3339;
use vigie_store::{Case, ReportPhoto};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiJson;

pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/field-reports"),
    ("post", "/api/v1/field-reports"),
    ("get", "/api/v1/field-reports/{id}"),
    ("patch", "/api/v1/field-reports/{id}"),
    ("post", "/api/v1/field-reports/{id}/marking"),
    ("post", "/api/v1/field-reports/{id}/photos"),
    ("get", "/api/v1/field-reports/{id}/photos/{photo}"),
    ("get", "/api/v1/cases"),
    ("post", "/api/v1/cases"),
    ("post", "/api/v1/cases/{id}/reports"),
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/field-reports", get(list).post(file))
        .route("/api/v1/field-reports/{id}", get(show).patch(triage))
        .route("/api/v1/field-reports/{id}/marking", axum::routing::post(change_marking))
        .route(
            "/api/v1/field-reports/{id}/photos",
            axum::routing::post(add_photo).layer(axum::extract::DefaultBodyLimit::max(MAX_PHOTO_BYTES)),
        )
        .route("/api/v1/field-reports/{id}/photos/{photo}", get(photo))
        .route("/api/v1/cases", get(cases).post(create_case))
        .route("/api/v1/cases/{id}/reports", axum::routing::post(link_to_case))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Location {
    lon: f64,
    lat: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportBody {
    kind: String,
    observed_at: String,
    location: Location,
    site_id: Option<SiteId>,
    text: String,
    marking: String,
    #[serde(default)]
    recipients: Recipients,
}

impl ReportBody {
    fn into_draft(self) -> Result<ReportDraft, DomainError> {
        Ok(ReportDraft {
            kind: self.kind,
            observed_at_ms: vigie_domain::bulletin::time_ms("observed_at", &self.observed_at)?,
            lon: self.location.lon,
            lat: self.location.lat,
            site_id: self.site_id,
            text: self.text,
            marking: Marking::parse(&self.marking)?,
            recipients: self.recipients,
        })
    }
}

async fn file(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<ReportBody>,
) -> Result<Response, ApiError> {
    let report = state.app.file_report(&caller, body.into_draft()?).await?;
    let location = format!("/api/v1/field-reports/{}", report.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(report.to_json())).into_response())
}

async fn change_marking(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<ReportId>,
    ApiJson(change): ApiJson<vigie_app::marking::MarkingChange>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(state.app.change_report_marking(&caller, &id, change).await?.to_json()))
}

async fn list(State(state): State<AppState>, Caller(caller): Caller) -> Result<Json<Value>, ApiError> {
    let items: Vec<Value> = state.app.reports(&caller).await?.iter().map(FieldReport::to_json).collect();
    Ok(Json(json!({ "items": items })))
}

async fn show(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<ReportId>,
) -> Result<Json<Value>, ApiError> {
    let view = state.app.report(&caller, &id).await?;
    let mut body = view.report.to_json();
    if let Some(n) = view.similar_nearby {
        body["similar_nearby"] = json!({"organisations": n});
    }
    body["photos"] = photos_json(&id, &view.photos);
    Ok(Json(body))
}

fn photos_json(report: &ReportId, photos: &[ReportPhoto]) -> Value {
    json!(photos
        .iter()
        .map(|p| json!({"id": p.id, "content_type": p.content_type, "url": format!("/api/v1/field-reports/{report}/photos/{}", p.id)}))
        .collect::<Vec<_>>())
}

/// The image as the request's body (JPEG or PNG); stored without its metadata.
async fn add_photo(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<ReportId>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|_| {
        ApiError::new(Code::PayloadTooLarge, format!("a photo may be at most {} MB", MAX_PHOTO_BYTES / (1024 * 1024)))
    })?;
    let photo = state.app.add_report_photo(&caller, &id, body.to_vec()).await?;
    let url = format!("/api/v1/field-reports/{id}/photos/{}", photo.id);
    Ok((StatusCode::CREATED, Json(json!({"id": photo.id, "content_type": photo.content_type, "url": url})))
        .into_response())
}

async fn photo(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((id, photo)): Path<(ReportId, String)>,
) -> Result<Response, ApiError> {
    let (photo, bytes) = state.app.report_photo(&caller, &id, &photo).await?;
    Ok(crate::assessments::image(photo.content_type, bytes))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseBody {
    title: String,
    #[serde(default)]
    report_ids: Vec<ReportId>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkBody {
    report_ids: Vec<ReportId>,
}

fn case_json(case: &Case) -> Value {
    json!({"id": case.id, "title": case.title, "org_id": case.org_id, "created_at": rfc3339(case.created_at_ms), "report_ids": case.report_ids})
}

async fn cases(State(state): State<AppState>, Caller(caller): Caller) -> Result<Json<Value>, ApiError> {
    let cases = state.app.cases(&caller).await?;
    Ok(Json(json!({"items": cases.iter().map(case_json).collect::<Vec<_>>()})))
}

async fn create_case(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<CaseBody>,
) -> Result<Response, ApiError> {
    let case = state.app.create_case(&caller, &body.title, &body.report_ids).await?;
    Ok((StatusCode::CREATED, Json(case_json(&case))).into_response())
}

async fn link_to_case(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<LinkBody>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(case_json(&state.app.link_to_case(&caller, &id, &body.report_ids).await?)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TriageBody {
    status: String,
}

async fn triage(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<ReportId>,
    ApiJson(body): ApiJson<TriageBody>,
) -> Result<Json<Value>, ApiError> {
    state.app.triage_report(&caller, &id, &body.status).await?;
    Ok(Json(state.app.report(&caller, &id).await?.report.to_json()))
}
