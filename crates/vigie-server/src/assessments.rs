//! Assessments over HTTP: the methodology, assessments of a site and their answers, photos,
//! status changes, scores with explanations, what-if, the action plan and the dashboard. The
//! rules and the audit live in `vigie_app::assessments`.
use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use vigie_app::assessments::{ActionDraft, AnswerDraft, MAX_PHOTO_BYTES, NewAssessmentRequest, lang_of, methodology};
use vigie_domain::assessment::GpsPoint;
use vigie_domain::{ActionId, AssessmentId, Code, DomainError, Failure, PhotoId, SiteId};
use vigie_store::{Action, Assessment, StoredAnswer};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};

pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/api/v1/methodology"),
    ("get", "/api/v1/sites/{id}/assessments"),
    ("post", "/api/v1/sites/{id}/assessments"),
    ("get", "/api/v1/assessments/{id}"),
    ("post", "/api/v1/assessments/{id}/answers"),
    ("put", "/api/v1/assessments/{id}/answers/{question}"),
    ("post", "/api/v1/assessments/{id}/photos"),
    ("get", "/api/v1/photos/{id}"),
    ("post", "/api/v1/assessments/{id}/transition"),
    ("get", "/api/v1/assessments/{id}/score"),
    ("post", "/api/v1/assessments/{id}/what-if"),
    ("get", "/api/v1/assessments/{id}/actions"),
    ("post", "/api/v1/assessments/{id}/actions"),
    ("put", "/api/v1/actions/{id}"),
    ("get", "/api/v1/dashboard"),
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/methodology", get(methodology_view))
        .route("/api/v1/sites/{id}/assessments", get(site_assessments).post(create_assessment))
        .route("/api/v1/assessments/{id}", get(get_assessment))
        .route("/api/v1/assessments/{id}/answers", post(put_answers))
        .route("/api/v1/assessments/{id}/answers/{question}", put(put_answer))
        .route(
            "/api/v1/assessments/{id}/photos",
            post(add_photo).layer(axum::extract::DefaultBodyLimit::max(MAX_PHOTO_BYTES)),
        )
        .route("/api/v1/photos/{id}", get(get_photo))
        .route("/api/v1/assessments/{id}/transition", post(transition))
        .route("/api/v1/assessments/{id}/score", get(score))
        .route("/api/v1/assessments/{id}/what-if", post(what_if))
        .route("/api/v1/assessments/{id}/actions", get(action_plan).post(create_action))
        .route("/api/v1/actions/{id}", put(update_action))
        .route("/api/v1/dashboard", get(dashboard))
}

fn internal<E>(_: E) -> ApiError {
    ApiError(Failure::internal())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LangParam {
    pub(crate) lang: Option<String>,
}

async fn methodology_view(Caller(_): Caller, ApiQuery(params): ApiQuery<LangParam>) -> Result<Json<Value>, ApiError> {
    let lang = lang_of(params.lang.as_deref())?;
    Ok(Json(serde_json::to_value(methodology()?.view(lang)).map_err(internal)?))
}

fn assessment_json(assessment: &Assessment, answers: Option<&BTreeMap<String, StoredAnswer>>) -> Value {
    let mut value = serde_json::to_value(assessment).unwrap_or(Value::Null);
    if let Some(answers) = answers {
        value["answers"] = serde_json::to_value(answers).unwrap_or(Value::Null);
    }
    value
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    /// National threat level, 1 (low) … 5 (critical).
    threat_level: u8,
    /// People on site at peak; the site's own figure when absent.
    #[serde(default)]
    occupancy: Option<u32>,
    /// 1 (local) … 5 (national or world icon).
    #[serde(default)]
    visibility: Option<u8>,
}

async fn create_assessment(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(site_id): Path<SiteId>,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<Response, ApiError> {
    let request = NewAssessmentRequest {
        threat_level: body.threat_level,
        occupancy: body.occupancy,
        visibility: body.visibility,
    };
    let assessment = state.app.start_assessment(&caller, &site_id, request).await?;
    let location = format!("/api/v1/assessments/{}", assessment.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(assessment_json(&assessment, Some(&BTreeMap::new()))),
    )
        .into_response())
}

async fn site_assessments(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(site_id): Path<SiteId>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "items": state.app.site_assessments(&caller, &site_id).await? })))
}

async fn get_assessment(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<AssessmentId>,
) -> Result<Json<Value>, ApiError> {
    let record = state.app.assessment(&caller, &id).await?;
    let mut value = assessment_json(&record.assessment, Some(&record.answers));
    value["photos"] = serde_json::to_value(&record.photos).map_err(internal)?;
    Ok(Json(value))
}

/// One answer as a client sends it. `base_version`: the version of this answer the client last
/// saw (0 for none); when the stored one differs, the write is refused as a conflict.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerBody {
    answer: String,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    observed_at_ms: Option<i64>,
    #[serde(default)]
    gps: Option<GpsPoint>,
    #[serde(default)]
    base_version: Option<i64>,
}

impl AnswerBody {
    fn into_draft(self, question_id: String) -> AnswerDraft {
        AnswerDraft {
            question_id,
            answer: self.answer,
            note: self.note,
            observed_at_ms: self.observed_at_ms,
            gps: self.gps,
            base_version: self.base_version,
        }
    }
}

