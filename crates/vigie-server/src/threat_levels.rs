//! Threat levels over HTTP: an authority sets one; anyone reads the decisions that apply to
//! them and the checklist progress of the sites they may read. The rules, the checklist and the
//! audit live in `vigie_app::threat_levels`.
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use vigie_app::assessments::lang_of;
use vigie_domain::threat_level::{ThreatLevel, ThreatLevelRequest};

use crate::AppState;
use crate::assessments::LangParam;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};

pub const ROUTES: &[(&str, &str)] = &[("get", "/api/v1/threat-levels"), ("post", "/api/v1/threat-levels")];

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/threat-levels", get(list).post(set))
}

/// `?lang=fr` writes the checklist actions' titles in French.
async fn set(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(params): ApiQuery<LangParam>,
    ApiJson(body): ApiJson<ThreatLevelRequest>,
) -> Result<Response, ApiError> {
    let lang = lang_of(params.lang.as_deref())?;
    let draft = body.into_draft(state.app.now_ms())?;
    let change = state.app.set_threat_level(&caller, draft, lang).await?;
    Ok((StatusCode::CREATED, Json(change.to_json())).into_response())
}

async fn list(State(state): State<AppState>, Caller(caller): Caller) -> Result<Json<Value>, ApiError> {
    let view = state.app.threat_levels(&caller).await?;
    let items: Vec<Value> = view.levels.iter().map(ThreatLevel::to_json).collect();
    Ok(Json(json!({"items": items, "sites": view.sites})))
}