async fn put_answer(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((id, question)): Path<(AssessmentId, String)>,
    ApiJson(body): ApiJson<AnswerBody>,
) -> Result<Json<StoredAnswer>, ApiError> {
    let mut stored = state.app.write_answers(&caller, &id, vec![body.into_draft(question)]).await?;
    stored.pop().map(Json).ok_or_else(|| ApiError(Failure::internal()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkBody {
    answers: BTreeMap<String, AnswerBody>,
}

async fn put_answers(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<AssessmentId>,
    ApiJson(body): ApiJson<BulkBody>,
) -> Result<Json<Value>, ApiError> {
    if body.answers.is_empty() {
        return Err(DomainError::validation("answers", "give at least one answer").into());
    }
    let drafts = body.answers.into_iter().map(|(q, a)| a.into_draft(q)).collect();
    let stored = state.app.write_answers(&caller, &id, drafts).await?;
    Ok(Json(json!({ "answers": stored })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PhotoParams {
    question: String,
    #[serde(default)]
    keep_location: Option<bool>,
}

async fn add_photo(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<AssessmentId>,
    ApiQuery(params): ApiQuery<PhotoParams>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|_| {
        ApiError::new(Code::PayloadTooLarge, format!("a photo may be at most {} MB", MAX_PHOTO_BYTES / (1024 * 1024)))
    })?;
    let keep = params.keep_location.unwrap_or(false);
    let stored = state.app.add_photo(&caller, &id, params.question, keep, body.to_vec()).await?;
    let mut value = serde_json::to_value(&stored.photo).map_err(internal)?;
    value["location_removed"] = json!(stored.location_removed);
    Ok((StatusCode::CREATED, Json(value)).into_response())
}

async fn get_photo(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<PhotoId>,
) -> Result<Response, ApiError> {
    let (photo, bytes) = state.app.photo(&caller, &id).await?;
    Ok(image(photo.content_type, bytes))
}

/// A stored photo as an answer: its type, kept by the browser for its user only, never sniffed.
pub(crate) fn image(content_type: String, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "private, max-age=3600".to_owned()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        ],
        bytes,
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TransitionBody {
    to: String,
    /// Why an assessment with unanswered questions is validated as it is.
    reason: Option<String>,
}

async fn transition(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<AssessmentId>,
    ApiJson(body): ApiJson<TransitionBody>,
) -> Result<Json<Value>, ApiError> {
    let moved = state.app.transition_assessment(&caller, &id, &body.to, body.reason.as_deref()).await?;
    Ok(Json(assessment_json(&moved, None)))
}

async fn score(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<AssessmentId>,
    ApiQuery(params): ApiQuery<LangParam>,
) -> Result<Json<Value>, ApiError> {
    let lang = lang_of(params.lang.as_deref())?;
    Ok(Json(state.app.score(&caller, &id, lang).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WhatIfBody {
    measures: Vec<String>,
    #[serde(default)]
    lang: Option<String>,
}

async fn what_if(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<AssessmentId>,
    ApiJson(body): ApiJson<WhatIfBody>,
) -> Result<Json<Value>, ApiError> {
    let lang = lang_of(body.lang.as_deref())?;
    Ok(Json(state.app.what_if(&caller, &id, &body.measures, lang).await?))
}

/// The body of an action (create and update). `version`: the one last read (updates only).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionBody {
    title: String,
    #[serde(default)]
    owner: Option<String>,
    /// A user of the assessment's organisation.
    #[serde(default)]
    owner_user_id: Option<String>,
    #[serde(default)]
    due_date: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    evidence: Option<String>,
    #[serde(default)]
    question_id: Option<String>,
    #[serde(default)]
    scenario_id: Option<String>,
    #[serde(default)]
    measure_id: Option<String>,
    #[serde(default)]
    version: Option<i64>,
}

impl From<ActionBody> for ActionDraft {
    fn from(body: ActionBody) -> Self {
        ActionDraft {
            title: body.title,
            owner: body.owner,
            owner_user_id: body.owner_user_id,
            due_date: body.due_date,
            status: body.status,
            evidence: body.evidence,
            question_id: body.question_id,
            scenario_id: body.scenario_id,
            measure_id: body.measure_id,
            version: body.version,
        }
    }
}

async fn action_plan(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<AssessmentId>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(state.app.action_plan(&caller, &id).await?))
}

async fn create_action(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<AssessmentId>,
    ApiJson(body): ApiJson<ActionBody>,
) -> Result<Response, ApiError> {
    let action = state.app.create_action(&caller, &id, body.into()).await?;
    Ok((StatusCode::CREATED, Json(action)).into_response())
}

async fn update_action(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<ActionId>,
    ApiJson(body): ApiJson<ActionBody>,
) -> Result<Json<Action>, ApiError> {
    Ok(Json(state.app.update_action(&caller, &id, body.into()).await?))
}

async fn dashboard(State(state): State<AppState>, Caller(caller): Caller) -> Result<Json<Value>, ApiError> {
    Ok(Json(state.app.dashboard(&caller).await?))
}
